import { describe, expect, it } from 'vitest';
import { acts, nextActs, rowActs, transitions } from './workflow';
import { en } from '../shared/i18n/en';
import { fr } from '../shared/i18n/fr';

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

describe('acts', () => {
  it('lists every act of the rule table, with its words in both languages', () => {
    expect(acts.map((a) => a.act)).toContain('document.attach');
    for (const a of acts.filter((x) => !x.online)) {
      for (const key of [`act.${a.act}`, `done.${a.act}`]) {
        expect(en, key).toHaveProperty([key]);
        expect(fr, key).toHaveProperty([key]);
      }
    }
  });
  it('offers on a row whose status does not count only the acts no transition names', () => {
    const moving = new Set(transitions.map((t) => t.act));
    for (const a of acts) {
      for (const role of a.roles) {
        const offered = rowActs(a.table, role).includes(a.act);
        expect(offered, `${a.act} for ${role}`).toBe(!a.creates && !a.online && !moving.has(a.act));
      }
    }
    expect(rowActs('documents', 'NURSE')).not.toContain('document.attach'); // it creates its row
    expect(rowActs('appointments', 'SECRETARY')).toEqual([]); // their acts follow the status
  });
});
