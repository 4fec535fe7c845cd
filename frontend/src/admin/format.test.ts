import { describe, expect, it } from 'vitest';
import { chainCell, label, plural, typedValues } from './format';

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

describe('chainCell', () => {
  const hash = 'e360cbeaa361dfa59fdfd4313567e2fc2d3ccd02218092b50be9734c50002f7f';
  const prev = '5be2ab4e0e6fb2d4a4cf3f3a2e1f8c0d9b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d';
  it('shows a hash prefix and the status of the link', () => {
    expect(chainCell({ status: 'ok', hash, prevHash: prev })).toEqual({
      text: 'e360cbeaa3',
      badge: 'chain intact',
      cls: 'ok',
      title: `hash ${hash}\nafter ${prev}`,
    });
    expect(chainCell({ status: 'broken-content', hash, prevHash: prev }).badge).toBe('modified after it was written');
    expect(chainCell({ status: 'broken-link', hash, prevHash: prev })).toMatchObject({ badge: 'an act before it is missing', cls: 'red' });
  });
  it('says when an act predates the chain', () => {
    expect(chainCell({ status: 'none' })).toEqual({ text: '', badge: 'recorded before the chain', cls: 'muted', title: '' });
    expect(chainCell(undefined).cls).toBe('muted');
  });
});
