// One message catalog for both UIs (the desktop app and the dashboard):
// every sentence a screen shows is a key of en.ts, translated in fr.ts;
// i18n.test.ts fails when a key is missing in either or their {params}
// differ. Dates, times and amounts follow the workstation's locale
// setting (fr-FR by default, en-GB available) and currency (EUR by
// default), kept in the browser's storage of this workstation.
//
// Sentences the engine or the server write (a refusal's message, a
// validation error) arrive already worded and are shown as they come.
import { en, type MessageKey } from './en';
import { fr } from './fr';

export type { MessageKey };
export type Locale = 'fr-FR' | 'en-GB';
export const locales: Locale[] = ['fr-FR', 'en-GB'];
export const currencies = ['EUR', 'GBP', 'CHF', 'XOF', 'USD'];
export const DefaultLocale: Locale = 'fr-FR';
export const DefaultCurrency = 'EUR';

const catalogs: Record<Locale, Record<MessageKey, string>> = { 'en-GB': en, 'fr-FR': fr };

interface Store {
  getItem(k: string): string | null;
  setItem(k: string, v: string): void;
}

function store(): Store | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null;
  }
}

function stored<T extends string>(key: string, allowed: readonly T[], dflt: T): T {
  const v = store()?.getItem(key);
  return v && (allowed as readonly string[]).includes(v) ? (v as T) : dflt;
}

let current: Locale = stored('wardsync.locale', locales, DefaultLocale);
let money: string = stored('wardsync.currency', currencies, DefaultCurrency);

export function locale(): Locale {
  return current;
}

export function currency(): string {
  return money;
}

/** setLocale changes the workstation's locale (kept across restarts). */
export function setLocale(l: Locale): void {
  current = l;
  store()?.setItem('wardsync.locale', l);
}

/** setCurrency changes the workstation's currency (kept across restarts). */
export function setCurrency(c: string): void {
  if (!currencies.includes(c)) return;
  money = c;
  store()?.setItem('wardsync.currency', c);
}

export type Params = Record<string, string | number>;

/** has tells whether the catalog holds key (for keys made from names). */
export function has(key: string): key is MessageKey {
  return key in en;
}

/** t returns the sentence of key in the current locale, {name} replaced by params. */
export function t(key: MessageKey, params?: Params): string {
  const text = catalogs[current][key] ?? en[key] ?? key;
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (m, name: string) => (name in params ? String(params[name]) : m));
}

/**
 * roleName is how a person's role reads on screen ("Nurse" / "Infirmier·ère")
 * from its code (NURSE); the code itself stays what forms send and the API
 * takes. A code this release does not know reads as it came.
 */
export function roleName(role: string): string {
  const key = `role.${role}`;
  return has(key) ? t(key) : role;
}

/** plural picks key.one or key.many by n, with {n} set. */
export function tn(one: MessageKey, many: MessageKey, n: number, params: Params = {}): string {
  return t(n === 1 ? one : many, { ...params, n: num(n) });
}

/** num writes a whole number in the locale ("1 234" / "1,234"). */
export function num(n: number): string {
  return new Intl.NumberFormat(current).format(n);
}

/** fmtNumber writes a measure in the locale ("38,4" / "38.4"). */
export function fmtNumber(n: number): string {
  return new Intl.NumberFormat(current, { maximumFractionDigits: 2, useGrouping: false }).format(n);
}

const asDate = (v: string | Date | null | undefined): Date | null => {
  if (!v) return null;
  const d = typeof v === 'string' ? new Date(v) : v;
  return Number.isNaN(d.getTime()) ? null : d;
};

/** fmtDate: the local day, dd/mm/yyyy in both locales. */
export function fmtDate(v: string | Date | null | undefined): string {
  const d = asDate(v);
  return d ? new Intl.DateTimeFormat(current, { day: '2-digit', month: '2-digit', year: 'numeric' }).format(d) : '';
}

/** fmtDateUTC: a day stored at midnight UTC (a birth date), dd/mm/yyyy. */
export function fmtDateUTC(v: string | Date | null | undefined): string {
  const d = asDate(v);
  return d ? new Intl.DateTimeFormat(current, { day: '2-digit', month: '2-digit', year: 'numeric', timeZone: 'UTC' }).format(d) : '';
}

/** fmtTime: the local time, 24 h ("14:05"). */
export function fmtTime(v: string | Date | null | undefined): string {
  const d = asDate(v);
  return d ? new Intl.DateTimeFormat(current, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(d) : '';
}

/** fmtDateTime: "07/12/2026 14:05". */
export function fmtDateTime(v: string | Date | null | undefined): string {
  const d = asDate(v);
  return d ? `${fmtDate(d)} ${fmtTime(d)}` : '';
}

/** fmtWhen: "14:05" for today, "07/12/2026 14:05" otherwise. */
export function fmtWhen(v: string | Date | null | undefined, now: Date = new Date()): string {
  const d = asDate(v);
  if (!d) return '';
  return d.toDateString() === now.toDateString() ? fmtTime(d) : fmtDateTime(d);
}

/** fmtMoney: an amount as the seed stores it ("45.00") with its currency: "45,00 €" / "€45.00". */
export function fmtMoney(amount: string | number | null | undefined): string {
  if (amount === null || amount === undefined || amount === '') return '';
  const n = typeof amount === 'number' ? amount : Number(amount);
  if (!Number.isFinite(n)) return String(amount);
  return new Intl.NumberFormat(current, { style: 'currency', currency: money }).format(n);
}

/** datePlaceholder is how a date is typed: "jj/mm/aaaa" / "dd/mm/yyyy". */
export function datePlaceholder(): string {
  return t('date.placeholder');
}

/** DatePattern is the HTML pattern of a typed date (dd/mm/yyyy). */
export const DatePattern = '\\d{1,2}[/.\\-]\\d{1,2}[/.\\-]\\d{4}';

/**
 * parseDay reads a date typed as dd/mm/yyyy (or with . or -) and returns
 * it as "yyyy-mm-dd"; the error names what was typed.
 */
export function parseDay(text: string): { iso?: string; error?: string } {
  const s = text.trim();
  if (s === '') return {};
  const m = /^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$/.exec(s);
  if (m) {
    const [d, mo, y] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const date = new Date(Date.UTC(y, mo - 1, d));
    if (date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d) {
      return { iso: `${m[3]}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}` };
    }
  }
  return { error: t('date.invalid', { text: s }) };
}

/** parseTime reads "14:05" (or "14h05", "14.05") and returns "14:05". */
export function parseTime(text: string): { hhmm?: string; error?: string } {
  const s = text.trim();
  const m = /^(\d{1,2})[:hH.](\d{2})$/.exec(s);
  if (m && Number(m[1]) < 24 && Number(m[2]) < 60) return { hhmm: `${m[1]!.padStart(2, '0')}:${m[2]}` };
  return { error: t('time.invalid', { text: s }) };
}

/** dayInput renders a stored day ("1980-02-03…") for a typed date box: "03/02/1980". */
export function dayInput(iso: string | null | undefined): string {
  if (!iso) return '';
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso);
  return m ? `${m[3]}/${m[2]}/${m[1]}` : '';
}
