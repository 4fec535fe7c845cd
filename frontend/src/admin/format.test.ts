import { describe, expect, it } from 'vitest';
import { label, plural, typedValues } from './format';

describe('typedValues', () => {
  it('shows what was typed with its JSON type and flags the refused field', () => {
    const rows = typedValues(
      { id: 'a1', vitals: { temperature: 51.5, bloodPressure: { systolic: 120, diastolic: '80' } }, urgent: true, notes: null, tags: [] },
      'vitals.temperature',
    );
    expect(rows).toEqual([
      { path: 'id', type: 'string', text: '"a1"', flagged: false },
      { path: 'vitals.temperature', type: 'number', text: '51.5', flagged: true },
      { path: 'vitals.bloodPressure.systolic', type: 'number', text: '120', flagged: false },
      { path: 'vitals.bloodPressure.diastolic', type: 'string', text: '"80"', flagged: false },
      { path: 'urgent', type: 'boolean', text: 'true', flagged: false },
      { path: 'notes', type: 'null', text: 'null', flagged: false },
      { path: 'tags', type: 'empty list', text: '[]', flagged: false },
    ]);
  });

  it('flags everything inside a refused object', () => {
    const rows = typedValues({ vitals: { weight: 0, height: 170 } }, 'vitals');
    expect(rows.every((r) => r.flagged)).toBe(true);
  });

  it('keeps arguments that are not an object', () => {
    expect(typedValues('garbage')).toEqual([{ path: '(arguments)', type: 'string', text: '"garbage"', flagged: false }]);
    expect(typedValues([1, 'x'])).toEqual([
      { path: '[0]', type: 'number', text: '1', flagged: false },
      { path: '[1]', type: 'string', text: '"x"', flagged: false },
    ]);
  });
});

describe('label and plural', () => {
  it('reads statuses', () => {
    expect(label('CONSULTATION_COMPLETED')).toBe('Consultation completed');
    expect(label('SENT_TO_LAB')).toBe('Sent to lab');
  });
  it('counts', () => {
    expect(plural(1, 'workstation')).toBe('1 workstation');
    expect(plural(0, 'workstation')).toBe('0 workstations');
  });
});
