import { beforeAll, describe, expect, it } from 'vitest';
import { setLocale } from '../shared/i18n';
import { retryText } from './format';
import type { Status } from './types';

beforeAll(() => setLocale('en-GB'));

const base: Status = {
  deviceId: 'd', serverUrl: 'http://x', online: false, syncing: false, pending: 2, oldestPendingAgeSeconds: 0, likelyRejected: 0,
  rejected: 0, roles: null, needsSetup: false, now: '2026-01-05T09:00:00Z', offlineSince: '2026-01-05T08:59:00Z',
};
const now = Date.parse('2026-01-05T09:00:00Z');

describe('retryText', () => {
  it('counts down to the next attempt while offline', () => {
    expect(retryText({ ...base, retryAt: '2026-01-05T09:00:03.200Z' }, now)).toBe('Retrying in 4 s');
    expect(retryText({ ...base, retryAt: '2026-01-05T09:00:01Z' }, now)).toBe('Retrying in 1 s');
    expect(retryText({ ...base, retryAt: '2026-01-05T08:59:59Z' }, now)).toBe('Retrying now');
  });
  it('says nothing online, before setup or the first login, or between attempts', () => {
    expect(retryText({ ...base, online: true, retryAt: '2026-01-05T09:00:03Z' }, now)).toBe('');
    expect(retryText({ ...base, needsSetup: true, retryAt: '2026-01-05T09:00:03Z' }, now)).toBe('');
    expect(retryText({ ...base, waitingForLogin: true, retryAt: '2026-01-05T09:00:03Z' }, now)).toBe('');
    expect(retryText(base, now)).toBe('');
  });
});
