import { describe, expect, it } from 'vitest';
import { duplicateWarning } from './format';

describe('duplicateWarning', () => {
  const p = { firstName: 'Marie', lastName: 'Curie', birthDate: '1967-11-07T00:00:00Z', phone: '0601' };
  it('says nothing when nobody matches', () => {
    expect(duplicateWarning([])).toBe('');
  });
  it('names the patient already registered', () => {
    expect(duplicateWarning([p])).toBe(
      'A patient with the same name and birth date exists: CURIE Marie, born 7 Nov 1967, phone 0601. Search for them before registering the person again; you may still register.',
    );
  });
  it('counts several and names at most three', () => {
    const w = duplicateWarning([p, p, p, { ...p, phone: '' }, p]);
    expect(w.startsWith('5 patients with the same name and birth date exist: ')).toBe(true);
    expect(w).toContain(' and 2 more.');
  });
});
