import { afterAll, describe, expect, it } from 'vitest';
import { en } from './en';
import { fr } from './fr';
import { ROLES } from '../../admin/types';
import { DefaultLocale, fmtDate, fmtDateTime, fmtDateUTC, fmtMoney, fmtTime, fmtWhen, locale, parseDay, parseTime, roleName, setCurrency, setLocale, t } from './index';

declare global {
  interface ImportMeta {
    glob: (pattern: string | string[], options: { query: string; import: string; eager: true }) => Record<string, string>;
  }
}

const params = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe('the message catalog', () => {
  it('has every key in English and in French, with the same {params}, none empty', () => {
    const enKeys = Object.keys(en).sort();
    const frKeys = Object.keys(fr).sort();
    expect(frKeys.filter((k) => !(k in en)), 'keys only in French').toEqual([]);
    expect(enKeys.filter((k) => !(k in fr)), 'keys missing in French').toEqual([]);
    for (const k of enKeys) {
      const e = en[k as keyof typeof en];
      const f = fr[k as keyof typeof fr];
      expect(e.trim(), `en ${k}`).not.toBe('');
      expect(f.trim(), `fr ${k}`).not.toBe('');
      expect(params(f), `params of ${k}`).toEqual(params(e));
    }
  });

  it('holds every key the UIs ask for', () => {
    // Every t('…') written in the code of both UIs, and the keys made from
    // act names, statuses and codes, must exist.
    const files = import.meta.glob(['../../desktop/**/*.ts', '../../admin/**/*.ts', '../../shared/**/*.ts', '!../../**/*.test.ts'], { query: '?raw', import: 'default', eager: true });
    expect(Object.keys(files).length).toBeGreaterThan(10);
    const missing: string[] = [];
    for (const [file, text] of Object.entries(files)) {
      for (const m of text.matchAll(/\btn?\(\s*'([a-zA-Z0-9_.-]+)'/g)) {
        if (!(m[1]! in en)) missing.push(`${file}: ${m[1]}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('says the same thing in both languages, in the language chosen', () => {
    expect(DefaultLocale).toBe('fr-FR');
    setLocale('en-GB');
    expect(t('done.appointment.recordVitals')).toBe('Vitals recorded');
    expect(t('acted.scheduled', { subject: 'DUPONT Amélie', when: '07/12/2026 14:00' })).toBe('Appointment scheduled: DUPONT Amélie, 07/12/2026 14:00.');
    setLocale('fr-FR');
    expect(locale()).toBe('fr-FR');
    expect(t('done.appointment.recordVitals')).toBe('Constantes saisies');
    expect(t('form.cancel')).toBe('Annuler');
    expect(t('bill.closeVisit')).toBe('Clôturer la visite');
  });
});

describe('a role reads as its name, never its code', () => {
  afterAll(() => setLocale('fr-FR'));
  it('in English', () => {
    setLocale('en-GB');
    expect(ROLES.map(roleName)).toEqual(['Administrator', 'Doctor', 'Biologist', 'Nurse', 'Receptionist']);
    expect(t('users.created', { name: 'Infirmière Nuit', role: roleName('NURSE') })).toBe('User Infirmière Nuit (Nurse) created.');
    expect(t('users.roleChanged', { name: 'Infirmière Nuit', role: roleName('SECRETARY') })).toBe('Role of Infirmière Nuit is now Receptionist; their sessions ended.');
  });
  it('in French', () => {
    setLocale('fr-FR');
    expect(ROLES.map(roleName)).toEqual(['Administrateur·rice', 'Médecin', 'Biologiste', 'Infirmier·ère', 'Secrétaire d’accueil']);
    expect(t('users.created', { name: 'Infirmière Nuit', role: roleName('NURSE') })).toBe('Utilisateur Infirmière Nuit (Infirmier·ère) créé.');
    expect(t('users.roleChanged', { name: 'Infirmière Nuit', role: roleName('DOCTOR') })).toBe('Infirmière Nuit a maintenant le rôle Médecin ; ses sessions sont terminées.');
  });
  it('a code this release does not know reads as it came', () => {
    expect(roleName('PHARMACIST')).toBe('PHARMACIST');
  });
  it('no screen writes a role code itself', () => {
    // A role written straight into text (`${u.role}`, role.toLowerCase(),
    // roles.join) bypasses roleName; option and checkbox values may carry
    // the code, which is what the API takes.
    const files = import.meta.glob(['../../desktop/**/*.ts', '../../admin/**/*.ts', '!../../**/*.test.ts'], { query: '?raw', import: 'default', eager: true });
    const raw = [
      /(?<!role\.)\$\{[^}]*\b(?:role|authorRole)\}/, // `${u.role}`, but not a key `ws.role.${role}`
      /\b(?:role|authorRole)\.to(?:Lower|Upper)Case\(/,
      /\b(?:roles|waitingFor)\.join\(/, // Role[] lists
      /\btn?\('[\w.]+', \{[^}]*\broles?: (?!roleName\(|[\w.]+\.map\(roleName\))/, // a sentence's {role}
    ];
    const found: string[] = [];
    for (const [file, text] of Object.entries(files)) {
      text.split('\n').forEach((line, i) => {
        if (raw.some((r) => r.test(line))) found.push(`${file}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(found).toEqual([]);
  });
});

// englishLiterals finds the sentences a screen's code writes in English
// instead of asking the catalog: string literals (quotes or templates)
// holding two words, a capitalised word, or a placeholder next to a word
// ("${n} today"), that are not import paths, t('…') keys, or the values of
// class/id/type/name/role/data-* attributes. A heuristic: it reads the
// text, not the syntax tree, so genuine exceptions are allowed by name.
const ALLOWED = new Set([
  'wardsync', // the product's name
  'Enter', 'Escape', // key names compared with KeyboardEvent.key
  'nav button', // a CSS selector
  'empty object', 'empty list', // JSON types in the Details disclosure
  'Content-Type', 'Bearer ${this.token}', // HTTP headers
  'Alt+${key}', // a keyboard shortcut
]);

function englishLiterals(text: string): string[] {
  const blank = (m: string) => m.replace(/[^\n]/g, ' ');
  const code = text
    .replace(/\/\*[\s\S]*?\*\//g, blank)
    .replace(/(^|[^:'"`\\])(\/\/.*)$/gm, (_m, p: string, c: string) => p + blank(c));
  const found: string[] = [];
  const literal = /(['"`])((?:\\.|(?!\1)[^\\])*)\1/g;
  for (let m = literal.exec(code); m; m = literal.exec(code)) {
    const before = code.slice(Math.max(0, m.index - 60), m.index);
    if (/\b(?:import|from)\s*$/.test(before) || /\btn?\(\s*$/.test(before)) continue;
    if (/(?:\bclass|\bid|\btype|\bname|\brole|\bautocomplete|\binputmode|'data-[\w-]+')\s*:\s*[^,{}]*$/.test(before)) continue;
    if (/\.className\s*=\s*$/.test(before)) continue;
    if (/(?:querySelector(?:All)?|closest|matches)\(\s*$/.test(before)) continue;
    const raw = m[2]!;
    if (ALLOWED.has(raw)) continue;
    const words = raw.replace(/\$\{[^}]*\}/g, '\u0000');
    const twoWords = /[A-Za-z][a-z]+\s+[a-z]{2,}/.test(words);
    const capitalised = /^[A-Z][a-z]{2,}\b/.test(words);
    const placeholderWord = m[1] === '`' && /\u0000\s+[a-z]{3,}|[a-z]{3,}\s+\u0000/.test(words);
    if (twoWords || capitalised || placeholderWord) found.push(`${code.slice(0, m.index).split('\n').length}: ${m[1]}${raw}${m[1]}`);
  }
  return found;
}

describe('no English bypasses the catalog', () => {
  it('finds an English literal, and lets keys, classes and paths be', () => {
    expect(englishLiterals(`h('th', null, 'Last contact'), h('p', { title: 'Refused acts nobody has reviewed yet' }, x)`)).toHaveLength(2);
    expect(englishLiterals("h('span', null, `${n} today`), h('dd', null, 'Release')")).toHaveLength(2);
    expect(englishLiterals(`h('th', { class: 'num small' }, t('ws.lastHour')), h('a', { href: '/api/v1/x' }, 'wardsync')`)).toEqual([]);
    expect(englishLiterals("import { t } from '../../shared/i18n'; // An English comment\nh('span', { class: `badge badge-${cls}` }); el.className = `sync-item link${busy ? ' busy' : ''}`;")).toEqual([]);
  });

  it('in every screen of both UIs', () => {
    const files = import.meta.glob(['../../desktop/views/*.ts', '../../admin/views/*.ts', '../../desktop/main.ts', '../../admin/main.ts', '../../admin/status.ts', '../../admin/format.ts', '../../admin/api.ts', '../../shared/*.ts', '!../../**/*.test.ts'],
      { query: '?raw', import: 'default', eager: true });
    expect(Object.keys(files).length).toBeGreaterThan(20);
    const found: string[] = [];
    for (const [file, text] of Object.entries(files)) for (const f of englishLiterals(text)) found.push(`${file}:${f}`);
    expect(found).toEqual([]);
  });
});

describe('dates, times and money follow the locale', () => {
  afterAll(() => {
    setLocale('fr-FR');
    setCurrency('EUR');
  });
  const at = new Date(2026, 11, 7, 14, 5); // local 7 December 2026, 14:05
  it('fr-FR: dd/mm/yyyy, 24 h, "45,00 €"', () => {
    setLocale('fr-FR');
    setCurrency('EUR');
    expect(fmtDate(at)).toBe('07/12/2026');
    expect(fmtTime(new Date(2026, 11, 7, 21, 30))).toBe('21:30');
    expect(fmtDateTime(at)).toBe('07/12/2026 14:05');
    expect(fmtDateUTC('1980-02-03T00:00:00Z')).toBe('03/02/1980');
    expect(fmtMoney('45.00').replace(/\s/g, ' ')).toBe('45,00 €');
    expect(fmtMoney('1234.5').replace(/\s/g, ' ')).toBe('1 234,50 €');
  });
  it('en-GB: dd/mm/yyyy, 24 h, "€45.00", and another currency by setting', () => {
    setLocale('en-GB');
    expect(fmtDate(at)).toBe('07/12/2026');
    expect(fmtTime(new Date(2026, 11, 7, 0, 5))).toBe('00:05');
    expect(fmtMoney('45.00')).toBe('€45.00');
    setCurrency('GBP');
    expect(fmtMoney('45.00')).toBe('£45.00');
  });
  it('today shows the time only, another day its date too', () => {
    const now = new Date(2026, 11, 7, 18, 0);
    expect(fmtWhen(at, now)).toBe('14:05');
    expect(fmtWhen(new Date(2026, 11, 6, 23, 50), now)).toBe('06/12/2026 23:50');
  });
  it('reads a typed date day first, and says what is wrong', () => {
    setLocale('en-GB');
    expect(parseDay('03/02/1980')).toEqual({ iso: '1980-02-03' });
    expect(parseDay('3.2.1980')).toEqual({ iso: '1980-02-03' });
    expect(parseDay('')).toEqual({});
    expect(parseDay('31/02/1980').error).toBe('Date "31/02/1980" is not a day/month/year date such as 03/02/1980.');
    expect(parseDay('1980-02-03').error).toBe('Date "1980-02-03" is not a day/month/year date such as 03/02/1980.');
    setLocale('fr-FR');
    expect(parseDay('02/13/1980').error).toBe('La date « 02/13/1980 » n’est pas une date jour/mois/année comme 03/02/1980.');
    expect(parseTime('9:05')).toEqual({ hhmm: '09:05' });
    expect(parseTime('14h30')).toEqual({ hhmm: '14:30' });
    expect(parseTime('2:30 PM').error).toBe('L’heure « 2:30 PM » n’est pas une heure sur 24 h comme 14:30.');
  });
});
