// The workflow's rule table as the UI reads it: which acts a row's status
// allows a role. rules.json is generated from package workflow (go
// generate ./workflow), so a button is offered exactly where the act
// would be accepted.
import rules from './rules.json';
import type { Role } from './types';

/** Transition is one act's row of the rule table. */
export interface Transition {
  act: string;
  roles: Role[];
  /** table is the table whose status counts. */
  table: string;
  /** from lists the statuses the act applies in (empty: it creates its row). */
  from: string[];
  /** waits lists the earlier statuses in which the act waits for its predecessor. */
  waits: string[];
  /** to is the status the act leaves the row in ('' when it moves none). */
  to: string;
}

export const transitions = rules.transitions as Transition[];

/** nextActs lists, in the table's order, the acts role may perform on a row of table in status. */
export function nextActs(table: string, status: string, role: Role): string[] {
  return transitions.filter((t) => t.table === table && t.from.includes(status) && t.roles.includes(role)).map((t) => t.act);
}

/** ActInfo is one act of the rule table: who may do it, on which table, whether it creates its row. */
export interface ActInfo {
  act: string;
  roles: Role[];
  table: string;
  creates: boolean;
  /** online: done from the admin dashboard only, never on a workstation. */
  online: boolean;
}

export const acts = rules.acts as ActInfo[];

/**
 * rowActs lists, in the table's order, the acts role may perform on an
 * existing row of table whose status does not count (a document): acts
 * that create no row and that no transition names.
 */
export function rowActs(table: string, role: Role): string[] {
  return acts.filter((a) => a.table === table && !a.creates && !a.online && a.roles.includes(role)
    && !transitions.some((t) => t.act === a.act)).map((a) => a.act);
}
