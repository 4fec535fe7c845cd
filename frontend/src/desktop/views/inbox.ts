// The acts waiting to be sent, and the inbox of acts the server refused:
// the reason in plain words, every value as it was typed, "copy into a new
// entry" (the act's form, filled in; the new act re-issues the rejected one)
// and "close with a reason" (queued to the server, which records who closed
// it, when and why). A rejected act stays listed until it is resolved;
// nothing is ever deleted.
import { api, ProblemError } from '../api';
import type { Ctx } from '../ctx';
import { h, replace } from '../../shared/dom';
import { actLabel, closeReasonProblem, fieldLabel, MaxReasonChars, pendingState, reason, reviewLine, typedValues, when } from '../format';
import type { AppointmentView, Copied, PendingAct, PrescriptionView, RejectedAct } from '../types';
import {
  closeForm, consultationForm, contactForm, documentForm, historyForm, paymentForm, prescriptionForm, registerForm, resultForm, reviewForm,
  scheduleForm, vitalsForm, type PatientPrefill, type VitalsPrefill,
} from './acts';

export function waitingView(ctx: Ctx): { el: HTMLElement; refresh: () => Promise<void> } {
  const list = h('div', { id: 'waiting-list' });
  const el = h('div', { class: 'content-inner' },
    h('h1', null, 'Waiting to be sent'),
    h('p', { class: 'muted' }, 'Acts done on this workstation that the server has not confirmed yet. They are kept safely here and sent as soon as the server can be reached.'),
    h('div', { class: 'quick' }, h('button', { type: 'button', id: 'sync-now', onclick: () => void api.syncNow() }, 'Send now')),
    list);
  let shown = '';
  const refresh = async () => {
    const items: PendingAct[] = (await api.pending()) ?? [];
    const key = JSON.stringify(items);
    if (key === shown) return;
    shown = key;
    replace(list, items.length === 0
      ? h('p', { class: 'empty' }, 'Nothing is waiting: the server has everything done here.')
      : h('table', null,
        h('thead', null, h('tr', null, h('th', null, 'Done at'), h('th', null, 'Act'), h('th', null, 'By'), h('th', null, 'State'))),
        h('tbody', null, items.map((p) => h('tr', { 'data-id': p.id, class: p.likelyRejection ? 'warn' : p.waitingFor ? 'hold' : null },
          h('td', null, when(p.occurredAt, ctx.now())),
          h('td', null, actLabel(p.name)),
          h('td', null, p.authorName),
          h('td', null, pendingState(p)))))));
  };
  return { el, refresh };
}

export function rejectedView(ctx: Ctx): { el: HTMLElement; refresh: () => Promise<void> } {
  const list = h('div', { id: 'rejected-list' });
  const all = h('input', { type: 'checkbox', id: 'show-resolved' });
  all.addEventListener('change', () => void refresh());
  const el = h('div', { class: 'content-inner' },
    h('h1', null, 'Rejected'),
    h('p', { class: 'muted' }, 'Acts the server refused. Each stays here until it is resolved: copy it into a new entry to do it again (adapted), or close it with a written reason. Nothing typed is lost.'),
    h('label', { class: 'check' }, all, ' Show resolved ones too'),
    list);
  let shown = '';
  const refresh = async () => {
    const items: RejectedAct[] = (await api.rejected(all.checked)) ?? [];
    const key = JSON.stringify([items, all.checked]);
    if (key === shown) return;
    shown = key;
    replace(list, items.length === 0
      ? h('p', { class: 'empty' }, all.checked ? 'Nothing was refused.' : 'No rejected act is waiting for you.')
      : h('ul', { class: 'rejected' }, items.map((r) => card(ctx, r, refresh))));
  };
  return { el, refresh };
}

function card(ctx: Ctx, r: RejectedAct, refresh: () => Promise<void>): HTMLElement {
  const rows = typedValues(r.args, r.rejection.field ?? '');
  const open = r.state === 'open';
  const closer = closeBox(ctx, r, refresh);
  return h('li', { class: 'card' + (open ? '' : ' resolved'), 'data-id': r.id, 'data-code': r.rejection.code, 'data-state': r.state },
    h('div', { class: 'card-head' },
      h('strong', null, actLabel(r.name)),
      h('span', { class: 'muted' }, ` by ${r.authorName}, ${when(r.occurredAt, ctx.now())}; refused ${when(r.rejectedAt, ctx.now())}`)),
    h('p', { class: 'reason', 'data-role': 'reason' }, h('strong', null, reason(r.rejection) + '. '), r.rejection.message),
    h('p', { class: 'muted small' }, `Code ${r.rejection.code}${r.rejection.field ? `, field ${r.rejection.field}` : ''}`),
    h('p', { class: open ? 'review' : 'review muted', 'data-role': 'review' }, reviewLine(r, ctx.now())),
    h('table', { class: 'typed' },
      h('caption', null, 'As typed'),
      h('tbody', null, rows.map((v) => h('tr', { class: v.flagged ? 'flagged' : null },
        h('th', null, fieldLabel(v.path), ' ', h('code', null, v.path)), h('td', null, v.text))))),
    h('div', { class: 'actions' },
      h('button', {
        type: 'button', class: open ? 'primary' : null, 'data-role': 'copy', onclick: async () => {
          try {
            const c = await api.copyRejected(r.id);
            const form = await copyForm(ctx, c);
            // Only an open act is re-issued; a copy of a resolved one is a
            // plain new entry.
            if (open) form.dataset.reissueOf = r.id;
            ctx.openPanel(form);
          } catch (err) {
            ctx.flash(err instanceof ProblemError ? err.problem.message : String(err), 'warn');
          }
        },
      }, 'Copy into a new entry'),
      open ? closer.button : null),
    open ? closer.box : null);
}

/** closeBox is "close with a reason": a required reason, then the close is queued. */
function closeBox(ctx: Ctx, r: RejectedAct, refresh: () => Promise<void>): { button: HTMLElement; box: HTMLElement } {
  const text = h('textarea', { 'data-role': 'close-reason', rows: 2, maxlength: MaxReasonChars, placeholder: 'Why does this act need nothing more? (required, kept in the audit log)' }) as HTMLTextAreaElement;
  const problem = h('p', { class: 'problem', role: 'alert', hidden: true });
  const send = async () => {
    const p = closeReasonProblem(text.value);
    if (p) {
      problem.textContent = p;
      problem.hidden = false;
      text.focus();
      return;
    }
    try {
      await api.closeRejected(ctx.userId, r.id, text.value.trim());
      ctx.flash('Closed. The reason goes to the server with the next sync; the act stays under "Show resolved ones too".');
      await refresh();
    } catch (err) {
      problem.textContent = err instanceof ProblemError ? `${err.problem.code}: ${err.problem.message}` : String(err);
      problem.hidden = false;
    }
  };
  const box = h('div', { class: 'close-box', 'data-role': 'close-box', hidden: true },
    h('label', null, 'Reason for closing', text),
    problem,
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'primary', 'data-role': 'close-send', onclick: () => void send() }, 'Close this act'),
      h('button', { type: 'button', onclick: () => { box.hidden = true; } }, 'Cancel')));
  const button = h('button', {
    type: 'button', 'data-role': 'close', onclick: () => {
      box.hidden = false;
      text.focus();
    },
  }, 'Close with a reason…');
  return { button, box };
}

const str = (x: unknown) => (typeof x === 'string' ? x : x === undefined || x === null ? '' : String(x));

/** copyForm opens the form of a rejected act, filled in with what was typed. */
export async function copyForm(ctx: Ctx, c: Copied): Promise<HTMLElement> {
  const a = c.args ?? {};
  const note = 'Copied from a rejected entry';
  const patient = async (id: string) => {
    try {
      return (await api.timeline(ctx.userId, id)).patient;
    } catch {
      return undefined;
    }
  };
  const stubAppt = (id: string): AppointmentView => ({
    id, date: '', motif: note, status: 'IN_CONSULTATION', vitals: null, medicalHistoryNotes: null, consultationNotes: null, checkedInAt: null,
    vitalsEnteredAt: null, consultedAt: null, closedAt: null, billingAmount: null, billingStatus: null, patientId: '', doctorId: '',
    patientFirstName: '', patientLastName: 'Appointment ' + id.slice(0, 8), doctorName: '',
  });
  switch (c.name) {
    case 'appointment.recordVitals':
      return vitalsForm(ctx, str(a.id), `${note} (appointment ${str(a.id).slice(0, 8)})`, { vitals: a.vitals as VitalsPrefill['vitals'], medicalHistoryNotes: str(a.medicalHistoryNotes) });
    case 'appointment.completeConsultation':
      return consultationForm(ctx, stubAppt(str(a.id)), str(a.consultationNotes));
    case 'appointment.close':
      return closeForm(ctx, str(a.id), `${note} (appointment ${str(a.id).slice(0, 8)})`, { billingAmount: str(a.billingAmount), billingStatus: str(a.billingStatus) });
    case 'appointment.recordPayment':
      return paymentForm(ctx, str(a.id), `${note} (appointment ${str(a.id).slice(0, 8)})`, null);
    case 'appointment.schedule': {
      const p = await patient(str(a.patientId));
      return scheduleForm(ctx, p ?? { id: str(a.patientId), firstName: '', lastName: 'Patient ' + str(a.patientId).slice(0, 8) },
        { doctorId: str(a.doctorId), date: str(a.date), motif: str(a.motif) });
    }
    case 'patient.register':
      return registerForm(ctx, a as PatientPrefill);
    case 'patient.update': {
      const p = await patient(str(a.id));
      if (p && 'medicalHistory' in a) return historyForm(ctx, { ...p, medicalHistory: a.medicalHistory });
      if (p) return contactForm(ctx, { ...p, ...(a as object) });
      break;
    }
    case 'prescription.create': {
      const p = await patient(str(a.patientId));
      return prescriptionForm(ctx, str(a.patientId), p ? `${p.lastName.toUpperCase()} ${p.firstName}` : note, str(a.text));
    }
    case 'result.create':
      return resultForm(ctx, str(a.prescriptionId), `${note} (prescription ${str(a.prescriptionId).slice(0, 8)})`,
        { text: str(a.text), data: a.data === undefined ? '' : JSON.stringify(a.data) });
    case 'result.review': {
      const stub = { id: '', resultId: str(a.id), patientId: '', patientFirstName: '', patientLastName: note, text: '' } as unknown as PrescriptionView;
      return reviewForm(ctx, stub, str(a.interpretation));
    }
    case 'document.attach': {
      const p = await patient(str(a.patientId));
      return documentForm(ctx, str(a.patientId), p ? `${p.lastName.toUpperCase()} ${p.firstName}` : note, { name: str(a.name), type: str(a.type), url: str(a.url) });
    }
  }
  // Acts with nothing typed but the row: offer to do them again.
  const again: Record<string, (u: string, id: string) => Promise<unknown>> = {
    'appointment.checkIn': api.checkIn,
    'appointment.cancel': api.cancelAppointment,
    'prescription.sendToLab': api.sendToLab,
    'prescription.collectSample': api.collectSample,
    'prescription.startAnalysis': api.startAnalysis,
  };
  const fn = again[c.name];
  const problem = h('p', { class: 'problem', role: 'alert', hidden: true });
  return h('div', { class: 'act-form', id: 'again-form' },
    h('h2', null, actLabel(c.name)),
    h('p', { class: 'subtitle' }, `${note}: nothing was typed but the record (${str(a.id).slice(0, 8)}).`),
    problem,
    h('div', { class: 'actions' },
      fn ? h('button', {
        type: 'button', class: 'primary', autofocus: true, onclick: async () => {
          try {
            await fn(ctx.userId, str(a.id));
            ctx.openPanel(null);
            ctx.acted(`${actLabel(c.name)}: done again.`);
          } catch (err) {
            problem.textContent = err instanceof ProblemError ? `${err.problem.code}: ${err.problem.message}` : String(err);
            problem.hidden = false;
          }
        },
      }, 'Do it again') : null,
      h('button', { type: 'button', onclick: () => ctx.openPanel(null) }, 'Close')));
}
