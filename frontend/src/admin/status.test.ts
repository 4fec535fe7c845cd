import { describe, expect, it } from 'vitest';
import shared from './status-cases.json';
import { AMBER_PENDING_MS, AMBER_UNSEEN_MS, classify, humanDuration, ONLINE_MS, RED_MS } from './status';

// The same cases as the server's TestClassifySharedCases: the colour the
// page shows is the colour the server computes.
describe('classify: the shared cases', () => {
  const now = Date.parse(shared.now);
  for (const c of shared.cases) {
    it(c.name, () => {
      const h = classify(now, c);
      expect({ cls: h.cls, online: h.online }).toEqual({ cls: c.class, online: c.online });
      expect(h.reason).not.toBe('');
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

  it('turns amber exactly at 5 minutes unseen and red exactly at an hour', () => {
    expect(classify(now, { ...base, lastSeen: at(AMBER_UNSEEN_MS - 1) }).cls).toBe('ok');
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
    expect(classify(now, { ...base, lastSeen: at(7 * 60_000) }).reason).toBe('not seen for 7 min');
    expect(classify(now, { ...base, pending: 3, oldestPendingAt: at(60_000) }).reason).toBe('3 pending');
    expect(classify(now, { ...base }).reason).toBe('in sync');
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
