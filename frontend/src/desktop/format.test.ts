import { beforeAll, describe, expect, it } from 'vitest';
import { setLocale } from '../shared/i18n';

// The English catalog: these tests pin the sentences (i18n.test.ts checks French has every key).
beforeAll(() => setLocale('en-GB'));
import { actedNote, actLabel, closeReasonProblem, fieldLabel, offlineNote, pendingState, provenance, reason, reviewLine, syncView, typedValues } from './format';
import type { PendingAct, Status } from './types';

const base: Status = {
  deviceId: 'd', serverUrl: 'http://x', online: true, syncing: false, pending: 0, oldestPendingAgeSeconds: 0, likelyRejected: 0,
  rejected: 0, roles: [], needsSetup: false, now: '2026-03-10T10:50:00Z',
};
// Local times, so that "HH:MM" is what the workstation shows whatever its zone.
const at = (hh: number, mm: number) => new Date(2026, 2, 10, hh, mm).toISOString();

describe('sync bar', () => {
  it('online, nothing waiting', () => {
    expect(syncView(base)).toMatchObject({ state: 'online', connection: 'Online', waiting: 'Nothing waiting', rejected: '0 rejected', asOf: '' });
  });
  it('offline since HH:MM, N waiting (oldest HH:MM), N rejected, as of', () => {
    const v = syncView({ ...base, online: false, offlineSince: at(10, 42), pending: 3, oldestPendingAt: at(10, 44), rejected: 1, lastSyncAt: at(10, 41) });
    expect(v).toMatchObject({ state: 'offline', connection: 'Offline since 10:42', waiting: '3 waiting (oldest 10:44)', rejected: '1 rejected', asOf: 'records as of 10:41' });
  });
  it('first sync progress', () => {
    expect(syncView({ ...base, initialSync: { rows: 120, total: 500 } }).progress).toEqual({ rows: 120, total: 500, text: "Receiving the ward's records: 120 of 500" });
  });
  it('not connected before anyone logged in is not an outage', () => {
    const s = { ...base, online: false, offlineSince: at(9, 0), waitingForLogin: true };
    expect(syncView(s).state).toBe('idle');
    expect(offlineNote(s)).toBe('');
  });
  it('the login screen says when work will be sent', () => {
    expect(offlineNote({ ...base, online: false, offlineSince: at(10, 42) })).toBe('Working offline since 10:42 — your work will be sent when the network returns.');
    expect(offlineNote(base)).toBe('');
  });
});

describe('acts waiting for their predecessor', () => {
  const p: PendingAct = { seq: 1, id: 'm', name: 'appointment.recordVitals', args: {}, occurredAt: '2026-03-10T10:40:00Z', authorId: 'u', authorName: 'Infirmier Test', applied: false };
  it('the sync bar counts acts on hold', () => {
    expect(syncView({ ...base, waiting: 1 }).waiting).toBe('Nothing waiting, 1 on hold for another workstation');
    expect(syncView({ ...base, waiting: 0 }).waiting).toBe('Nothing waiting');
  });
  it('the list says what an act waits for, and who holds it', () => {
    expect(pendingState({ ...p, waitingFor: 'waiting for check-in at reception' })).toBe('Waiting for check-in at reception');
    expect(pendingState({ ...p, waitingFor: 'waiting for check-in at reception', parked: true }))
      .toBe('Waiting for check-in at reception (the server holds it and applies it then)');
    expect(pendingState(p)).toBe('Waiting');
    expect(pendingState({ ...p, applied: true })).toBe('Accepted, updating');
    expect(pendingState({ ...p, likelyRejection: { code: 'INVALID_TRANSITION', message: 'x' } })).toBe('Will likely be refused: x');
  });
  it('the note after the act says it waits', () => {
    expect(actedNote('Vitals recorded: Jean Dupont.', 'waiting for check-in at reception')).toBe('Vitals recorded: Jean Dupont — waiting for check-in at reception.');
    expect(actedNote('Vitals recorded: Jean Dupont.')).toBe('Vitals recorded: Jean Dupont.');
  });
});

describe('rejected acts', () => {
  it('name acts and reasons in plain words', () => {
    expect(actLabel('appointment.recordVitals')).toBe('Record vitals');
    expect(reason({ code: 'INVALID_TRANSITION', message: 'x' })).toBe('The record had already moved on at the server');
  });
  it('name the fields in words', () => {
    expect(fieldLabel('vitals.temperature')).toBe('Temperature (°C)');
    expect(fieldLabel('consultationNotes')).toBe('Consultation notes');
    expect(fieldLabel('billingAmount')).toBe('Amount');
    expect(fieldLabel('data.hemoglobin')).toBe('Measured values');
    expect(fieldLabel('whatever')).toBe('whatever');
  });
  it('show every value as typed and flag the refused field', () => {
    expect(typedValues({ id: 'a1', vitals: { temperature: 46, bloodPressure: { systolic: 120 } }, medicalHistoryNotes: 'n' }, 'vitals.temperature')).toEqual([
      { path: 'id', text: 'a1', flagged: false },
      { path: 'vitals.temperature', text: '46', flagged: true },
      { path: 'vitals.bloodPressure.systolic', text: '120', flagged: false },
      { path: 'medicalHistoryNotes', text: 'n', flagged: false },
    ]);
  });
});

describe('review queue', () => {
  const now = new Date(2026, 2, 10, 11, 0);
  it('a close needs a written reason', () => {
    expect(closeReasonProblem('')).toBe('Write why this rejected act needs nothing more: the reason is required and kept in the audit log.');
    expect(closeReasonProblem('  \n ')).toBe('Write why this rejected act needs nothing more: the reason is required and kept in the audit log.');
    expect(closeReasonProblem('x'.repeat(2001))).toBe('The reason must be at most 2,000 characters long (got 2,001).');
    expect(closeReasonProblem(' Patient left. ')).toBe('');
  });
  it('says where a rejected act stands', () => {
    expect(reviewLine({ state: 'open' }, now)).toBe('Open: copy it into a new entry, or close it with a reason');
    expect(reviewLine({ state: 'open', closeError: 'already resolved by Admin Test' }, now)).toBe('Open again: the server refused the close (already resolved by Admin Test)');
    expect(reviewLine({ state: 'closing', closedBy: 'Infirmier Test', closedAt: at(10, 42), closeReason: 'Patient left' }, now))
      .toBe('Closed here by Infirmier Test 10:42 ("Patient left"), waiting to be sent');
    expect(reviewLine({ state: 'reissuing', reissueId: 'x' }, now)).toBe('Re-issued here as a new entry, waiting for the server');
    expect(reviewLine({ state: 'resolved', resolvedBy: 'Admin Test', resolvedAt: at(10, 50), resolutionNote: 'Told the ward' }, now))
      .toBe('Resolved by Admin Test 10:50: "Told the ward"');
    expect(reviewLine({ state: 'resolved', resolvedBy: 'Infirmier Test', resolvedAt: at(10, 50), reissuedAs: 'ward-1/43' }, now))
      .toBe('Resolved: re-issued as ward-1/43 (by Infirmier Test, 10:50)');
  });
  it('names the bookkeeping act', () => {
    expect(actLabel('rejected.close')).toBe('Close a rejected act');
  });
});

describe('chain and provenance', () => {
  const now = new Date(2026, 0, 5, 15, 0);
  const local = (h: number, m: number) => new Date(2026, 0, 5, h, m).toISOString();
  it('puts a broken chain in the sync bar', () => {
    const base = { deviceId: 'd', serverUrl: '', online: true, syncing: false, pending: 0, oldestPendingAgeSeconds: 0, likelyRejected: 0, rejected: 0, roles: null, needsSetup: false, now: '' };
    expect(syncView(base).chain).toBe('');
    expect(syncView({ ...base, chainError: 'Act 2 is missing from this workstation\'s queue (deleted outside the app).' }).chain).toBe(
      "Tampering detected: Act 2 is missing from this workstation's queue (deleted outside the app).",
    );
    expect(reason({ code: 'CHAIN_BROKEN', message: 'x' })).toBe('The act was changed or removed on this workstation after it was written');
  });
  it('says who did an act, when, where and how far it got', () => {
    const p = { seq: 3, name: 'appointment.checkIn', occurredAt: local(14, 5), authorId: 'u', authorName: 'Secrétaire Test', authorRole: 'SECRETARY' as const, deviceId: 'dev', state: 'not yet sent' as const };
    expect(provenance(p, now)).toBe('Checked in — Secrétaire Test (Receptionist), clinical 14:05, on this workstation, not yet sent');
    expect(provenance({ ...p, state: 'applied' }, now)).toBe('Checked in — Secrétaire Test (Receptionist), clinical 14:05, on this workstation, applied by the server');
  });
  it('gives both times and the workstation of an act the server recorded', () => {
    const p = { seq: 7, name: 'appointment.checkIn', occurredAt: local(14, 5), receivedAt: local(14, 20), authorId: '', authorName: 'Secrétaire Test', authorRole: 'SECRETARY' as const, deviceId: 'dev-a', deviceName: 'Accueil', state: 'applied' as const };
    expect(provenance(p, now)).toBe('Checked in — Secrétaire Test (Receptionist), clinical 14:05, received 14:20, on Accueil');
    expect(provenance({ ...p, state: 'rejected' }, now)).toBe('Checked in — Secrétaire Test (Receptionist), clinical 14:05, received 14:20, on Accueil, refused by the server');
    expect(provenance({ ...p, state: 'deferred' }, now)).toBe('Checked in — Secrétaire Test (Receptionist), clinical 14:05, received 14:20, on Accueil, on hold at the server');
    // Made in an outage the day before, received this morning: the day is said.
    expect(provenance({ ...p, occurredAt: new Date(2026, 0, 4, 22, 40).toISOString(), receivedAt: local(7, 2) }, now)).toBe(
      'Checked in — Secrétaire Test (Receptionist), clinical 04/01/2026 22:40, received 07:02, on Accueil',
    );
    // The author's role in the workstation's language, never its code.
    setLocale('fr-FR');
    try {
      expect(provenance(p, now)).toBe('Arrivée enregistrée — Secrétaire Test (Secrétaire d’accueil), clinique 14:05, reçu 14:20, sur Accueil');
      expect(provenance({ ...p, authorName: 'Infirmier Test', authorRole: 'NURSE' }, now)).toBe('Arrivée enregistrée — Infirmier Test (Infirmier·ère), clinique 14:05, reçu 14:20, sur Accueil');
    } finally {
      setLocale('en-GB');
    }
  });
});

describe('syncView when the server needs a newer release', () => {
  it('says so, and that the acts are kept', () => {
    const sentence = 'this workstation runs 1.2.0; the server needs 1.3.0 or later: ask IT to update it';
    const v = syncView({ deviceId: 'd', serverUrl: 'http://s', online: false, syncing: false, pending: 2, oldestPendingAgeSeconds: 0,
      likelyRejected: 0, rejected: 0, roles: null, needsSetup: false, now: '2025-01-01T00:00:00Z', upgradeRequired: sentence });
    expect(v.connection).toBe(`Update needed, acts kept: ${sentence}`);
    expect(v.state).toBe('offline');
  });
});
