// Pure formatting for the desktop UI: times, the sync bar's words, act
// names, a rejected act's typed values. Tested by Vitest without a browser.
import rules from './rules.json';
import { fmtDate, fmtDateUTC, fmtMoney, fmtNumber, fmtTime, fmtWhen, has, roleName, t, type MessageKey } from '../shared/i18n';
import type { ActProvenance, PendingAct, Problem, Status, VitalsData } from './types';
import { actDone, actLabel, isIdPath, patientName, plainMessage, subjectLine } from '../shared/acts';

export { actDone, actLabel, isIdPath, patientName, subjectLine };

const pad = (n: number) => String(n).padStart(2, '0');

/** hhmm renders an instant as the workstation's local "HH:MM" (24 h). */
export function hhmm(iso: string | Date | undefined | null): string {
  return fmtTime(iso);
}

/** day renders a local date (dd/mm/yyyy); dayUTC one stored at midnight UTC (birth dates). */
export function day(iso: string | null | undefined): string {
  return fmtDate(iso);
}

export function dayUTC(iso: string | null | undefined): string {
  return fmtDateUTC(iso);
}

/** when renders "14:05" for today, "03/01/2026 14:05" otherwise. */
export function when(iso: string | null | undefined, now: Date = new Date()): string {
  return fmtWhen(iso, now);
}

/** money renders an amount with the workstation's currency ("45,00 €"). */
export function money(amount: string | null | undefined): string {
  return fmtMoney(amount);
}

/** SyncView is what the sync bar shows. */
export interface SyncView {
  state: 'online' | 'offline' | 'setup' | 'idle';
  connection: string;
  waiting: string;
  rejected: string;
  asOf: string;
  /** the queue's chain is broken (an act edited or deleted outside the app); '' when whole */
  chain: string;
  progress?: { rows: number; total: number; text: string };
}

/** syncView puts the engine's status into the sync bar's words. */
export function syncView(s: Status): SyncView {
  const v: SyncView = {
    state: s.needsSetup ? 'setup' : s.online ? 'online' : s.waitingForLogin ? 'idle' : 'offline',
    connection: '',
    waiting: '',
    rejected: '',
    asOf: '',
    chain: s.chainError ? t('sync.tampering', { error: s.chainError }) : '',
  };
  if (s.needsSetup) v.connection = t('sync.notSetUp');
  else if (s.online) v.connection = s.syncing ? t('sync.onlineSyncing') : t('sync.online');
  else if (s.upgradeRequired) v.connection = t('sync.upgradeRequired', { reason: s.upgradeRequired });
  else if (s.waitingForLogin) v.connection = t('sync.loginToConnect');
  else v.connection = s.offlineSince ? t('sync.offlineSince', { time: hhmm(s.offlineSince) }) : t('sync.offline');
  v.waiting = s.pending > 0 ? t('sync.waiting', { n: s.pending, time: hhmm(s.oldestPendingAt) }) : t('sync.nothingWaiting');
  if (s.likelyRejected > 0) v.waiting += t('sync.likelyRefused', { n: s.likelyRejected });
  if (s.waiting) v.waiting += t('sync.onHold', { n: s.waiting });
  v.rejected = t('sync.rejected', { n: s.rejected });
  if (v.state === 'offline') v.asOf = s.lastSyncAt ? t('sync.asOf', { time: hhmm(s.lastSyncAt) }) : t('sync.neverSynced');
  if (s.initialSync) {
    const { rows, total } = s.initialSync;
    v.progress = { rows, total, text: total > 0 ? t('sync.receivingOf', { rows, total }) : t('sync.receiving', { rows }) };
  }
  return v;
}

/**
 * retryText is the sync bar's countdown while offline: "Retrying in 3 s"
 * ("Retrying now" when due), from the status's retryAt; nowMs is the
 * engine's clock (the status's now plus the time since it came). "" when
 * online, not set up, or before anyone logged in.
 */
export function retryText(s: Status, nowMs: number): string {
  if (s.online || s.needsSetup || s.waitingForLogin || !s.retryAt) return '';
  const left = Math.ceil((Date.parse(s.retryAt) - nowMs) / 1000);
  if (Number.isNaN(left)) return '';
  return left > 0 ? t('sync.retrying', { n: left }) : t('sync.retryingNow');
}

/** sendNow is the button's word that sends at once, online or off. */
export function sendNow(): string {
  return t('waiting.sendNow');
}

/** pendingState is the State column of the "Waiting to be sent" list. */
export function pendingState(p: PendingAct): string {
  if (p.applied) return t('pending.applied');
  if (p.waitingFor) {
    const w = p.waitingFor.charAt(0).toUpperCase() + p.waitingFor.slice(1);
    return p.parked ? t('pending.parked', { what: w }) : w;
  }
  if (p.likelyRejection) return t('pending.likelyRefused', { message: plainMessage(p.likelyRejection.message, p.subject) });
  return t('pending.waiting');
}

/** actedNote is the note after an act: what was done, and what it waits for. */
export function actedNote(done: string, waitingFor?: string): string {
  return waitingFor ? `${done.replace(/\.$/, '')} — ${waitingFor}.` : done;
}

/** offlineNote is the login screen's note while the server is unreachable. */
export function offlineNote(s: Status): string {
  if (s.online || s.needsSetup || s.waitingForLogin) return '';
  return s.offlineSince ? t('login.offlineSince', { time: hhmm(s.offlineSince) }) : t('login.offline');
}

const reasonCodes = [
  'INVALID_TRANSITION', 'VALIDATION_FAILED', 'FORBIDDEN', 'NOT_FOUND', 'DUPLICATE_ID', 'UNAUTHENTICATED', 'UNKNOWN_MUTATION',
  'PROTOCOL_ERROR', 'CLOCK_SKEW', 'CHAIN_BROKEN',
];

/** reason says in plain words why an act was refused. */
export function reason(p: Problem): string {
  return reasonCodes.includes(p.code) ? t(`reason.${p.code}` as MessageKey) : t('reason.other');
}

export interface TypedValue {
  path: string;
  text: string;
  flagged: boolean;
}

/** typedValues flattens an act's arguments into rows, flagging the refused field. */
export function typedValues(args: unknown, field = ''): TypedValue[] {
  const out: TypedValue[] = [];
  const walk = (v: unknown, path: string) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v as object).length > 0) {
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) walk(x, path ? `${path}.${k}` : k);
      return;
    }
    const flagged = field !== '' && (path === field || path.startsWith(field + '.'));
    out.push({ path: path || '(arguments)', text: typeof v === 'string' ? v : JSON.stringify(v), flagged });
  };
  walk(args, '');
  return out;
}

/** localInput renders a Date for a datetime-local box. */
export function localInput(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

const statusKeys = [
  'SCHEDULED', 'CHECKED_IN', 'IN_CONSULTATION', 'CONSULTATION_COMPLETED', 'COMPLETED', 'CANCELLED', 'CREATED', 'SENT_TO_LAB',
  'SAMPLE_COLLECTED', 'IN_PROGRESS', 'RESULTS_AVAILABLE', 'PENDING', 'PARTIALLY_PAID', 'PAID',
];

/** statusWord names a status in words ("Ready for the doctor"). */
export function statusWord(status: string | null | undefined): string {
  if (!status) return '';
  return statusKeys.includes(status) ? t(`status.${status}` as MessageKey) : status;
}

const argKeys = [
  'id', 'patientId', 'doctorId', 'prescriptionId', 'date', 'motif', 'text', 'data', 'billingAmount', 'billingStatus', 'interpretation',
  'name', 'type', 'url', 'birthDate', 'medicalHistory', 'consentMedicalData', 'consentContact', 'medicalHistoryNotes', 'consultationNotes',
  'firstName', 'lastName', 'sex', 'phone', 'address', 'emergencyContact', 'insurance', 'idNumber',
];

/** fieldLabel names an argument's path in words ("vitals.temperature" is "Temperature (°C)"). */
export function fieldLabel(path: string): string {
  const v = rules.vitals.find((r) => r.field === path);
  if (v) return `${has(`vital.${path}`) ? t(`vital.${path}` as MessageKey) : v.label} (${v.unit})`;
  const k = argKeys.includes(path) ? path : argKeys.includes(path.split('.')[0] ?? '') ? path.split('.')[0]! : '';
  if (k) return t(`arg.${k}` as MessageKey);
  const tx = (rules.texts as Record<string, { label: string }>)[path];
  return tx ? tx.label : path;
}

/** MaxReasonChars mirrors workflow.MaxReasonChars. */
export const MaxReasonChars = 2000;

/**
 * closeReasonProblem vets a close's written reason as workflow.CheckReason
 * does (the engine checks again): '' when it may be sent.
 */
export function closeReasonProblem(reason: string): string {
  if (reason.trim() === '') return t('close.reasonRequired');
  const n = [...reason.trim()].length;
  if (n > MaxReasonChars) return t('close.reasonTooLong', { n: n.toLocaleString('en-US') });
  return '';
}

/** ReviewInfo is the part of a rejected act the review queue adds. */
export interface ReviewInfo {
  state: 'open' | 'closing' | 'reissuing' | 'resolved';
  closedAt?: string;
  closedBy?: string;
  closeReason?: string;
  closeError?: string;
  reissueId?: string;
  resolvedAt?: string;
  resolvedBy?: string;
  resolutionNote?: string;
  reissuedAs?: string;
}

/** reviewLine says in words where a rejected act stands in the review queue. */
export function reviewLine(r: ReviewInfo, now: Date): string {
  const someone = t('review.someone');
  switch (r.state) {
    case 'open':
      return r.closeError ? t('review.openAgain', { error: r.closeError }) : t('review.open');
    case 'closing':
      return t('review.closing', { by: r.closedBy ?? someone, when: when(r.closedAt ?? '', now), reason: r.closeReason ?? '' });
    case 'reissuing':
      return t('review.reissuing');
    case 'resolved':
      if (r.reissuedAs) return t('review.reissued', { as: r.reissuedAs, by: r.resolvedBy || someone, when: when(r.resolvedAt ?? '', now) });
      return t('review.resolved', { by: r.resolvedBy || someone, when: when(r.resolvedAt ?? '', now), note: r.resolutionNote ?? '' });
  }
}

/**
 * provenance says who did an act, when (clinical time at the ward, and sync
 * time at the server), on which workstation, and how far it got:
 * "Checked in — Secrétaire Test (Receptionist), clinical 14:05, received 14:20,
 * on Accueil" for an act the server recorded; "…, clinical 14:05, on this
 * workstation, not yet sent" for one still in this workstation's outbox.
 */
export function provenance(p: ActProvenance, now: Date = new Date()): string {
  const parts = [`${actDone(p.name)} — ${p.authorName} (${roleName(p.authorRole)})`, t('prov.clinical', { when: when(p.occurredAt, now) })];
  if (p.receivedAt) {
    parts.push(t('prov.received', { when: when(p.receivedAt, now) }));
    if (p.deviceName) parts.push(t('prov.on', { device: p.deviceName }));
    if (p.state === 'rejected') parts.push(t('prov.refused'));
    if (p.state === 'deferred') parts.push(t('prov.onHold'));
  } else {
    parts.push(t('prov.here'), p.state === 'applied' ? t('prov.applied') : t('prov.notSent'));
  }
  return parts.join(', ');
}

/**
 * duplicateWarning is reception's non-blocking warning when the replica
 * already holds someone with the same names and birth date ('' when not).
 */
export function duplicateWarning(found: { firstName: string; lastName: string; birthDate: string; phone?: string }[]): string {
  if (found.length === 0) return '';
  const who = found
    .slice(0, 3)
    .map((p) => t('dup.who', { name: patientName(p.firstName, p.lastName), date: dayUTC(p.birthDate) }) + (p.phone ? t('dup.phone', { phone: p.phone }) : ''))
    .join('; ');
  const more = found.length > 3 ? t('dup.more', { n: found.length - 3 }) : '';
  const lead = found.length === 1 ? t('dup.one') : t('dup.many', { n: found.length });
  return t('dup.warning', { lead, who, more });
}

export interface VitalFlag {
  field: string;
  text: string;
}

/**
 * abnormalVitals lists the measures outside their usual range
 * (rules.json's normals, generated from workflow.VitalNormals): a 38.4 °C
 * temperature is flagged in the doctor's queue.
 */
export function abnormalVitals(v: VitalsData | null | undefined): VitalFlag[] {
  if (!v) return [];
  const value = (field: string): number | undefined => {
    const path = field.replace(/^vitals\./, '').split('.');
    let x: unknown = v;
    for (const k of path) x = x && typeof x === 'object' ? (x as Record<string, unknown>)[k] : undefined;
    return typeof x === 'number' ? x : undefined;
  };
  const out: VitalFlag[] = [];
  for (const n of rules.normals) {
    const x = value(n.field);
    if (x === undefined) continue;
    const label = t(`vital.${n.field}` as MessageKey);
    if (n.hasHigh && x > n.high) out.push({ field: n.field, text: t('vital.above', { label, value: fmtNumber(x), unit: n.unit, bound: fmtNumber(n.high) }) });
    else if (n.hasLow && x < n.low) out.push({ field: n.field, text: t('vital.below', { label, value: fmtNumber(x), unit: n.unit, bound: fmtNumber(n.low) }) });
  }
  return out;
}
