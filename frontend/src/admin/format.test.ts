import { beforeAll, describe, expect, it } from 'vitest';
import { setLocale } from '../shared/i18n';

beforeAll(() => setLocale('en-GB'));
import { chainCell, closeNoteProblem, label, reissueLine, resolutionLine, typedValues, unresolvedByWard, buildLine } from './format';

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

describe('label', () => {
  it('reads statuses', () => {
    expect(label('CONSULTATION_COMPLETED')).toBe('Consultation completed');
    expect(label('SENT_TO_LAB')).toBe('Sent to lab');
  });
});

describe('review queue', () => {
  const now = Date.parse('2026-03-10T10:50:00Z');
  const at = '2026-03-10T10:42:00Z';
  const dev = { deviceId: 'ward-1', deviceName: 'Cardiologie' };
  it('says how a rejected act was resolved, both ends of a re-issue', () => {
    expect(resolutionLine({ ...dev }, now)).toBe('unresolved');
    const c = resolutionLine({ ...dev, resolution: { at, by: 'Admin Test', note: 'Told the ward', kind: 'closed' } }, now);
    expect(c).toMatch(/^closed by Admin Test on the dashboard, .+: “Told the ward”$/);
    const w = resolutionLine({ ...dev, resolution: { at, by: 'Infirmier Test', note: 'Left', kind: 'closed', bySeq: 44 } }, now);
    expect(w).toMatch(/^closed by Infirmier Test on the workstation \(act 44\), /);
    const r = resolutionLine({ ...dev, resolution: { at, by: 'Infirmier Test', note: 'Re-issued as ward-1/43.', kind: 'reissued', bySeq: 43 } }, now);
    expect(r).toMatch(/^re-issued as act 43 of Cardiologie by Infirmier Test, /);
    expect(reissueLine({})).toBe('');
    expect(reissueLine({ reissueOf: { mutationId: '2c9a7e10-5b3d-4f6e-9a1b-7c8d9e0f1a2b', seq: 40 } })).toBe('re-issues rejected act 40');
  });
  it('a close needs a written reason', () => {
    expect(closeNoteProblem('  ')).toBe('Write why this rejected act needs nothing more: the reason is required and kept in the audit log.');
    expect(closeNoteProblem('y'.repeat(2001))).toBe('The reason must be at most 2,000 characters long (got 2,001).');
    expect(closeNoteProblem('ok')).toBe('');
  });
  it('lists the wards with unresolved rejected acts, most first', () => {
    const d = (id: string, name: string, n: number) => ({ id, name, mutations: { unresolvedRejected: n } });
    expect(unresolvedByWard([d('a', 'Accueil', 1), d('b', 'Bloc', 0), d('c', 'Cardio', 3), d('d', 'Dermato', 1)])).toEqual([
      { id: 'c', name: 'Cardio', n: 3 }, { id: 'a', name: 'Accueil', n: 1 }, { id: 'd', name: 'Dermato', n: 1 }]);
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

describe('buildLine', () => {
  const st = (instance: object) => ({ instance }) as never;
  it('names the server build and the workstations minimum', () => {
    expect(buildLine(st({ connectedDevices: 0, connections: 0, version: '1.3.0', commit: '497cf88', minWorkstationVersion: '1.3.0' })))
      .toBe('wardsync server 1.3.0 (commit 497cf88) · workstations need 1.3.0 or later');
    expect(buildLine(st({ connectedDevices: 0, connections: 0, version: 'dev', commit: '' }))).toBe('wardsync server dev (commit unknown)');
    expect(buildLine(st({ connectedDevices: 0, connections: 0 }))).toBe('');
  });
});
