// Patients: search by name and/or birth date, register, and a patient's
// record (timeline) with the acts that apply to each entry for this role.
import { api, ProblemError } from '../api';
import type { Ctx } from '../ctx';
import { h, replace, confirmButton } from '../../shared/dom';
import { DatePattern, datePlaceholder, parseDay, t } from '../../shared/i18n';
import { labRows } from '../clinical';
import { dayUTC, money, patientName, provenance, statusWord, when } from '../format';
import type { ActProvenance, Patient, Timeline, TimelineEntry } from '../types';
import { historyBlock, labTable } from './clinical';
import { nextActs, rowActs } from '../workflow';
import { actLabel } from '../../shared/acts';
import {
  closeForm, consultationForm, contactForm, documentForm, historyForm, paymentForm, prescriptionForm, registerForm, resultForm,
  reviewForm, rowForms, scheduleForm, vitalsForm, vitalsSummary, apptSubject, presSubject,
} from './acts';

export function patientsView(ctx: Ctx, patientId?: string): { el: HTMLElement; refresh: () => Promise<void> } {
  const role = ctx.session.user.role;
  const frontDesk = role === 'SECRETARY' || role === 'ADMIN';
  const results = h('div', { id: 'patient-results' });
  const record = h('div', { id: 'patient-record' });
  const name = h('input', { id: 'search-name', name: 'name', type: 'search', placeholder: t('search.namePlaceholder'), autocomplete: 'off', 'aria-label': t('search.name') });
  // Typed as dd/mm/yyyy: the browser's date picker would impose its own order.
  const birth = h('input', { id: 'search-birth', name: 'birthDate', type: 'text', inputmode: 'numeric', pattern: DatePattern, placeholder: datePlaceholder(), size: 10, 'aria-label': t('arg.birthDate') });
  const search = h('form', { id: 'search-form', class: 'search', role: 'search' },
    h('label', null, h('span', { class: 'label' }, t('search.name')), name),
    h('label', null, h('span', { class: 'label' }, t('arg.birthDate')), birth),
    h('button', { type: 'submit', class: 'primary' }, t('search.submit')),
    frontDesk ? h('button', { type: 'button', id: 'register-open', onclick: () => ctx.openPanel(registerForm(ctx, { lastName: name.value.trim() })) }, t('act.patient.register')) : null);
  let current = patientId;

  let shownResults = '';
  let shownRecord = '';
  const runSearch = async () => {
    try {
      const day = parseDay(birth.value);
      if (day.error) {
        shownResults = '';
        replace(results, h('p', { class: 'problem', 'data-role': 'search-problem' }, day.error));
        return;
      }
      const list = (await api.searchPatients(name.value, day.iso ?? '')) ?? [];
      const key = JSON.stringify([list, current]);
      if (key === shownResults) return;
      shownResults = key;
      replace(results, list.length === 0
        ? h('p', { class: 'empty' }, t('search.none') + (frontDesk ? ' ' + t('search.registerThem') : ''))
        : h('table', { class: 'results' },
          h('thead', null, h('tr', null, h('th', null, t('q.patient')), h('th', null, t('search.born')), h('th', null, t('patient.sex')), h('th', null, t('patient.phone')))),
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

  const renderRecord = (tl: Timeline) => {
    const p = tl.patient;
    const subject = patientName(p.firstName, p.lastName);
    const buttons = [
      frontDesk ? h('button', { type: 'button', id: 'schedule-open', class: 'primary', onclick: async () => ctx.openPanel(await scheduleForm(ctx, p)) }, t('act.appointment.schedule')) : null,
      role === 'DOCTOR' ? h('button', { type: 'button', id: 'prescribe-open', class: 'primary', onclick: () => ctx.openPanel(prescriptionForm(ctx, p.id, subject)) }, t('act.prescription.create')) : null,
      role !== 'ADMIN' ? h('button', { type: 'button', id: 'document-open', onclick: () => ctx.openPanel(documentForm(ctx, p.id, subject)) }, t('act.document.attach')) : null,
      frontDesk ? h('button', { type: 'button', id: 'contact-open', onclick: () => ctx.openPanel(contactForm(ctx, p)) }, t('patient.contact')) : null,
      role === 'NURSE' || role === 'DOCTOR' ? h('button', { type: 'button', id: 'history-open', onclick: () => ctx.openPanel(historyForm(ctx, p)) }, t('history.title')) : null,
    ];
    replace(record,
      h('div', { class: 'record-head', 'data-patient-id': p.id },
        h('h2', null, subject),
        h('p', { class: 'muted' }, [t('record.born', { date: dayUTC(p.birthDate) }), p.sex, p.phone, p.insurance ? t('record.insurance', { insurance: p.insurance }) : '',
          p.idNumber ? t('record.id', { id: p.idNumber }) : '']
          .filter(Boolean).join(' · ')),
        historyBlock(p.medicalHistory),
        h('div', { class: 'quick' }, buttons),
        provenanceList(tl.acts),
        tl.actsNote ? h('p', { class: 'muted small', id: 'acts-note' }, tl.actsNote) : null,
        tl.actsTruncated ? h('p', { class: 'muted small' }, t('record.truncated')) : null),
      tl.entries.length === 0 ? h('p', { class: 'empty' }, t('record.empty')) : h('ol', { class: 'timeline' }, tl.entries.map((e) => entry(e))));
  };

  const entry = (e: TimelineEntry): HTMLElement => {
    const acts: Array<HTMLElement | null> = [];
    let body = '';
    let table: HTMLElement | null = null;
    let head = '';
    let status = '';
    let id = '';
    if (e.appointment) {
      const a = e.appointment;
      id = a.id;
      head = t('entry.appointment', { doctor: a.doctorName || t('entry.aDoctor'), motif: a.motif });
      status = a.status;
      const parts = [];
      if (a.vitals) parts.push(t('entry.vitals', { vitals: vitalsSummary(a.vitals) }));
      if (a.consultationNotes) parts.push(t('entry.notes', { notes: a.consultationNotes }));
      if (a.billingAmount) parts.push(t('entry.billed', { amount: money(a.billingAmount), status: statusWord(a.billingStatus ?? 'PENDING') }));
      body = parts.join('\n');
      // The buttons are the acts the rule table allows this role on this
      // status (workflow.ts); a PAID bill takes no further payment.
      const apptButtons: Record<string, () => HTMLElement | null> = {
        'appointment.checkIn': () => act(t('act.appointment.checkIn'), () => api.act(ctx.userId, 'appointment.checkIn', { id: a.id }), t('acted.checkedIn', { subject: apptSubject(a) })),
        'appointment.cancel': () => confirmButton(t('q.cancelVisit'), t('q.cancelConfirm'), { class: 'small danger' }, async () => {
          try {
            await api.act(ctx.userId, 'appointment.cancel', { id: a.id });
            ctx.acted(t('acted.cancelled', { subject: apptSubject(a) }));
          } catch (err) {
            if (err instanceof ProblemError) ctx.flash(`${err.problem.code}: ${err.problem.message}`, 'warn');
          }
        }),
        'appointment.recordVitals': () => open(t('act.appointment.recordVitals'), () => vitalsForm(ctx, a.id, apptSubject(a))),
        'appointment.completeConsultation': () => open(t('q.consultButton'), () => consultationForm(ctx, a)),
        'appointment.close': () => open(t('act.appointment.close'), () => closeForm(ctx, a.id, apptSubject(a))),
        'appointment.recordPayment': () => a.billingStatus === 'PAID' ? null
          : open(t('bill.recordPayment'), () => paymentForm(ctx, a.id, apptSubject(a), a.billingStatus, a.billingAmount)),
      };
      for (const name of nextActs('appointments', a.status, role)) acts.push(apptButtons[name]?.() ?? null);
    } else if (e.prescription) {
      const x = e.prescription;
      id = x.id;
      head = t('entry.prescription', { doctor: x.doctorName || t('entry.aDoctor') });
      status = x.status;
      body = x.text;
      const presButtons: Record<string, () => HTMLElement> = {
        'prescription.sendToLab': () => act(t('act.prescription.sendToLab'), () => api.act(ctx.userId, 'prescription.sendToLab', { id: x.id }), t('acted.sentToLab', { subject: presSubject(x) })),
        'prescription.collectSample': () => act(t('q.sampleCollected'), () => api.act(ctx.userId, 'prescription.collectSample', { id: x.id }), t('acted.sample', { subject: presSubject(x) })),
        'prescription.startAnalysis': () => act(t('act.prescription.startAnalysis'), () => api.act(ctx.userId, 'prescription.startAnalysis', { id: x.id }), t('acted.analysis', { subject: presSubject(x) })),
        'result.create': () => open(t('act.result.create'), () => resultForm(ctx, x.id, presSubject(x))),
        'result.review': () => openAsync(t('q.reviewButton'), () => reviewForm(ctx, x)),
      };
      for (const name of nextActs('prescriptions', x.status, role)) acts.push(presButtons[name]?.() ?? null);
    } else if (e.result) {
      const r = e.result;
      id = r.id;
      head = t('entry.result');
      status = r.reviewedAt ? t('entry.reviewed') : t('entry.awaitingReview');
      body = r.text + (r.interpretation ? '\n' + t('entry.interpretation', { text: r.interpretation }) : '');
      const lab = labRows(r.data);
      if (lab.rows.length) table = labTable(lab.rows, lab.legacy);
    } else if (e.document) {
      const d = e.document;
      id = d.id;
      head = t('entry.document', { name: d.name });
      status = d.type;
      body = d.url;
      acts.push(...rowButtons('documents', d as unknown as { id: string } & Record<string, unknown>));
    }
    return h('li', { class: `entry ${e.kind}`, 'data-id': id, 'data-kind': e.kind, 'data-status': status },
      h('div', { class: 'when' }, when(e.at, ctx.now())),
      h('div', { class: 'what' },
        h('div', { class: 'entry-head' }, h('strong', null, head), status ? h('span', { class: 'badge' }, statusWord(status)) : null),
        body ? h('p', { class: 'pre' }, body) : null,
        table,
        provenanceList(e.acts),
        acts.length ? h('div', { class: 'entry-acts' }, acts) : null));
  };

  const provenanceList = (list: ActProvenance[] | undefined) => list?.length
    ? h('ul', { class: 'provenance small' }, list.map((p) => h('li', { 'data-state': p.state, title: p.hashPrefix ? t('prov.chainHash', { hash: p.hashPrefix }) : '' }, provenance(p, ctx.now()))))
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
  // The acts on a row whose status does not count, from the rule table:
  // those with a form (rowForms).
  const rowButtons = (table: string, row: { id: string } & Record<string, unknown>) =>
    rowActs(table, role).filter((n) => rowForms[n]).map((n) => open(actLabel(n), () => rowForms[n].onRow(ctx, row)));
  const openAsync = (label: string, form: () => Promise<HTMLElement>) => h('button', { type: 'button', class: 'primary small', onclick: async () => ctx.openPanel(await form()) }, label);

  const el = h('div', { class: 'content-inner' }, h('h1', null, t('nav.patients')), search, results, record);
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
