// The workstation health rule, the same as the server's (server/http
// Classify): both are tested against status-cases.json. The server sends
// its verdict and its thresholds in the status JSON; the page re-applies
// the rule every second with those thresholds, so that a row turns Late or
// Stalled between two refreshes. Its sentences come from the message
// catalog (the server's, in English, are the en-GB ones).
import { t, type MessageKey } from '../shared/i18n';

export const ONLINE_MS = 60_000;

/** Thresholds: when a workstation turns Late (amber) and Stalled (red), in seconds. */
export interface Thresholds {
  amberUnseenSeconds: number;
  amberPendingSeconds: number;
  redSeconds: number;
}

/** DEFAULT_THRESHOLDS are the server's defaults (its flags may change them). */
export const DEFAULT_THRESHOLDS: Thresholds = { amberUnseenSeconds: 300, amberPendingSeconds: 900, redSeconds: 3600 };

export type HealthClass = 'ok' | 'offline' | 'amber' | 'red' | 'new' | 'revoked';

export interface HealthInput {
  revoked: boolean;
  connected: boolean;
  lastSeen: string | null;
  /** its last socket ended then, and none was welcomed since */
  disconnectedAt?: string | null;
  pending: number;
  oldestPendingAt: string | null;
  /** its latest socket opened (or was welcomed) then */
  connectedAt?: string | null;
  /** pending and oldestPendingAt were reported then; older than connectedAt: from an earlier link */
  queueReportedAt?: string | null;
}

export interface Health {
  cls: HealthClass;
  reason: string;
  online: boolean;
  /** when an offline workstation was last known connected (ms) */
  offlineSince?: number;
  /** online, but its queue on record came over an earlier link */
  checking?: boolean;
}

/** Clock reads a time's parts in one zone: the browser's, or UTC in tests. */
export type Clock = (ms: number) => { y: number; mo: number; d: number; h: number; mi: number };
export const localClock: Clock = (ms) => {
  const at = new Date(ms);
  return { y: at.getFullYear(), mo: at.getMonth(), d: at.getDate(), h: at.getHours(), mi: at.getMinutes() };
};
export const utcClock: Clock = (ms) => {
  const at = new Date(ms);
  return { y: at.getUTCFullYear(), mo: at.getUTCMonth(), d: at.getUTCDate(), h: at.getUTCHours(), mi: at.getUTCMinutes() };
};

/**
 * offlineReason: "Offline since 03:19 — unsent work unknown (last reported:
 * 2 waiting)"; another day than now's adds the date ("26 Feb 03:19"), as
 * the server's OfflineReason.
 */
export function offlineReason(since: number, now: number, pending: number, clock: Clock = localClock): string {
  const s = clock(since);
  const n = clock(now);
  const hm = `${String(s.h).padStart(2, '0')}:${String(s.mi).padStart(2, '0')}`;
  const at = s.y === n.y && s.mo === n.mo && s.d === n.d ? hm : t('health.dayTime', { day: s.d, month: t('health.months').split(' ')[s.mo] ?? '', time: hm });
  return t('health.offlineSince', { time: at, n: pending });
}

/** classify applies the rule at now (ms since the epoch). Thresholds are inclusive. */
export function classify(now: number, i: HealthInput, th: Thresholds = DEFAULT_THRESHOLDS, clock: Clock = localClock): Health {
  if (i.revoked) return { cls: 'revoked', reason: t('health.revoked'), online: false };
  const seen = i.lastSeen ? Date.parse(i.lastSeen) : NaN;
  const dropped = i.disconnectedAt ? Date.parse(i.disconnectedAt) : NaN;
  if (!i.connected && Number.isNaN(seen) && Number.isNaN(dropped)) return { cls: 'new', reason: t('health.never'), online: false };
  const oldest = i.oldestPendingAt ? Date.parse(i.oldestPendingAt) : NaN;
  const waiting = i.pending > 0 && !Number.isNaN(oldest) ? Math.max(now - oldest, 0) : 0;
  const online = i.connected || (Number.isNaN(dropped) && !Number.isNaN(seen) && now - seen <= ONLINE_MS);
  const lateUnseen = th.amberUnseenSeconds * 1000;
  const latePending = th.amberPendingSeconds * 1000;
  const stalled = th.redSeconds * 1000;
  if (!online) {
    const since = Number.isNaN(dropped) ? seen : dropped;
    const off = Math.max(now - since, 0);
    const reason = offlineReason(since, now, i.pending, clock);
    const cls: HealthClass = off >= stalled || waiting >= stalled ? 'red' : off >= lateUnseen || waiting >= latePending ? 'amber' : 'offline';
    return { cls, reason, online, offlineSince: since };
  }
  const cls: HealthClass = waiting >= stalled ? 'red' : waiting >= latePending ? 'amber' : 'ok';
  const checking = checkingReason(i);
  if (checking) return { cls, reason: checking, online, checking: true };
  if (cls !== 'ok') return { cls, reason: t('health.oldestPending', { duration: humanDuration(waiting) }), online };
  return { cls, reason: i.pending > 0 ? t('health.waiting', { n: i.pending }) : t('health.inSync'), online };
}

/**
 * checkingReason: the sentence of an online workstation whose socket opened
 * after its queue was last reported (its hello not read yet), '' otherwise.
 * That queue came over an earlier link: never "in sync" until reported again.
 */
function checkingReason(i: HealthInput): string {
  const opened = i.connectedAt ? Date.parse(i.connectedAt) : NaN;
  if (Number.isNaN(opened)) return '';
  const reported = i.queueReportedAt ? Date.parse(i.queueReportedAt) : NaN;
  if (Number.isNaN(reported)) return t('health.checkingFirst');
  return reported < opened ? t('health.checking', { n: i.pending }) : '';
}

/** humanDuration renders 42 s, 7 min, 3 h 05 min, 2 d 4 h (as the server does). */
export function humanDuration(ms: number): string {
  const s = Math.floor(Math.max(ms, 0) / 1000);
  if (s < 60) return t('dur.s', { n: s });
  const m = Math.floor(s / 60);
  if (m < 60) return t('dur.min', { n: m });
  const h = Math.floor(m / 60);
  if (h < 48) return t('dur.h', { h, min: String(m % 60).padStart(2, '0') });
  return t('dur.d', { d: Math.floor(h / 24), h: h % 24 });
}

/** healthLabel is the badge of a health class ("OK", "Late", …). */
export function healthLabel(cls: HealthClass): string {
  return t(`health.label.${cls}` as MessageKey);
}
