import { describe, expect, it } from 'vitest';
import { nextActs, transitions } from './workflow';

describe('nextActs', () => {
  it('offers the acts the rule table allows, in its order', () => {
    expect(nextActs('appointments', 'SCHEDULED', 'SECRETARY')).toEqual(['appointment.checkIn', 'appointment.cancel']);
    expect(nextActs('appointments', 'SCHEDULED', 'ADMIN')).toEqual(['appointment.cancel']);
    expect(nextActs('appointments', 'CHECKED_IN', 'NURSE')).toEqual(['appointment.recordVitals']);
    expect(nextActs('appointments', 'CANCELLED', 'SECRETARY')).toEqual([]);
    expect(nextActs('prescriptions', 'RESULTS_AVAILABLE', 'DOCTOR')).toEqual(['result.review']);
    expect(nextActs('prescriptions', 'RESULTS_AVAILABLE', 'NURSE')).toEqual([]);
  });
  it('reads a table where every status-moving act says where it leads', () => {
    for (const t of transitions) {
      if (t.act !== 'appointment.recordPayment') expect(t.to, t.act).not.toBe('');
    }
  });
});
