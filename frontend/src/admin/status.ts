// The workstation health rule, the same as the server's (server/http
// Classify): both are tested against status-cases.json. The server sends
// its verdict in the status JSON; the page re-applies the rule every second
// so that a row turns amber or red between two refreshes.

export const ONLINE_MS = 60_000;
export const AMBER_UNSEEN_MS = 5 * 60_000;
export const AMBER_PENDING_MS = 15 * 60_000;
export const RED_MS = 60 * 60_000;

export type HealthClass = 'ok' | 'amber' | 'red' | 'new' | 'revoked';

export interface HealthInput {
  revoked: boolean;
  connected: boolean;
  lastSeen: string | null;
  pending: number;
  oldestPendingAt: string | null;
}

export interface Health {
  cls: HealthClass;
  reason: string;
  online: boolean;
}

/** classify applies the rule at now (ms since the epoch). Thresholds are inclusive. */
export function classify(now: number, i: HealthInput): Health {
  if (i.revoked) return { cls: 'revoked', reason: 'revoked', online: false };
  const seen = i.lastSeen ? Date.parse(i.lastSeen) : NaN;
  const unseen = i.connected || Number.isNaN(seen) ? 0 : Math.max(now - seen, 0);
  const online = i.connected || (!Number.isNaN(seen) && unseen <= ONLINE_MS);
  if (!i.connected && Number.isNaN(seen)) return { cls: 'new', reason: 'never connected', online: false };
  const oldest = i.oldestPendingAt ? Date.parse(i.oldestPendingAt) : NaN;
  const waiting = i.pending > 0 && !Number.isNaN(oldest) ? Math.max(now - oldest, 0) : 0;
  const unseenWhy = `not seen for ${humanDuration(unseen)}`;
  const pendingWhy = `oldest pending act waiting ${humanDuration(waiting)}`;
  if (unseen >= RED_MS) return { cls: 'red', reason: unseenWhy, online };
  if (waiting >= RED_MS) return { cls: 'red', reason: pendingWhy, online };
  if (unseen >= AMBER_UNSEEN_MS) return { cls: 'amber', reason: unseenWhy, online };
  if (waiting >= AMBER_PENDING_MS) return { cls: 'amber', reason: pendingWhy, online };
  return { cls: 'ok', reason: i.pending > 0 ? `${i.pending} pending` : 'in sync', online };
}

/** humanDuration renders 42 s, 7 min, 3 h 05 min, 2 d 4 h (as the server does). */
export function humanDuration(ms: number): string {
  const s = Math.floor(Math.max(ms, 0) / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${String(m % 60).padStart(2, '0')} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

export const HEALTH_LABEL: Record<HealthClass, string> = {
  ok: 'OK',
  amber: 'Late',
  red: 'Stalled',
  new: 'Not yet connected',
  revoked: 'Revoked',
};
