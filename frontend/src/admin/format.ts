import type { AuditEntry, SyncStatus } from './types';
import { fmtDate, t } from '../shared/i18n';
// Formatting shared by the views. Pure functions.

/** label turns CONSULTATION_COMPLETED into "Consultation completed". */
export function label(status: string): string {
  const s = status.toLowerCase().replace(/_/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** clock renders a time as HH:MM:SS, with the date when it is not on now's day (local time). */
export function clock(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const t = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  const n = new Date(now);
  if (d.getFullYear() === n.getFullYear() && d.getMonth() === n.getMonth() && d.getDate() === n.getDate()) return t;
  // Another day: its date as the dashboard's locale writes it (dd/mm/yyyy).
  return `${fmtDate(d)} ${t}`;
}

export interface TypedValue {
  path: string;
  type: 'string' | 'number' | 'boolean' | 'null' | 'empty object' | 'empty list';
  text: string;
  /** the rejection names this value's field */
  flagged: boolean;
}

/**
 * typedValues flattens what a user typed (a mutation's args) into rows of
 * path, JSON type and value, so that a rejected act shows exactly what was
 * entered: "51.5" the number is not "51.5" the string. Rows whose path is
 * the rejection's field (or inside it) are flagged.
 */
export function typedValues(args: unknown, field = ''): TypedValue[] {
  const out: TypedValue[] = [];
  const flag = (path: string) =>
    field !== '' && (path === field || path.startsWith(field + '.') || path.startsWith(field + '[') || path.endsWith('.' + field));
  const walk = (v: unknown, path: string) => {
    if (v === null || v === undefined) {
      out.push({ path, type: 'null', text: 'null', flagged: flag(path) });
    } else if (Array.isArray(v)) {
      if (v.length === 0) out.push({ path, type: 'empty list', text: '[]', flagged: flag(path) });
      v.forEach((x, i) => walk(x, `${path}[${i}]`));
    } else if (typeof v === 'object') {
      const keys = Object.keys(v as object);
      if (keys.length === 0) out.push({ path, type: 'empty object', text: '{}', flagged: flag(path) });
      for (const k of keys) walk((v as Record<string, unknown>)[k], path ? `${path}.${k}` : k);
    } else if (typeof v === 'string') {
      out.push({ path, type: 'string', text: JSON.stringify(v), flagged: flag(path) });
    } else if (typeof v === 'number') {
      out.push({ path, type: 'number', text: String(v), flagged: flag(path) });
    } else if (typeof v === 'boolean') {
      out.push({ path, type: 'boolean', text: String(v), flagged: flag(path) });
    } else {
      out.push({ path, type: 'string', text: String(v), flagged: flag(path) });
    }
  };
  walk(args, '');
  for (const r of out) if (r.path === '') r.path = '(arguments)';
  return out;
}

/** shortId shows the start of a UUID. */
export function shortId(id: string): string {
  return id.length > 8 ? id.slice(0, 8) : id;
}

/** resolutionLine says how a rejected act was resolved, naming the other end of a re-issue. */
export function resolutionLine(e: Pick<AuditEntry, 'resolution' | 'deviceName' | 'deviceId'>, now: number): string {
  const r = e.resolution;
  if (!r) return t('res.unresolved');
  const who = r.by || t('review.someone');
  if (r.kind === 'reissued') return t('res.reissued', { seq: r.bySeq ?? '?', device: e.deviceName || e.deviceId, by: who, when: clock(r.at, now) });
  if (r.bySeq) return t('res.closedHere', { by: who, seq: r.bySeq, when: clock(r.at, now), note: r.note ?? '' });
  return t('res.closedDashboard', { by: who, when: clock(r.at, now), note: r.note ?? '' });
}

/** reissueLine names the rejected act a re-issue replaces ('' for other acts). */
export function reissueLine(e: Pick<AuditEntry, 'reissueOf'>): string {
  if (!e.reissueOf) return '';
  return e.reissueOf.seq ? t('res.reissues', { seq: e.reissueOf.seq }) : t('res.reissuesUnknown', { id: shortId(e.reissueOf.mutationId) });
}

/** closeNoteProblem vets the written reason of a close as the server does: '' when it may be sent. */
export function closeNoteProblem(note: string): string {
  const n = [...note.trim()].length;
  if (n === 0) return t('close.reasonRequired');
  if (n > 2000) return t('close.reasonTooLong', { n: n.toLocaleString('en-US') });
  return '';
}

/** unresolvedByWard lists the workstations (wards) with unresolved rejected acts, most first. */
export function unresolvedByWard(devices: { id: string; name: string; mutations: { unresolvedRejected: number } }[]): { id: string; name: string; n: number }[] {
  return devices
    .filter((d) => d.mutations.unresolvedRejected > 0)
    .map((d) => ({ id: d.id, name: d.name, n: d.mutations.unresolvedRejected }))
    .sort((a, b) => b.n - a.n || a.name.localeCompare(b.name));
}

export interface ChainCell {
  /** what the cell says: the hash prefix, or why there is none */
  text: string;
  /** the status badge */
  badge: string;
  cls: 'ok' | 'red' | 'muted';
  /** the full link, for the tooltip */
  title: string;
}

/**
 * chainCell presents an act's link in its workstation's chain: a short hash
 * prefix (enough to compare two rows by eye), whether the link held at push,
 * and the full hashes for the tooltip.
 */
export function chainCell(c: { status: string; prevHash?: string; hash?: string } | undefined): ChainCell {
  const prefix = c?.hash ? c.hash.slice(0, 10) : '';
  const title = c?.hash ? t('chain.title', { hash: c.hash, prev: c.prevHash ?? '' }) : '';
  switch (c?.status) {
    case 'ok':
      return { text: prefix, badge: t('chain.ok'), cls: 'ok', title };
    case 'broken-content':
      return { text: prefix, badge: t('chain.content'), cls: 'red', title };
    case 'broken-link':
      return { text: prefix, badge: t('chain.link'), cls: 'red', title };
    default:
      return { text: '', badge: t('chain.none'), cls: 'muted', title: '' };
  }
}

/** buildLine is the footer: the server's release and commit, and the release it requires of workstations. */
export function buildLine(st: SyncStatus): string {
  const i = st.instance;
  if (!i.version) return '';
  const min = i.minWorkstationVersion ? t('build.needs', { version: i.minWorkstationVersion }) : '';
  return t('build.server', { version: i.version, commit: i.commit || t('build.unknown') }) + min;
}
