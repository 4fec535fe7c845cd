import { describe, expect, it } from 'vitest';
import cases from './validation-cases.json';
import {
  checkAmount, checkAppointmentDate, checkBirthDate, checkJSON, checkMeasure, checkText, checkVitals, parseNumber, thousands, vitalRules,
  type VitalsInput,
} from './validate';

describe('vitals, as the nurse types', () => {
  for (const c of cases.vitals) {
    it(c.name, () => {
      const { errors } = checkVitals(c.typed as VitalsInput);
      // The first error is the one the server reports (same reading order).
      expect(errors[0]).toEqual({ field: c.field, message: c.message });
    });
  }

  it('says nothing and builds the vitals when all is in range', () => {
    const r = checkVitals({ weight: '72,5', height: '170', temperature: '37.2', systolic: '120', diastolic: '80', heartRate: '72', respiratoryRate: '', oxygenSaturation: '98' });
    expect(r.errors).toEqual([]);
    expect(r.vitals).toEqual({ weight: 72.5, height: 170, temperature: 37.2, bloodPressure: { systolic: 120, diastolic: 80 }, heartRate: 72, oxygenSaturation: 98 });
  });

  it('accepts the bounds themselves, except an exclusive minimum', () => {
    const temp = vitalRules.find((r) => r.field === 'vitals.temperature')!;
    expect(checkMeasure(temp, parseNumber('45'))).toBeUndefined();
    expect(checkMeasure(temp, parseNumber('30'))).toBeUndefined();
    expect(checkMeasure(temp, parseNumber('45.01'))).toBe('Temperature 45.01 °C is above 45 °C.');
    const weight = vitalRules.find((r) => r.field === 'vitals.weight')!;
    expect(checkMeasure(weight, parseNumber('0.1'))).toBeUndefined();
  });

  it('reports every field at once, so each box shows its own message', () => {
    const { errors } = checkVitals({ weight: '', height: '0', temperature: '46', systolic: '120', diastolic: '80', heartRate: 'x', respiratoryRate: '', oxygenSaturation: '' });
    expect(errors.map((e) => e.field)).toEqual(['vitals.weight', 'vitals.height', 'vitals.temperature', 'vitals.heartRate']);
  });

  it('reads numbers as typed', () => {
    expect(parseNumber('')).toEqual({ kind: 'empty' });
    expect(parseNumber(' 37,5 ')).toEqual({ kind: 'number', value: 37.5 });
    expect(parseNumber('1e2')).toEqual({ kind: 'number', value: 100 });
    expect(parseNumber('37.5.1').kind).toBe('bad');
    expect(parseNumber('Infinity').kind).toBe('bad');
  });
});

describe('billing amounts', () => {
  for (const c of cases.amounts) {
    it(`"${c.typed}"`, () => {
      const r = checkAmount(c.typed);
      if ('message' in c && c.message) expect(r).toEqual({ error: c.message });
      else expect(r).toEqual({ amount: (c as { amount: string }).amount });
    });
  }
});

describe('texts', () => {
  for (const c of cases.texts) {
    it(`${c.rule}: ${c.message}`, () => {
      const typed = 'repeat' in c && c.repeat ? c.repeat.repeat(c.count!) : (c as { typed: string }).typed;
      expect(checkText(c.rule, typed)).toBe(c.message);
    });
  }

  it('counts characters, not bytes or UTF-16 units', () => {
    expect(checkText('firstName', 'é'.repeat(200))).toBeUndefined();
    expect(checkText('firstName', '𝒜'.repeat(200))).toBeUndefined();
    expect(checkText('firstName', '𝒜'.repeat(201))).toBe('First name must be at most 200 characters long (got 201).');
  });

  it('allows an empty optional text', () => {
    expect(checkText('medicalHistoryNotes', '')).toBeUndefined();
    expect(checkText('phone', '')).toBeUndefined();
  });

  it('writes thousands like the server', () => {
    expect(thousands(10000)).toBe('10,000');
    expect(thousands(999)).toBe('999');
    expect(thousands(1234567)).toBe('1,234,567');
  });
});

describe('dates', () => {
  const now = new Date('2026-03-10T09:30:00Z');
  it('birth date must be before the act and less than 150 years ago', () => {
    expect(checkBirthDate('', now)).toBe('Birth date must be given.');
    expect(checkBirthDate('1980-02-03', now)).toBeUndefined();
    expect(checkBirthDate('2026-03-11', now)).toBe('Birth date 2026-03-11 must be before the time of the act (2026-03-10 09:30).');
    expect(checkBirthDate('1875-01-01', now)).toBe('Birth date 1875-01-01 is more than 150 years ago.');
  });
  it('appointment date within ten years of the act', () => {
    expect(checkAppointmentDate('', now)).toEqual({ error: 'Appointment date must be given.' });
    expect(checkAppointmentDate('2026-03-10T14:00', now).iso).toBe(new Date('2026-03-10T14:00').toISOString());
    expect(checkAppointmentDate('2037-01-01T10:00', now).error).toMatch(/^Appointment date 2037-01-01 \d\d:\d\d is more than 10 years away from the time of the act \(2026-03-10\)\.$/);
  });
});

describe('JSON boxes', () => {
  it('result data must be an object', () => {
    expect(checkJSON('Result data', '', false)).toBeUndefined();
    expect(checkJSON('Result data', '{"hemoglobin": 13.5}', false)).toBeUndefined();
    expect(checkJSON('Result data', '[1]', false)).toBe('Result data must be an object, not a list.');
    expect(checkJSON('Result data', '{"a":', false)).toBe('Result data is not valid JSON; write an object such as {"hemoglobin": 13.5}.');
    expect(checkJSON('Medical history', '["asthma"]', true)).toBeUndefined();
    expect(checkJSON('Medical history', '"asthma"', true)).toBe('Medical history must be an object or a list, not text.');
  });
});
