import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import shared from './status-cases.json';
import { setLocale } from '../shared/i18n';
import { classify, DEFAULT_THRESHOLDS, healthLabel, humanDuration, ONLINE_MS, utcClock } from './status';

const AMBER_UNSEEN_MS = DEFAULT_THRESHOLDS.amberUnseenSeconds * 1000;
const AMBER_PENDING_MS = DEFAULT_THRESHOLDS.amberPendingSeconds * 1000;
const RED_MS = DEFAULT_THRESHOLDS.redSeconds * 1000;

type SharedThresholds = { lateUnseenSeconds: number; latePendingSeconds: number; stalledSeconds: number };
const thresholds = (t: SharedThresholds) => ({ amberUnseenSeconds: t.lateUnseenSeconds, amberPendingSeconds: t.latePendingSeconds, redSeconds: t.stalledSeconds });

// The server's sentences are English: the page's en-GB catalog says them
// word for word (the French ones are checked at the end).
beforeAll(() => setLocale('en-GB'));
afterAll(() => setLocale('fr-FR'));

// The same cases as the server's TestClassifySharedCases: the colour and
// the sentence the page shows are the server's.
describe('classify: the shared cases', () => {
  const now = Date.parse(shared.now);
  expect(shared.zone).toBe('UTC');
  expect(thresholds(shared.thresholds)).toEqual(DEFAULT_THRESHOLDS);
  for (const c of shared.cases as (typeof shared.cases[number] & { reason?: string; thresholds?: SharedThresholds })[]) {
    it(c.name, () => {
      const h = classify(now, c, thresholds(c.thresholds ?? shared.thresholds), utcClock);
      expect({ cls: h.cls, online: h.online }).toEqual({ cls: c.class, online: c.online });
      expect(h.reason).not.toBe('');
      if (c.reason) expect(h.reason).toBe(c.reason);
      if (!h.online && h.cls !== 'new' && h.cls !== 'revoked') expect(h.reason).toMatch(/^Offline since /);
    });
  }
});

describe('classify', () => {
  const now = Date.parse('2025-03-01T12:00:00Z');
  const at = (msAgo: number) => new Date(now - msAgo).toISOString();
  const base = { revoked: false, connected: false, lastSeen: at(0), pending: 0, oldestPendingAt: null as string | null };

  it('uses the documented thresholds', () => {
    expect(ONLINE_MS).toBe(60_000);
    expect(AMBER_UNSEEN_MS).toBe(300_000);
    expect(AMBER_PENDING_MS).toBe(900_000);
    expect(RED_MS).toBe(3_600_000);
  });

  it('turns offline past a minute unseen, Late exactly at 5 minutes and Stalled exactly at an hour', () => {
    expect(classify(now, { ...base, lastSeen: at(ONLINE_MS) }).cls).toBe('ok');
    expect(classify(now, { ...base, lastSeen: at(AMBER_UNSEEN_MS - 1) }).cls).toBe('offline');
    expect(classify(now, { ...base, lastSeen: at(AMBER_UNSEEN_MS) }).cls).toBe('amber');
    expect(classify(now, { ...base, lastSeen: at(RED_MS - 1) }).cls).toBe('amber');
    expect(classify(now, { ...base, lastSeen: at(RED_MS) }).cls).toBe('red');
  });

  it('turns amber when the oldest pending act is 15 minutes old, even when connected', () => {
    const busy = { ...base, connected: true, pending: 2 };
    expect(classify(now, { ...busy, oldestPendingAt: at(AMBER_PENDING_MS - 1) }).cls).toBe('ok');
    const h = classify(now, { ...busy, oldestPendingAt: at(AMBER_PENDING_MS) });
    expect(h.cls).toBe('amber');
    expect(h.reason).toBe('oldest pending act waiting 15 min');
    expect(classify(now, { ...busy, oldestPendingAt: at(RED_MS) }).cls).toBe('red');
  });

  it('explains itself', () => {
    expect(classify(now, { ...base, lastSeen: at(7 * 60_000) }, DEFAULT_THRESHOLDS, utcClock).reason)
      .toBe('Offline since 11:53 — unsent work unknown (last reported: 0 waiting)');
    expect(classify(now, { ...base, pending: 3, oldestPendingAt: at(60_000) }).reason).toBe('3 waiting to be sent');
    expect(classify(now, { ...base }).reason).toBe('in sync');
  });

  it('is offline the moment the socket drops, whatever it reported', () => {
    const h = classify(now, { ...base, lastSeen: at(1000), disconnectedAt: at(1000), pending: 4, oldestPendingAt: at(30_000) }, DEFAULT_THRESHOLDS, utcClock);
    expect(h).toEqual({ cls: 'offline', online: false, reason: 'Offline since 11:59 — unsent work unknown (last reported: 4 waiting)', offlineSince: now - 1000 });
  });

  it('marks a queue reported before the socket opened as being checked, and only that one', () => {
    const reopened = { ...base, connected: true, pending: 2, oldestPendingAt: at(90_000), connectedAt: at(2000) };
    expect(classify(now, { ...reopened, queueReportedAt: at(60_000) })).toEqual({ cls: 'ok', online: true, checking: true, reason: 'connected — checking its queue (last reported: 2 waiting)' });
    expect(classify(now, { ...reopened, queueReportedAt: at(2000) })).toEqual({ cls: 'ok', online: true, reason: '2 waiting to be sent' });
    expect(classify(now, { ...reopened, connected: false, disconnectedAt: at(1000), queueReportedAt: at(60_000) }).checking).toBeUndefined();
  });

  it('ignores a bad timestamp as if absent', () => {
    expect(classify(now, { ...base, lastSeen: 'yesterday' }).cls).toBe('new');
    expect(classify(now, { ...base, pending: 1, oldestPendingAt: 'soon' }).cls).toBe('ok');
  });
});

describe('humanDuration', () => {
  it.each([
    [0, '0 s'],
    [42_000, '42 s'],
    [59_999, '59 s'],
    [60_000, '1 min'],
    [7 * 60_000 + 30_000, '7 min'],
    [3 * 3_600_000 + 5 * 60_000, '3 h 05 min'],
    [47 * 3_600_000 + 59 * 60_000, '47 h 59 min'],
    [52 * 3_600_000, '2 d 4 h'],
    [-5_000, '0 s'],
  ])('%d ms is %s', (ms, want) => {
    expect(humanDuration(ms)).toBe(want);
  });
});

describe('in French', () => {
  it('says the same things in the French catalog', () => {
    setLocale('fr-FR');
    const now = Date.parse('2025-03-01T12:00:00Z');
    const base = { revoked: false, connected: false, pending: 2, oldestPendingAt: null };
    expect(classify(now, { ...base, lastSeen: '2025-03-01T11:53:00Z' }, DEFAULT_THRESHOLDS, utcClock).reason)
      .toBe('Hors ligne depuis 11:53 — travail non envoyé inconnu (dernier état connu : 2 en attente)');
    expect(classify(now, { ...base, lastSeen: '2025-02-26T03:19:00Z' }, DEFAULT_THRESHOLDS, utcClock).reason)
      .toBe('Hors ligne depuis 26 févr. 03:19 — travail non envoyé inconnu (dernier état connu : 2 en attente)');
    expect(classify(now, { ...base, connected: true, lastSeen: null, pending: 0 }).reason).toBe('synchronisé');
    const reopened = { ...base, connected: true, lastSeen: null, connectedAt: '2025-03-01T11:59:59Z' };
    expect(classify(now, { ...reopened, queueReportedAt: '2025-03-01T11:50:00Z' }).reason)
      .toBe('connecté — vérification de sa file (dernier état connu : 2 en attente)');
    expect(classify(now, { ...reopened, queueReportedAt: null }).reason).toBe('connecté — vérification de sa file (aucun état connu)');
    expect(humanDuration((2 * 24 + 4) * 3_600_000)).toBe('2 j 4 h');
    expect(healthLabel('amber')).toBe('En retard');
    setLocale('en-GB');
    expect(healthLabel('amber')).toBe('Late');
    expect(classify(now, { ...base, lastSeen: '2025-02-26T03:19:00Z' }, DEFAULT_THRESHOLDS, utcClock).reason)
      .toBe('Offline since 26 Feb 03:19 — unsent work unknown (last reported: 2 waiting)');
  });
});
