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
