import { beforeAll, describe, expect, it } from 'vitest';
import { setLocale } from '../shared/i18n';
import { other, proposedSurvivor, reasonText, tabLabel, type DupPair, type DupPatient } from './duplicates';

beforeAll(() => setLocale('en-GB'));

function patient(id: string, over: Partial<DupPatient> = {}): DupPatient {
  return {
    id, firstName: 'Awa', lastName: 'Ba', birthDate: '1984-02-03T00:00:00Z', idNumber: null, phone: '',
    createdAt: '2026-01-05T10:00:00Z', appointments: 0, registeredOn: 'Reception A', ...over,
  };
}

function pair(a: DupPatient, b: DupPatient): DupPair {
  return { a, b, reason: 'name_birth_date', detectedAt: '2026-01-05T10:00:00Z' };
}

describe('reasonText', () => {
  it('reads each reason, several joined', () => {
    expect(reasonText('name_birth_date')).toBe('same name and birth date');
    expect(reasonText('name_birth_date+id_number')).toBe('same name and birth date, same identity document number');
    expect(reasonText('future_rule')).toBe('future_rule');
    expect(reasonText('')).toBe('');
  });
});

describe('proposedSurvivor', () => {
  it('keeps the record with more appointments', () => {
    const p = pair(patient('a', { appointments: 0 }), patient('b', { appointments: 2 }));
    expect(proposedSurvivor(p).id).toBe('b');
  });
  it('then the older registration', () => {
    const p = pair(patient('a', { createdAt: '2026-01-05T11:00:00Z' }), patient('b', { createdAt: '2026-01-05T09:00:00Z' }));
    expect(proposedSurvivor(p).id).toBe('b');
  });
  it('then the smaller id, so the choice does not flicker', () => {
    expect(proposedSurvivor(pair(patient('b'), patient('a'))).id).toBe('a');
  });
  it('other is the patient that goes', () => {
    const p = pair(patient('a'), patient('b'));
    expect(other(p, p.a).id).toBe('b');
    expect(other(p, p.b).id).toBe('a');
  });
});

describe('tabLabel', () => {
  it('shows the count only when there is one', () => {
    expect(tabLabel(0)).toBe('Possible duplicates');
    expect(tabLabel(3)).toBe('Possible duplicates (3)');
  });
});
