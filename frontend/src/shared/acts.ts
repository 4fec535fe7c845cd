// Acts as both UIs name them (the desktop's Waiting and Rejected lists,
// the dashboard's acts on hold, rejected acts and audit log): the act in
// words, and the patient and visit it concerns instead of row ids.
import { fmtDateTime, fmtDateUTC, fmtMoney, t, type MessageKey } from './i18n';
import rules from '../desktop/rules.json';

/** The patient and visit an act concerns (workflow.ActSubject, as the engine and the server send it). */
export interface ActSubject {
  patientId?: string;
  firstName?: string;
  lastName?: string;
  birthDate?: string;
  visitId?: string;
  visitDate?: string;
  visitMotif?: string;
  prescriptionText?: string;
  billingAmount?: string;
}

/**
 * actKeys are the acts that have words (act.* and done.*): every act of the
 * rule table (rules.json, generated from package workflow) but the online
 * merge, and the bookkeeping rejected.close.
 */
export const actKeys = [...rules.acts.filter((a) => !a.online).map((a) => a.act), 'rejected.close'];

/** actLabel names an act as a thing to do ("Record vitals"). */
export function actLabel(name: string): string {
  return actKeys.includes(name) ? t(`act.${name}` as MessageKey) : name;
}

/** actDone names an act as a thing done ("Vitals recorded"), for lists of acts. */
export function actDone(name: string): string {
  return actKeys.includes(name) ? t(`done.${name}` as MessageKey) : name;
}

/** isIdPath tells the arguments that are row ids: shown under "Details", not as typed values. */
export function isIdPath(path: string): boolean {
  return path === 'id' || /Id$/.test(path);
}

/** patientName is "LASTNAME First". */
export function patientName(first: string, last: string): string {
  return `${last.toUpperCase()} ${first}`.trim();
}

/**
 * subjectLine names the patient and visit an act concerns: "DUPONT Amélie
 * (born 03/02/1980) — visit 07/12/2026 14:00, Suivi"; '' when unknown.
 */
export function subjectLine(s: ActSubject | null | undefined): string {
  if (!s) return '';
  const parts: string[] = [];
  if (s.lastName || s.firstName) {
    const who = patientName(s.firstName ?? '', s.lastName ?? '');
    parts.push(s.birthDate ? t('subject.born', { name: who, date: fmtDateUTC(s.birthDate) }) : who);
  } else if (s.patientId) parts.push(t('subject.unknownPatient'));
  const rest: string[] = [];
  if (s.visitDate || s.visitMotif) {
    rest.push(t('subject.visit', { when: fmtDateTime(s.visitDate ?? null), motif: s.visitMotif ?? '' }).replace(/,\s*$/, ''));
  }
  if (s.prescriptionText) rest.push(t('subject.prescription', { text: s.prescriptionText }));
  if (s.billingAmount) rest.push(t('subject.bill', { amount: fmtMoney(s.billingAmount) }));
  if (rest.length) parts.push(rest.join('; '));
  return parts.join(' — ');
}


const uuid = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi;

/**
 * plainMessage puts a refusal's sentence in words a ward reads: the row ids
 * the engine names ("Appointment 503e2514-… is CANCELLED") become the visit
 * or the patient they are ("Appointment of 07/12/2026 14:15 is
 * CANCELLED"); an id the subject does not name is left out. The sentence
 * as written, ids included, stays under Details.
 */
export function plainMessage(message: string, s: ActSubject | null | undefined): string {
  const out = message.replace(uuid, (id) => {
    if (s?.visitId && id === s.visitId && s.visitDate) return t('subject.visitRef', { when: fmtDateTime(s.visitDate) });
    if (s?.patientId && id === s.patientId && (s.lastName || s.firstName)) return patientName(s.firstName ?? '', s.lastName ?? '');
    return '';
  });
  return out === message ? message : out.replace(/\s*\(\s*\)/g, '').replace(/ {2,}/g, ' ').replace(/ ([,.;:)])/g, '$1').replace(/\( /g, '(');
}
