// Patients: search by name and/or birth date, register, and a patient's
// record (timeline) with the acts that apply to each entry for this role.
import { api, ProblemError } from '../api';
import type { Ctx } from '../ctx';
import { h, replace, confirmButton } from '../../shared/dom';
import { dayUTC, patientName, provenance, statusWords, when } from '../format';
import type { ActProvenance, Patient, Timeline, TimelineEntry } from '../types';
import {
  closeForm, consultationForm, contactForm, documentForm, historyForm, paymentForm, prescriptionForm, registerForm, resultForm,
  reviewForm, scheduleForm, vitalsForm, vitalsSummary, apptSubject, presSubject,
} from './acts';

export function patientsView(ctx: Ctx, patientId?: string): { el: HTMLElement; refresh: () => Promise<void> } {
  const role = ctx.session.user.role;
  const frontDesk = role === 'SECRETARY' || role === 'ADMIN';
  const results = h('div', { id: 'patient-results' });
  const record = h('div', { id: 'patient-record' });
  const name = h('input', { id: 'search-name', name: 'name', type: 'search', placeholder: 'Last or first name', autocomplete: 'off', 'aria-label': 'Name' });
  const birth = h('input', { id: 'search-birth', name: 'birthDate', type: 'date', 'aria-label': 'Birth date' });
  const search = h('form', { id: 'search-form', class: 'search', role: 'search' },
    h('label', null, h('span', { class: 'label' }, 'Name'), name),
    h('label', null, h('span', { class: 'label' }, 'Birth date'), birth),
    h('button', { type: 'submit', class: 'primary' }, 'Search'),
    frontDesk ? h('button', { type: 'button', id: 'register-open', onclick: () => ctx.openPanel(registerForm(ctx, { lastName: name.value.trim() })) }, 'Register a patient') : null);
  let current = patientId;

  let shownResults = '';
  let shownRecord = '';
  const runSearch = async () => {
    try {
      const list = (await api.searchPatients(name.value, birth.value)) ?? [];
      const key = JSON.stringify([list, current]);
      if (key === shownResults) return;
      shownResults = key;
      replace(results, list.length === 0
        ? h('p', { class: 'empty' }, 'No patient matches.' + (frontDesk ? ' Register them with "Register a patient".' : ''))
        : h('table', { class: 'results' },
          h('thead', null, h('tr', null, h('th', null, 'Patient'), h('th', null, 'Born'), h('th', null, 'Sex'), h('th', null, 'Phone'))),
          h('tbody', null, list.map((p) => h('tr', { 'data-id': p.id, class: p.id === current ? 'selected' : null },
            h('td', null, h('button', { type: 'button', class: 'link', onclick: () => show(p.id) }, patientName(p.firstName, p.lastName))),
            h('td', null, dayUTC(p.birthDate)), h('td', null, p.sex), h('td', null, p.phone))))));
    } catch (err) {
      replace(results, h('p', { class: 'problem' }, err instanceof ProblemError ? err.problem.message : String(err)));
    }
  };
  search.addEventListener('submit', (e) => {
    e.preventDefault();
    void runSearch();
  });

  const show = async (id: string) => {
    current = id;
    try {
      const t = await api.timeline(ctx.userId, id);
      const key = JSON.stringify([t, role]);
      if (key === shownRecord) return;
      shownRecord = key;
      renderRecord(t);
    } catch (err) {
      shownRecord = '';
      replace(record, h('p', { class: 'problem' }, err instanceof ProblemError ? err.problem.message : String(err)));
    }
  };

  const renderRecord = (t: Timeline) => {
    const p = t.patient;
    const subject = patientName(p.firstName, p.lastName);
    const buttons = [
      frontDesk ? h('button', { type: 'button', id: 'schedule-open', class: 'primary', onclick: async () => ctx.openPanel(await scheduleForm(ctx, p)) }, 'Schedule an appointment') : null,
      role === 'DOCTOR' ? h('button', { type: 'button', id: 'prescribe-open', class: 'primary', onclick: () => ctx.openPanel(prescriptionForm(ctx, p.id, subject)) }, 'Write a prescription') : null,
      role !== 'ADMIN' ? h('button', { type: 'button', id: 'document-open', onclick: () => ctx.openPanel(documentForm(ctx, p.id, subject)) }, 'Attach a document') : null,
      frontDesk ? h('button', { type: 'button', id: 'contact-open', onclick: () => ctx.openPanel(contactForm(ctx, p)) }, 'Contact details') : null,
      role === 'NURSE' || role === 'DOCTOR' ? h('button', { type: 'button', id: 'history-open', onclick: () => ctx.openPanel(historyForm(ctx, p)) }, 'Medical history') : null,
    ];
    replace(record,
      h('div', { class: 'record-head', 'data-patient-id': p.id },
        h('h2', null, subject),
        h('p', { class: 'muted' }, [`Born ${dayUTC(p.birthDate)}`, p.sex, p.phone, p.insurance ? `insurance ${p.insurance}` : '', p.idNumber ? `ID ${p.idNumber}` : '']
          .filter(Boolean).join(' · ')),
        p.medicalHistory ? h('p', { class: 'pre small' }, 'History: ' + JSON.stringify(p.medicalHistory)) : null,
        h('div', { class: 'quick' }, buttons),
        provenanceList(t.acts),
        t.actsNote ? h('p', { class: 'muted small', id: 'acts-note' }, t.actsNote) : null,
        t.actsTruncated ? h('p', { class: 'muted small' }, "Only the record's most recent acts are listed; the dashboard's audit search has them all.") : null),
      t.entries.length === 0 ? h('p', { class: 'empty' }, 'Nothing recorded yet.') : h('ol', { class: 'timeline' }, t.entries.map((e) => entry(e))));
  };

  const entry = (e: TimelineEntry): HTMLElement => {
    const acts: Array<HTMLElement | null> = [];
    let body = '';
    let head = '';
    let status = '';
    let id = '';
    if (e.appointment) {
      const a = e.appointment;
      id = a.id;
      head = `Appointment with ${a.doctorName || 'a doctor'}: ${a.motif}`;
      status = a.status;
      const parts = [];
      if (a.vitals) parts.push(`Vitals: ${vitalsSummary(a.vitals)}`);
      if (a.consultationNotes) parts.push(`Notes: ${a.consultationNotes}`);
      if (a.billingAmount) parts.push(`Billed ${a.billingAmount} (${statusWords[a.billingStatus ?? 'PENDING']})`);
      body = parts.join('\n');
      if (role === 'SECRETARY' && a.status === 'SCHEDULED') acts.push(act('Check in', () => api.checkIn(ctx.userId, a.id), `Checked in: ${apptSubject(a)}.`));
      if (frontDesk && (a.status === 'SCHEDULED' || a.status === 'CHECKED_IN')) {
        acts.push(confirmButton('Cancel', 'Click again to cancel', { class: 'small danger' }, async () => {
          try {
            await api.cancelAppointment(ctx.userId, a.id);
            ctx.acted(`Appointment cancelled: ${apptSubject(a)}.`);
          } catch (err) {
            if (err instanceof ProblemError) ctx.flash(`${err.problem.code}: ${err.problem.message}`, 'warn');
          }
        }));
      }
      if (role === 'NURSE' && a.status === 'CHECKED_IN') acts.push(open('Record vitals', () => vitalsForm(ctx, a.id, apptSubject(a))));
      if (role === 'DOCTOR' && a.status === 'IN_CONSULTATION') acts.push(open('Consult', () => consultationForm(ctx, a)));
      if (role === 'SECRETARY' && a.status === 'CONSULTATION_COMPLETED') acts.push(open('Close and bill', () => closeForm(ctx, a.id, apptSubject(a))));
      if (role === 'SECRETARY' && a.status === 'COMPLETED' && a.billingStatus !== 'PAID') acts.push(open('Record payment', () => paymentForm(ctx, a.id, apptSubject(a), a.billingStatus)));
    } else if (e.prescription) {
      const x = e.prescription;
      id = x.id;
      head = `Prescription by ${x.doctorName || 'a doctor'}`;
      status = x.status;
      body = x.text;
      if (role === 'DOCTOR' && x.status === 'CREATED') acts.push(act('Send to the lab', () => api.sendToLab(ctx.userId, x.id), `Sent to the lab: ${presSubject(x)}.`));
      if (role === 'NURSE' && x.status === 'SENT_TO_LAB') acts.push(act('Sample collected', () => api.collectSample(ctx.userId, x.id), `Sample collected: ${presSubject(x)}.`));
      if (role === 'BIOLOGIST' && x.status === 'SAMPLE_COLLECTED') acts.push(act('Start analysis', () => api.startAnalysis(ctx.userId, x.id), `Analysis started: ${presSubject(x)}.`));
      if (role === 'BIOLOGIST' && x.status === 'IN_PROGRESS') acts.push(open('Enter result', () => resultForm(ctx, x.id, presSubject(x))));
      if (role === 'DOCTOR' && x.status === 'RESULTS_AVAILABLE') acts.push(openAsync('Review', () => reviewForm(ctx, x)));
    } else if (e.result) {
      const r = e.result;
      id = r.id;
      head = 'Lab result';
      status = r.reviewedAt ? 'Reviewed' : 'Awaiting review';
      body = r.text + (r.data ? `\nValues: ${JSON.stringify(r.data)}` : '') + (r.interpretation ? `\nInterpretation: ${r.interpretation}` : '');
    } else if (e.document) {
      const d = e.document;
      id = d.id;
      head = `Document: ${d.name}`;
      status = d.type;
      body = d.url;
    }
    return h('li', { class: `entry ${e.kind}`, 'data-id': id, 'data-kind': e.kind, 'data-status': status },
      h('div', { class: 'when' }, when(e.at, ctx.now())),
      h('div', { class: 'what' },
        h('div', { class: 'entry-head' }, h('strong', null, head), status ? h('span', { class: 'badge' }, statusWords[status] ?? status) : null),
        body ? h('p', { class: 'pre' }, body) : null,
        provenanceList(e.acts),
        acts.length ? h('div', { class: 'entry-acts' }, acts) : null));
  };

  const provenanceList = (list: ActProvenance[] | undefined) => list?.length
    ? h('ul', { class: 'provenance small' }, list.map((p) => h('li', { 'data-state': p.state, title: p.hashPrefix ? `chain hash ${p.hashPrefix}…` : '' }, provenance(p, ctx.now()))))
    : null;

  const act = (label: string, fn: () => Promise<unknown>, done: string) =>
    h('button', {
      type: 'button', class: 'primary small', onclick: async () => {
        try {
          await fn();
          ctx.acted(done);
        } catch (err) {
          ctx.flash(err instanceof ProblemError ? `${err.problem.code}: ${err.problem.message}` : String(err), 'warn');
        }
      },
    }, label);
  const open = (label: string, form: () => HTMLElement) => h('button', { type: 'button', class: 'primary small', onclick: () => ctx.openPanel(form()) }, label);
  const openAsync = (label: string, form: () => Promise<HTMLElement>) => h('button', { type: 'button', class: 'primary small', onclick: async () => ctx.openPanel(await form()) }, label);

  const el = h('div', { class: 'content-inner' }, h('h1', null, 'Patients'), search, results, record);
  const refresh = async () => {
    if (results.childElementCount > 0 || name.value || birth.value) await runSearch();
    if (current) await show(current);
  };
  queueMicrotask(() => name.focus());
  void (async () => {
    if (patientId) {
      await show(patientId);
    }
  })();
  return { el, refresh };
}

export type { Patient };
