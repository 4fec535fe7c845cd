// The clinical JSON columns as clinicians see them (docs/clinical-data.md):
// a medical history is three lists (allergies, conditions, current
// medications); a result's measured values are rows of test / value /
// unit / reference range with an abnormal flag. Pure functions, tested by
// Vitest; the engine and the server check the same shape again (package
// workflow, CheckMedicalHistory and CheckLabValues).
import { t } from '../shared/i18n';
import type { LabRow, MedicalHistory } from './types';

export const historyLists = ['allergies', 'conditions', 'medications'] as const;
export type HistoryList = (typeof historyLists)[number];

export interface History {
  allergies: string[];
  conditions: string[];
  medications: string[];
  /** keys written before the shape existed, kept as they are */
  other: Record<string, unknown>;
}

const texts = (v: unknown): string[] => (Array.isArray(v) ? v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))) : []);

/** parseHistory reads patients.medicalHistory, whatever its age. */
export function parseHistory(v: unknown): History {
  const h: History = { allergies: [], conditions: [], medications: [], other: {} };
  if (Array.isArray(v)) {
    // The seed allows a bare list: kept as conditions.
    h.conditions = texts(v);
    return h;
  }
  if (!v || typeof v !== 'object') return h;
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if ((historyLists as readonly string[]).includes(k) && Array.isArray(x)) h[k as HistoryList] = texts(x);
    else h.other[k] = x;
  }
  return h;
}

/** historyValue is what is stored: the three lists (blank lines dropped) and the older keys. */
export function historyValue(h: History): MedicalHistory & Record<string, unknown> {
  const out: Record<string, unknown> = { ...h.other };
  for (const k of historyLists) {
    const items = h[k].map((s) => s.trim()).filter((s) => s !== '');
    if (items.length) out[k] = items;
  }
  return out;
}

export const MaxHistoryItemChars = 200;

/** checkHistoryItem vets one line of a list as workflow does ('' when fine). */
export function checkHistoryItem(text: string): string {
  const n = [...text.trim()].length;
  return n > MaxHistoryItemChars ? t('history.itemTooLong', { max: MaxHistoryItemChars, n }) : '';
}

export interface Lab {
  rows: LabRow[];
  /** the values were stored in an older free form (name: value), shown as rows */
  legacy: boolean;
}

/** labRows reads results.data as rows, an older free-form object included. */
export function labRows(v: unknown): Lab {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return { rows: [], legacy: false };
  const o = v as Record<string, unknown>;
  if (Array.isArray(o.rows)) {
    const rows = o.rows
      .filter((r): r is Record<string, unknown> => !!r && typeof r === 'object')
      .map((r) => ({
        test: String(r.test ?? ''),
        value: String(r.value ?? ''),
        unit: r.unit === undefined ? '' : String(r.unit),
        range: r.range === undefined ? '' : String(r.range),
        abnormal: r.abnormal === true,
      }));
    return { rows, legacy: false };
  }
  return {
    rows: Object.entries(o).map(([k, x]) => ({ test: k, value: typeof x === 'string' ? x : JSON.stringify(x), unit: '', range: '', abnormal: false })),
    legacy: true,
  };
}

/** labAbnormal tells whether any row is flagged abnormal. */
export function labAbnormal(v: unknown): boolean {
  return labRows(v).rows.some((r) => r.abnormal);
}

export interface LabRowProblem {
  row: number;
  field: 'test' | 'value';
  message: string;
}

const blank = (r: LabRow) => !r.test.trim() && !r.value.trim() && !(r.unit ?? '').trim() && !(r.range ?? '').trim();

/**
 * checkLabRows vets the rows as typed: a row begun needs its test name and
 * its value; empty rows are ignored. It returns the first problem, or none.
 */
export function checkLabRows(rows: LabRow[]): LabRowProblem | undefined {
  for (const [i, r] of rows.entries()) {
    if (blank(r)) continue;
    if (!r.test.trim()) return { row: i, field: 'test', message: t('lab.testRequired', { n: i + 1 }) };
    if (!r.value.trim()) return { row: i, field: 'value', message: t('lab.valueRequired', { n: i + 1, test: r.test.trim() }) };
  }
  return undefined;
}

/** labValue is what result.create sends as data ('' when no row was filled). */
export function labValue(rows: LabRow[]): string {
  const kept = rows.filter((r) => !blank(r)).map((r) => {
    const o: LabRow = { test: r.test.trim(), value: r.value.trim() };
    if (r.unit?.trim()) o.unit = r.unit.trim();
    if (r.range?.trim()) o.range = r.range.trim();
    if (r.abnormal) o.abnormal = true;
    return o;
  });
  return kept.length ? JSON.stringify({ rows: kept }) : '';
}
