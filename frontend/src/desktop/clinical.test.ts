import { beforeAll, describe, expect, it } from 'vitest';
import { setCurrency, setLocale } from '../shared/i18n';
import { checkLabRows, historyValue, labAbnormal, labRows, labValue, parseHistory } from './clinical';
import { abnormalVitals, actDone, isIdPath, subjectLine } from './format';

beforeAll(() => {
  setLocale('en-GB');
  setCurrency('EUR');
});

describe('medical history as lists', () => {
  it('reads the documented shape, an older list and older keys', () => {
    expect(parseHistory({ allergies: ['penicillin'], conditions: ['asthma'], note: 'x' })).toEqual({
      allergies: ['penicillin'], conditions: ['asthma'], medications: [], other: { note: 'x' },
    });
    expect(parseHistory(['asthme']).conditions).toEqual(['asthme']);
    expect(parseHistory(null)).toEqual({ allergies: [], conditions: [], medications: [], other: {} });
  });
  it('stores the lists without blank lines, keeping older keys', () => {
    expect(historyValue({ allergies: [' penicillin ', ''], conditions: [], medications: ['salbutamol'], other: { note: 'x' } }))
      .toEqual({ note: 'x', allergies: ['penicillin'], medications: ['salbutamol'] });
  });
});

describe('lab results as rows', () => {
  it('reads rows, and an older free-form object as rows', () => {
    expect(labRows({ rows: [{ test: 'CRP', value: '85', unit: 'mg/L', range: '< 5', abnormal: true }] })).toEqual({
      rows: [{ test: 'CRP', value: '85', unit: 'mg/L', range: '< 5', abnormal: true }], legacy: false,
    });
    expect(labRows({ TSH: 2.1 })).toEqual({ rows: [{ test: 'TSH', value: '2.1', unit: '', range: '', abnormal: false }], legacy: true });
    expect(labAbnormal({ rows: [{ test: 'Na', value: '140' }, { test: 'CRP', value: '85', abnormal: true }] })).toBe(true);
    expect(labAbnormal({ TSH: 2.1 })).toBe(false);
  });
  it('"CRP: 85 mg/L" is typed as a row, never as JSON', () => {
    const rows = [{ test: 'CRP', value: '85', unit: 'mg/L', range: '< 5', abnormal: true }, { test: '', value: '', unit: '', range: '' }];
    expect(checkLabRows(rows)).toBeUndefined();
    expect(labValue(rows)).toBe('{"rows":[{"test":"CRP","value":"85","unit":"mg/L","range":"< 5","abnormal":true}]}');
    expect(labValue([{ test: '', value: '' }])).toBe('');
  });
  it('a row begun needs its test and its value', () => {
    expect(checkLabRows([{ test: '', value: '85' }])).toEqual({ row: 0, field: 'test', message: 'Row 1: write the name of the test, such as CRP.' });
    expect(checkLabRows([{ test: 'Na', value: '140' }, { test: 'CRP', value: ' ' }])).toEqual({ row: 1, field: 'value', message: 'Row 2 (CRP): write the measured value, such as 85.' });
  });
});

describe('acts name their patient and visit', () => {
  it('says the patient, birth date, visit day and time, reason and bill', () => {
    const visit = new Date(2026, 11, 7, 14, 0).toISOString();
    expect(subjectLine({ patientId: 'p', firstName: 'Amélie', lastName: 'Dupont', birthDate: '1980-02-03T00:00:00Z', visitDate: visit, visitMotif: 'Consultation de suivi', billingAmount: '45.00' }))
      .toBe('DUPONT Amélie (born 03/02/1980) — visit 07/12/2026 14:00, Consultation de suivi; bill €45.00');
    expect(subjectLine({ patientId: 'p', firstName: 'Jean', lastName: 'Martin', prescriptionText: 'Lipid Panel' })).toBe('MARTIN Jean — prescription: Lipid Panel');
    expect(subjectLine(undefined)).toBe('');
    setLocale('fr-FR');
    expect(subjectLine({ firstName: 'Amélie', lastName: 'Dupont', visitDate: visit, visitMotif: 'Suivi' })).toBe('DUPONT Amélie — visite du 07/12/2026 14:00, Suivi');
    setLocale('en-GB');
  });
  it('names acts as done, and keeps ids for the details', () => {
    expect(actDone('appointment.recordVitals')).toBe('Vitals recorded');
    expect(actDone('appointment.close')).toBe('Visit closed and billed');
    expect(['id', 'patientId', 'prescriptionId', 'billingAmount', 'vitals.temperature'].map(isIdPath)).toEqual([true, true, true, false, false]);
  });
});

describe('abnormal vitals', () => {
  const v = { weight: 70, height: 170, temperature: 38.4, bloodPressure: { systolic: 120, diastolic: 80 }, heartRate: 72 };
  it('flags a 38.4 °C fever, and nothing for normal vitals', () => {
    expect(abnormalVitals(v).map((f) => f.text)).toEqual(['Temperature 38.4 °C: above the usual 37.5 °C']);
    expect(abnormalVitals({ ...v, temperature: 37 })).toEqual([]);
    expect(abnormalVitals({ ...v, temperature: 37, oxygenSaturation: 91 }).map((f) => f.field)).toEqual(['vitals.oxygenSaturation']);
    setLocale('fr-FR');
    expect(abnormalVitals(v).map((f) => f.text)).toEqual(['Température 38,4 °C : au-dessus de la normale 37,5 °C']);
    setLocale('en-GB');
  });
});

describe('refusals in words', () => {
  it('names the visit instead of its id, and leaves other ids out', async () => {
    const { plainMessage } = await import('../shared/acts');
    const visit = new Date(2026, 11, 7, 14, 15).toISOString();
    const s = { patientId: 'p', firstName: 'Jean', lastName: 'Martin', visitId: '503e2514-70a8-5238-a9d6-e944646fbb94', visitDate: visit };
    expect(plainMessage('Appointment 503e2514-70a8-5238-a9d6-e944646fbb94 is CANCELLED (cancelled at 04:59), not CHECKED_IN.', s))
      .toBe('Appointment of 07/12/2026 14:15 is CANCELLED (cancelled at 04:59), not CHECKED_IN.');
    expect(plainMessage('Prescription 11111111-2222-4333-8444-555555555555 already has a result (66666666-7777-4888-9999-000000000000); a prescription has only one.', s))
      .toBe('Prescription already has a result; a prescription has only one.');
    expect(plainMessage('Temperature 46 °C is above 45 °C.', s)).toBe('Temperature 46 °C is above 45 °C.');
  });
});
