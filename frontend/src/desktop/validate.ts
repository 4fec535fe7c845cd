// The forms' checks, run as the user types. They say what the workflow's
// mutators (package workflow, run again by the engine and the server) would
// say, in the same words, so that a nurse reads "Temperature 46 °C is above
// 45 °C." before pressing Enter rather than after. The ranges and limits
// come from rules.json, generated from package workflow (go generate ./workflow);
// validation-cases.json pins the messages on both sides.
import rules from './rules.json';
import type { VitalsArg } from './api';

export interface VitalRule {
  field: string;
  label: string;
  unit: string;
  min: number;
  max: number;
  minExclusive: boolean;
  required: boolean;
}

export interface TextRule {
  label: string;
  min: number;
  max: number;
}

export const vitalRules: VitalRule[] = rules.vitals;
export const textRules: Record<string, TextRule> = rules.texts;

/**
 * say fills one of the workflow's sentences (rules.json's templates, the
 * very ones the mutators fill) with the given placeholders.
 */
export function say(key: keyof typeof rules.sentences, values: Record<string, string>): string {
  return rules.sentences[key].replace(/\{(\w+)\}/g, (m, name: string) => values[name] ?? m);
}

/** FieldError is one refused field: its JSON path and the sentence. */
export interface FieldError {
  field: string;
  message: string;
}

/** thousands writes 10000 as 10,000, as the server's messages do. */
export function thousands(n: number): string {
  return String(Math.trunc(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** decimalText accepts a decimal comma ("37,5") for a decimal point. */
export function decimalText(text: string): string {
  const t = text.trim();
  return t.includes(',') && !t.includes('.') ? t.replace(',', '.') : t;
}

export type Parsed = { kind: 'empty' } | { kind: 'bad'; text: string } | { kind: 'number'; value: number };

/** parseNumber reads a measure as typed. */
export function parseNumber(text: string): Parsed {
  const t = decimalText(text);
  if (t === '') return { kind: 'empty' };
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t)) return { kind: 'bad', text: text.trim() };
  const value = Number(t);
  if (!Number.isFinite(value)) return { kind: 'bad', text: text.trim() };
  return { kind: 'number', value };
}

/** num renders a number the way Go's JSON (and the server's message) does. */
export function num(v: number): string {
  return String(v);
}

const examples: Record<string, string> = {
  'vitals.weight': '72.5',
  'vitals.height': '170',
  'vitals.temperature': '37.2',
  'vitals.bloodPressure.systolic': '120',
  'vitals.bloodPressure.diastolic': '80',
  'vitals.heartRate': '72',
  'vitals.respiratoryRate': '16',
  'vitals.oxygenSaturation': '98',
};

/** checkMeasure returns the message for one measure, or undefined. */
export function checkMeasure(rule: VitalRule, p: Parsed): string | undefined {
  if (p.kind === 'empty') return rule.required ? say('required', { label: rule.label }) : undefined;
  if (p.kind === 'bad') return `${rule.label} must be a number such as ${examples[rule.field] ?? num(rule.min)}, not "${p.text}".`;
  const v = p.value;
  const words = { label: rule.label, value: num(v), unit: rule.unit };
  if (rule.minExclusive && v <= rule.min) return say('aboveExclusiveMin', { ...words, bound: num(rule.min) });
  if (v < rule.min) return say('belowMin', { ...words, bound: num(rule.min) });
  if (v > rule.max) return say('aboveMax', { ...words, bound: num(rule.max) });
  return undefined;
}

/** VitalsInput is the vitals form's boxes, as typed. */
export interface VitalsInput {
  weight: string;
  height: string;
  temperature: string;
  systolic: string;
  diastolic: string;
  heartRate: string;
  respiratoryRate: string;
  oxygenSaturation: string;
}

const boxOf: Record<string, keyof VitalsInput> = {
  'vitals.weight': 'weight',
  'vitals.height': 'height',
  'vitals.temperature': 'temperature',
  'vitals.bloodPressure.systolic': 'systolic',
  'vitals.bloodPressure.diastolic': 'diastolic',
  'vitals.heartRate': 'heartRate',
  'vitals.respiratoryRate': 'respiratoryRate',
  'vitals.oxygenSaturation': 'oxygenSaturation',
};

/** boxName is the form box of a vitals field path. */
export function boxName(field: string): keyof VitalsInput | undefined {
  return boxOf[field];
}

/**
 * checkVitals checks every box, in the order the server reads them (so the
 * first error is the one the server would report), and builds the vitals
 * argument when all is well.
 */
export function checkVitals(input: VitalsInput): { errors: FieldError[]; vitals?: VitalsArg } {
  const errors: FieldError[] = [];
  const values: Record<string, number | undefined> = {};
  for (const rule of vitalRules) {
    const p = parseNumber(input[boxOf[rule.field]!]);
    const msg = checkMeasure(rule, p);
    if (msg) errors.push({ field: rule.field, message: msg });
    else if (p.kind === 'number') values[rule.field] = p.value;
    // Diastolic at or above systolic is the two numbers typed in the wrong boxes.
    if (rule.field === 'vitals.bloodPressure.diastolic') {
      const s = values['vitals.bloodPressure.systolic'];
      const d = values['vitals.bloodPressure.diastolic'];
      if (s !== undefined && d !== undefined && d >= s) {
        errors.push({
          field: 'vitals.bloodPressure.diastolic',
          message: say('diastolicNotBelowSystolic', { value: num(d), bound: num(s) }),
        });
      }
    }
  }
  if (errors.length > 0) return { errors };
  const v = (f: string) => values[f];
  const vitals: VitalsArg = {
    weight: v('vitals.weight'),
    height: v('vitals.height'),
    temperature: v('vitals.temperature'),
    bloodPressure: { systolic: v('vitals.bloodPressure.systolic'), diastolic: v('vitals.bloodPressure.diastolic') },
    heartRate: v('vitals.heartRate'),
  };
  if (v('vitals.respiratoryRate') !== undefined) vitals.respiratoryRate = v('vitals.respiratoryRate');
  if (v('vitals.oxygenSaturation') !== undefined) vitals.oxygenSaturation = v('vitals.oxygenSaturation');
  return { errors, vitals };
}

/** checkText checks a free text against its limits (characters, not bytes). */
export function checkText(key: string, value: string): string | undefined {
  const r = textRules[key];
  if (!r) throw new Error(`no text rule ${key}`);
  const n = [...value].length;
  if (r.min > 0 && value.trim() === '') return say('textEmpty', { label: r.label });
  if (n < r.min) return say('textTooShort', { label: r.label, bound: thousands(r.min), n: thousands(n) });
  if (n > r.max) return say('textTooLong', { label: r.label, bound: thousands(r.max), n: thousands(n) });
  return undefined;
}

function quote(s: string): string {
  const chars = [...s];
  return JSON.stringify(chars.length > 40 ? chars.slice(0, 40).join('') + '…' : s);
}

/**
 * checkAmount checks a billing amount as typed and returns the decimal to
 * send ("120.50"). A decimal comma is accepted.
 */
export function checkAmount(text: string, label = 'Billing amount'): { error?: string; amount?: string } {
  const s = decimalText(text);
  if (s === '') return { error: say('required', { label }) };
  const neg = s.startsWith('-');
  const body = neg ? s.slice(1) : s;
  const dot = body.indexOf('.');
  const intPart = dot < 0 ? body : body.slice(0, dot);
  let frac = dot < 0 ? '' : body.slice(dot + 1);
  const digits = /^\d*$/;
  if (intPart === '' || (dot >= 0 && frac === '') || !digits.test(intPart) || !digits.test(frac)) {
    return { error: `${label} ${quote(s)} is not an amount; write it with a dot and up to 2 decimals, such as "120.50".` };
  }
  if (frac.length > 2) {
    if (frac.slice(2).replace(/0/g, '') !== '') return { error: `${label} ${s} has more than 2 decimals; the smallest unit is one cent (0.01).` };
    frac = frac.slice(0, 2);
  }
  frac = frac.padEnd(2, '0');
  const whole = intPart.replace(/^0+/, '');
  if (whole.length > 8) return { error: neg ? `${label} ${s} is below 0.00.` : `${label} ${s} is above 99,999,999.99.` };
  const cents = Number(whole || '0') * 100 + Number(frac);
  if (neg && cents !== 0) return { error: `${label} ${s} is below 0.00.` };
  return { amount: `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}` };
}

function utcMinute(d: Date): string {
  return d.toISOString().slice(0, 16).replace('T', ' ');
}

/** checkBirthDate checks a date box ("YYYY-MM-DD") against the act's time. */
export function checkBirthDate(text: string, now: Date): string | undefined {
  const t = text.trim();
  if (t === '') return say('required', { label: 'Birth date' });
  if (!/^\d{4}-\d{2}-\d{2}$/.test(t) || Number.isNaN(Date.parse(t + 'T00:00:00Z'))) return `Birth date "${t}" is not a date such as 1980-05-12.`;
  const d = new Date(t + 'T00:00:00Z');
  if (d.getTime() >= now.getTime()) return `Birth date ${t} must be before the time of the act (${utcMinute(now)}).`;
  const oldest = new Date(now.getTime());
  oldest.setUTCFullYear(oldest.getUTCFullYear() - rules.oldestBirthYears);
  if (d.getTime() < oldest.getTime()) return `Birth date ${t} is more than ${rules.oldestBirthYears} years ago.`;
  return undefined;
}

/**
 * checkAppointmentDate checks a datetime-local box ("YYYY-MM-DDTHH:MM",
 * the workstation's time) and returns the instant to send (RFC 3339).
 */
export function checkAppointmentDate(text: string, now: Date): { error?: string; iso?: string } {
  const t = text.trim();
  if (t === '') return { error: say('required', { label: 'Appointment date' }) };
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return { error: `Appointment date "${t}" is not a date and time.` };
  const lo = new Date(now.getTime());
  lo.setUTCFullYear(lo.getUTCFullYear() - rules.scheduleYears);
  const hi = new Date(now.getTime());
  hi.setUTCFullYear(hi.getUTCFullYear() + rules.scheduleYears);
  if (d < lo || d > hi) {
    return {
      error: `Appointment date ${utcMinute(d)} is more than ${rules.scheduleYears} years away from the time of the act (${now.toISOString().slice(0, 10)}).`,
    };
  }
  return { iso: d.toISOString() };
}

/** checkJSON checks JSON typed in a box ("" is allowed: nothing sent). */
export function checkJSON(label: string, text: string, allowList: boolean): string | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch {
    return `${label} is not valid JSON; write an object such as {"hemoglobin": 13.5}.`;
  }
  const kind = Array.isArray(v) ? 'a list' : v === null ? 'null' : typeof v === 'object' ? 'object' : typeof v === 'string' ? 'text' : typeof v === 'boolean' ? 'true/false' : 'a number';
  if (kind === 'object' || (allowList && kind === 'a list')) return undefined;
  return `${label} must be ${allowList ? 'an object or a list' : 'an object'}, not ${kind}.`;
}

/** required is the message of an empty choice. */
export function required(label: string, value: string): string | undefined {
  return value.trim() === '' ? `${label} must be chosen.` : undefined;
}
