import { beforeAll, describe, expect, it } from 'vitest';
import { setLocale } from '../shared/i18n';

// The English catalog: these tests pin the sentences (i18n.test.ts checks French has every key).
beforeAll(() => setLocale('en-GB'));
import { duplicateWarning } from './format';

describe('duplicateWarning', () => {
  const p = { firstName: 'Marie', lastName: 'Curie', birthDate: '1967-11-07T00:00:00Z', phone: '0601' };
  it('says nothing when nobody matches', () => {
    expect(duplicateWarning([])).toBe('');
  });
  it('names the patient already registered', () => {
    expect(duplicateWarning([p])).toBe(
      'A patient with the same name and birth date exists: CURIE Marie, born 07/11/1967, phone 0601. Search for them before registering the person again; you may still register.',
    );
  });
  it('counts several and names at most three', () => {
    const w = duplicateWarning([p, p, p, { ...p, phone: '' }, p]);
    expect(w.startsWith('5 patients with the same name and birth date exist: ')).toBe(true);
    expect(w).toContain(' and 2 more.');
  });
});
