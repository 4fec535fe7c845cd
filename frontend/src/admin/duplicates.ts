import { t, type MessageKey } from '../shared/i18n';
// Pure logic of the "Possible duplicates" view: how a pair's reason reads,
// and which record the view proposes to keep. Kept apart from the DOM so
// that vitest checks it.

export interface DupPatient {
  id: string;
  firstName: string;
  lastName: string;
  birthDate: string;
  idNumber: string | null;
  phone: string;
  createdAt: string;
  appointments: number;
  registeredOn: string;
}

export interface DupPair {
  a: DupPatient;
  b: DupPatient;
  reason: string;
  detectedAt: string;
}

const REASONS: Record<string, MessageKey> = {
  name_birth_date: 'dup.reason.nameBirthDate',
  id_number: 'dup.reason.idNumber',
};

/** reasonText: "name_birth_date+id_number" → "same name and birth date, same identity document number". */
export function reasonText(reason: string): string {
  return reason
    .split('+')
    .filter((r) => r !== '')
    .map((r) => (REASONS[r] ? t(REASONS[r]) : r))
    .join(', ');
}

/**
 * proposedSurvivor: the record to keep by default — the one with more
 * appointments (fewer rows move), then the older registration, then the
 * smaller id so the choice is stable. The administrator may choose the
 * other one; nothing is merged without a click.
 */
export function proposedSurvivor(p: DupPair): DupPatient {
  const [a, b] = [p.a, p.b];
  if (a.appointments !== b.appointments) return a.appointments > b.appointments ? a : b;
  const ta = Date.parse(a.createdAt);
  const tb = Date.parse(b.createdAt);
  if (ta !== tb) return ta < tb ? a : b;
  return a.id < b.id ? a : b;
}

/** other returns the pair's patient that is not x. */
export function other(p: DupPair, x: DupPatient): DupPatient {
  return x.id === p.a.id ? p.b : p.a;
}

/** tabLabel: "Possible duplicates (3)", without a count when there is none. */
export function tabLabel(open: number): string {
  return open > 0 ? t('dup.tabCount', { n: open }) : t('dup.tab');
}
