// Pure formatting for the desktop UI: times, the sync bar's words, act
// names, a rejected act's typed values. Tested by Vitest without a browser.
import rules from './rules.json';
import type { ActProvenance, PendingAct, Problem, Status } from './types';

const pad = (n: number) => String(n).padStart(2, '0');

/** hhmm renders an instant as the workstation's local "HH:MM". */
export function hhmm(iso: string | Date | undefined | null): string {
  if (!iso) return '';
  const d = typeof iso === 'string' ? new Date(iso) : iso;
  if (Number.isNaN(d.getTime())) return '';
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** day renders a local date ("5 Jan 2026"); dayUTC one stored at midnight UTC (birth dates). */
export function day(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  return `${d.getDate()} ${months[d.getMonth()]} ${d.getFullYear()}`;
}

export function dayUTC(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  return `${d.getUTCDate()} ${months[d.getUTCMonth()]} ${d.getUTCFullYear()}`;
}

/** when renders "14:05" for today, "3 Jan 14:05" otherwise. */
export function when(iso: string | null | undefined, now: Date = new Date()): string {
  if (!iso) return '';
  const d = new Date(iso);
  const sameDay = d.getFullYear() === now.getFullYear() && d.getMonth() === now.getMonth() && d.getDate() === now.getDate();
  return sameDay ? hhmm(d) : `${d.getDate()} ${months[d.getMonth()]} ${hhmm(d)}`;
}

export function plural(n: number, one: string, many = one + 's'): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** age says how long ago, in words ("12 min"). */
export function age(iso: string | undefined, now: Date): string {
  if (!iso) return '';
  const s = Math.max(0, Math.floor((now.getTime() - new Date(iso).getTime()) / 1000));
  if (s < 60) return 'less than a minute';
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  const h = Math.floor(s / 3600);
  return `${h} h ${pad(Math.floor((s % 3600) / 60))}`;
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
    chain: s.chainError ? `Tampering detected: ${s.chainError}` : '',
  };
  if (s.needsSetup) v.connection = 'Not set up';
  else if (s.online) v.connection = s.syncing ? 'Online, syncing' : 'Online';
  else if (s.upgradeRequired) v.connection = `Update needed, acts kept: ${s.upgradeRequired}`;
  else if (s.waitingForLogin) v.connection = 'Not connected: log in to connect';
  else v.connection = s.offlineSince ? `Offline since ${hhmm(s.offlineSince)}` : 'Offline';
  v.waiting = s.pending > 0 ? `${s.pending} waiting (oldest ${hhmm(s.oldestPendingAt)})` : 'Nothing waiting';
  if (s.likelyRejected > 0) v.waiting += `, ${s.likelyRejected} likely to be refused`;
  if (s.waiting) v.waiting += `, ${s.waiting} on hold for another workstation`;
  v.rejected = `${s.rejected} rejected`;
  if (v.state === 'offline') v.asOf = s.lastSyncAt ? `records as of ${hhmm(s.lastSyncAt)}` : 'never synced yet';
  if (s.initialSync) {
    const { rows, total } = s.initialSync;
    v.progress = { rows, total, text: total > 0 ? `Receiving the ward's records: ${rows} of ${total}` : `Receiving the ward's records: ${rows}` };
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
  return left > 0 ? `Retrying in ${left} s` : 'Retrying now';
}

/** SEND_NOW is the button that sends at once, online or off. */
export const SEND_NOW = 'Send now';

/** pendingState is the State column of the "Waiting to be sent" list. */
export function pendingState(p: PendingAct): string {
  if (p.applied) return 'Accepted, updating';
  if (p.waitingFor) {
    const w = p.waitingFor.charAt(0).toUpperCase() + p.waitingFor.slice(1);
    return p.parked ? `${w} (the server holds it and applies it then)` : w;
  }
  if (p.likelyRejection) return `Will likely be refused: ${p.likelyRejection.message}`;
  return 'Waiting';
}

/** actedNote is the note after an act: what was done, and what it waits for. */
export function actedNote(done: string, waitingFor?: string): string {
  return waitingFor ? `${done.replace(/\.$/, '')} — ${waitingFor}.` : done;
}

/** offlineNote is the login screen's note while the server is unreachable. */
export function offlineNote(s: Status): string {
  if (s.online || s.needsSetup || s.waitingForLogin) return '';
  const since = s.offlineSince ? ` since ${hhmm(s.offlineSince)}` : '';
  return `Working offline${since} — your work will be sent when the network returns.`;
}

const actNames: Record<string, string> = {
  'patient.register': 'Register a patient',
  'patient.update': "Update a patient's record",
  'appointment.schedule': 'Schedule an appointment',
  'appointment.checkIn': 'Check in',
  'appointment.recordVitals': 'Record vitals',
  'appointment.completeConsultation': 'Complete the consultation',
  'appointment.close': 'Close and bill',
  'appointment.recordPayment': 'Record a payment',
  'appointment.cancel': 'Cancel an appointment',
  'prescription.create': 'Write a prescription',
  'prescription.sendToLab': 'Send to the lab',
  'prescription.collectSample': 'Collect the sample',
  'prescription.startAnalysis': 'Start the analysis',
  'result.create': 'Enter a result',
  'result.review': 'Review a result',
  'document.attach': 'Attach a document',
  'rejected.close': 'Close a rejected act',
};

export function actLabel(name: string): string {
  return actNames[name] ?? name;
}

const reasons: Record<string, string> = {
  INVALID_TRANSITION: 'The record had already moved on at the server',
  VALIDATION_FAILED: 'A value was not accepted',
  FORBIDDEN: 'Not allowed for this role',
  NOT_FOUND: 'The record does not exist at the server',
  DUPLICATE_ID: 'This was already recorded',
  UNAUTHENTICATED: 'The session was not accepted',
  UNKNOWN_MUTATION: 'The server does not know this act',
  PROTOCOL_ERROR: 'The server could not read this act',
  CLOCK_SKEW: "This workstation's clock is wrong",
  CHAIN_BROKEN: 'The act was changed or removed on this workstation after it was written',
};

/** reason says in plain words why an act was refused. */
export function reason(p: Problem): string {
  return reasons[p.code] ?? 'Refused';
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

/** patientName is "LASTNAME First". */
export function patientName(first: string, last: string): string {
  return `${last.toUpperCase()} ${first}`.trim();
}

/** localInput renders a Date for a datetime-local box. */
export function localInput(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export const statusWords: Record<string, string> = {
  SCHEDULED: 'Scheduled',
  CHECKED_IN: 'Checked in',
  IN_CONSULTATION: 'Ready for the doctor',
  CONSULTATION_COMPLETED: 'Consultation done',
  COMPLETED: 'Closed',
  CANCELLED: 'Cancelled',
  CREATED: 'Written',
  SENT_TO_LAB: 'Sent to the lab',
  SAMPLE_COLLECTED: 'Sample collected',
  IN_PROGRESS: 'Analysis in progress',
  RESULTS_AVAILABLE: 'Result available',
  PENDING: 'Payment pending',
  PARTIALLY_PAID: 'Partially paid',
  PAID: 'Paid',
};

const argLabels: Record<string, string> = {
  id: 'Record',
  patientId: 'Patient',
  doctorId: 'Doctor',
  prescriptionId: 'Prescription',
  date: 'Date',
  motif: 'Reason for the visit',
  text: 'Text',
  data: 'Measured values',
  billingAmount: 'Amount',
  billingStatus: 'Billing',
  interpretation: 'Interpretation',
  name: 'Name',
  type: 'Type',
  url: 'Location',
  birthDate: 'Birth date',
  medicalHistory: 'Medical history',
  consentMedicalData: 'Consent to medical data processing',
  consentContact: 'Consent to be contacted',
};

/** fieldLabel names an argument's path in words ("vitals.temperature" is "Temperature (°C)"). */
export function fieldLabel(path: string): string {
  const v = rules.vitals.find((r) => r.field === path);
  if (v) return `${v.label} (${v.unit})`;
  const t = (rules.texts as Record<string, { label: string }>)[path];
  if (t) return t.label;
  return argLabels[path] ?? argLabels[path.split('.')[0] ?? ''] ?? path;
}

/** MaxReasonChars mirrors workflow.MaxReasonChars. */
export const MaxReasonChars = 2000;

/**
 * closeReasonProblem vets a close's written reason as workflow.CheckReason
 * does (the engine checks again): '' when it may be sent.
 */
export function closeReasonProblem(reason: string): string {
  if (reason.trim() === '') return 'Write why this rejected act needs nothing more: the reason is required and kept in the audit log.';
  const n = [...reason.trim()].length;
  if (n > MaxReasonChars) return `The reason must be at most 2,000 characters long (got ${n.toLocaleString('en-US')}).`;
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
  switch (r.state) {
    case 'open':
      return r.closeError ? `Open again: the server refused the close (${r.closeError})` : 'Open: copy it into a new entry, or close it with a reason';
    case 'closing':
      return `Closed here by ${r.closedBy ?? 'someone'} ${when(r.closedAt ?? '', now)} ("${r.closeReason ?? ''}"), waiting to be sent`;
    case 'reissuing':
      return 'Re-issued here as a new entry, waiting for the server';
    case 'resolved':
      if (r.reissuedAs) return `Resolved: re-issued as ${r.reissuedAs} (by ${r.resolvedBy || 'someone'}, ${when(r.resolvedAt ?? '', now)})`;
      return `Resolved by ${r.resolvedBy || 'someone'} ${when(r.resolvedAt ?? '', now)}: "${r.resolutionNote ?? ''}"`;
  }
}

/**
 * provenance says who did an act, when (clinical time at the ward, and sync
 * time at the server), on which workstation, and how far it got:
 * "Check in — Secrétaire Test (SECRETARY), clinical 14:05, received 14:20,
 * on Accueil" for an act the server recorded; "…, clinical 14:05, on this
 * workstation, not yet sent" for one still in this workstation's outbox.
 */
export function provenance(p: ActProvenance, now: Date = new Date()): string {
  const parts = [`${actLabel(p.name)} — ${p.authorName} (${p.authorRole})`, `clinical ${when(p.occurredAt, now)}`];
  if (p.receivedAt) {
    parts.push(`received ${when(p.receivedAt, now)}`);
    if (p.deviceName) parts.push(`on ${p.deviceName}`);
    if (p.state === 'rejected') parts.push('refused by the server');
    if (p.state === 'deferred') parts.push('on hold at the server');
  } else {
    parts.push('on this workstation', p.state === 'applied' ? 'applied by the server' : 'not yet sent');
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
    .map((p) => `${patientName(p.firstName, p.lastName)}, born ${dayUTC(p.birthDate)}${p.phone ? `, phone ${p.phone}` : ''}`)
    .join('; ');
  const more = found.length > 3 ? ` and ${found.length - 3} more` : '';
  const lead = found.length === 1 ? 'A patient with the same name and birth date exists' : `${found.length} patients with the same name and birth date exist`;
  return `${lead}: ${who}${more}. Search for them before registering the person again; you may still register.`;
}
