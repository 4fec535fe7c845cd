import { describe, expect, it } from 'vitest';
import { changeText, KIND_LABELS } from './views/security';

describe('security log', () => {
  it('shows before and after as JSON, either side optional', () => {
    expect(changeText({ before: { role: 'NURSE' }, after: { role: 'SECRETARY' } })).toBe('{"role":"NURSE"} → {"role":"SECRETARY"}');
    expect(changeText({ after: { name: 'Ward 9' } })).toBe('{"name":"Ward 9"}');
    expect(changeText({})).toBe('');
  });
  it('names every kind the server logs', () => {
    // server/postgres/security.go EventKinds, in order.
    expect(Object.keys(KIND_LABELS)).toEqual([
      'login', 'login_failed', 'logout', 'session_expired',
      'user_create', 'user_disable', 'user_enable', 'user_role', 'user_password',
      'device_register', 'device_code', 'device_claim', 'device_revoke',
      'patient_merge', 'duplicate_dismiss', 'review_resolve', 'setting_change',
    ]);
  });
});
