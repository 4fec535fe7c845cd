// The acts waiting to be sent, and the inbox of acts the server refused:
// the reason in plain words, every value as it was typed, "copy into a new
// entry" (the act's form, filled in; the new act re-issues the rejected one)
// and "close with a reason" (queued to the server, which records who closed
// it, when and why). A rejected act stays listed until it is resolved;
// nothing is ever deleted.
import { api, ProblemError } from '../api';
import type { Ctx } from '../ctx';
import { h, replace } from '../../shared/dom';
import { t } from '../../shared/i18n';
import { plainMessage } from '../../shared/acts';
import { transitions } from '../workflow';
import {
  actDone, actLabel, closeReasonProblem, fieldLabel, isIdPath, MaxReasonChars, pendingState, reason, reviewLine, subjectLine, typedValues, when,
} from '../format';
import type { ActSubject, AppointmentView, Copied, PendingAct, PrescriptionView, RejectedAct } from '../types';
import {
  closeForm, consultationForm, contactForm, documentForm, historyForm, paymentForm, prescriptionForm, registerForm, resultForm, reviewForm, rowForms,
  scheduleForm, vitalsForm, type PatientPrefill, type VitalsPrefill,
} from './acts';

/**
 * details is the "Details" disclosure of an act line: what a person does
 * not need to read the line (the act's internal name, row ids, states,
 * argument names), kept for whoever must trace it.
 */
function details(rows: Array<[string, string]>, extra?: HTMLElement | null): HTMLElement {
  return h('details', { class: 'details', 'data-role': 'details' },
    h('summary', null, t('details.summary')),
    h('dl', { class: 'facts small' }, rows.filter(([, v]) => v !== '').map(([k, v]) => [h('dt', null, k), h('dd', null, h('code', null, v))])),
    extra ?? null);
}

function subjectEl(s: ActSubject | undefined): HTMLElement {
  const line = subjectLine(s);
  return h('span', { class: 'subject', 'data-role': 'subject' }, line || t('subject.none'));
}

export function waitingView(ctx: Ctx): { el: HTMLElement; refresh: () => Promise<void> } {
  const list = h('div', { id: 'waiting-list' });
  const el = h('div', { class: 'content-inner' },
    h('h1', null, t('waiting.title')),
    h('p', { class: 'muted' }, t('waiting.intro')),
    h('div', { class: 'quick' }, h('button', { type: 'button', id: 'sync-now', onclick: () => void api.syncNow() }, t('waiting.sendNow'))),
    list);
  let shown = '';
  const refresh = async () => {
    const items: PendingAct[] = (await api.pending()) ?? [];
    const key = JSON.stringify(items);
    if (key === shown) return;
    shown = key;
    replace(list, items.length === 0
      ? h('p', { class: 'empty' }, t('waiting.empty'))
      : h('table', null,
        h('thead', null, h('tr', null, h('th', null, t('waiting.doneAt')), h('th', null, t('waiting.act')), h('th', null, t('waiting.patient')),
          h('th', null, t('waiting.by')), h('th', null, t('waiting.state')))),
        h('tbody', null, items.map((p) => h('tr', { 'data-id': p.id, class: p.likelyRejection ? 'warn' : p.waitingFor ? 'hold' : null },
          h('td', null, when(p.occurredAt, ctx.now())),
          h('td', null, actDone(p.name)),
          h('td', null, subjectEl(p.subject)),
          h('td', null, p.authorName),
          h('td', null, pendingState(p),
            details([[t('details.act'), p.name], [t('details.seq'), String(p.seq)], [t('details.mutation'), p.id],
              ...typedValues(p.args).filter((v) => isIdPath(v.path)).map((v): [string, string] => [v.path, v.text])])))))));
  };
  return { el, refresh };
}

export function rejectedView(ctx: Ctx): { el: HTMLElement; refresh: () => Promise<void> } {
  const list = h('div', { id: 'rejected-list' });
  const all = h('input', { type: 'checkbox', id: 'show-resolved' });
  all.addEventListener('change', () => void refresh());
  const el = h('div', { class: 'content-inner' },
    h('h1', null, t('rejected.title')),
    h('p', { class: 'muted' }, t('rejected.intro')),
    h('label', { class: 'check' }, all, ' ', t('rejected.showResolved')),
    list);
  let shown = '';
  const refresh = async () => {
    const items: RejectedAct[] = (await api.rejected(all.checked)) ?? [];
    const key = JSON.stringify([items, all.checked]);
    if (key === shown) return;
    shown = key;
    replace(list, items.length === 0
      ? h('p', { class: 'empty' }, all.checked ? t('rejected.noneAtAll') : t('rejected.none'))
      : h('ul', { class: 'rejected' }, items.map((r) => card(ctx, r, refresh))));
  };
  return { el, refresh };
}

function card(ctx: Ctx, r: RejectedAct, refresh: () => Promise<void>): HTMLElement {
  const rows = typedValues(r.args, r.rejection.field ?? '');
  const typed = rows.filter((v) => !isIdPath(v.path));
  const ids = rows.filter((v) => isIdPath(v.path));
  const open = r.state === 'open';
  const closer = closeBox(ctx, r, refresh);
  return h('li', { class: 'card' + (open ? '' : ' resolved'), 'data-id': r.id, 'data-code': r.rejection.code, 'data-state': r.state },
    h('div', { class: 'card-head' },
      h('strong', { 'data-role': 'act' }, actDone(r.name)),
      ' — ', subjectEl(r.subject)),
    h('p', { class: 'muted', 'data-role': 'who' }, t('rejected.who', { by: r.authorName, when: when(r.occurredAt, ctx.now()), refused: when(r.rejectedAt, ctx.now()) })),
    h('p', { class: 'reason', 'data-role': 'reason' }, h('strong', null, reason(r.rejection) + '. '), plainMessage(r.rejection.message, r.subject)),
    h('p', { class: open ? 'review' : 'review muted', 'data-role': 'review' }, reviewLine(r, ctx.now())),
    typed.length ? h('table', { class: 'typed' },
      h('caption', null, t('rejected.asTyped')),
      h('tbody', null, typed.map((v) => h('tr', { class: v.flagged ? 'flagged' : null, 'data-path': v.path },
        h('th', null, fieldLabel(v.path)), h('td', null, v.text))))) : null,
    details([
      [t('details.act'), r.name],
      [t('details.code'), r.rejection.code],
      [t('details.message'), r.rejection.message],
      [t('details.field'), r.rejection.field ?? ''],
      [t('details.state'), r.state],
      [t('details.seq'), String(r.seq)],
      [t('details.mutation'), r.id],
      ...ids.map((v): [string, string] => [v.path, v.text]),
      ...typed.map((v): [string, string] => [fieldLabel(v.path), v.path]),
    ]),
    h('div', { class: 'actions' },
      h('button', {
        type: 'button', class: open ? 'primary' : null, 'data-role': 'copy', onclick: async () => {
          try {
            const c = await api.copyRejected(r.id);
            const form = await copyForm(ctx, c, r.subject);
            // Only an open act is re-issued; a copy of a resolved one is a
            // plain new entry.
            if (open) form.dataset.reissueOf = r.id;
            ctx.openPanel(form);
          } catch (err) {
            ctx.flash(err instanceof ProblemError ? err.problem.message : String(err), 'warn');
          }
        },
      }, t('rejected.copy')),
      open ? closer.button : null),
    open ? closer.box : null);
}

/** closeBox is "close with a reason": a required reason, then the close is queued. */
function closeBox(ctx: Ctx, r: RejectedAct, refresh: () => Promise<void>): { button: HTMLElement; box: HTMLElement } {
  const text = h('textarea', { 'data-role': 'close-reason', rows: 2, maxlength: MaxReasonChars, placeholder: t('close.placeholder') }) as HTMLTextAreaElement;
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
      ctx.flash(t('close.done'));
      await refresh();
    } catch (err) {
      problem.textContent = err instanceof ProblemError ? `${err.problem.code}: ${err.problem.message}` : String(err);
      problem.hidden = false;
    }
  };
  const box = h('div', { class: 'close-box', 'data-role': 'close-box', hidden: true },
    h('label', null, t('close.reason'), text),
    problem,
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'primary', 'data-role': 'close-send', onclick: () => void send() }, t('close.send')),
      h('button', { type: 'button', onclick: () => { box.hidden = true; } }, t('form.cancel'))));
  const button = h('button', {
    type: 'button', 'data-role': 'close', onclick: () => {
      box.hidden = false;
      text.focus();
    },
  }, t('close.open'));
  return { button, box };
}

const str = (x: unknown) => (typeof x === 'string' ? x : x === undefined || x === null ? '' : String(x));

/** copyForm opens the form of a rejected act, filled in with what was typed. */
export async function copyForm(ctx: Ctx, c: Copied, subject?: ActSubject): Promise<HTMLElement> {
  const a = c.args ?? {};
  const note = t('copy.note');
  // The copy names the patient and visit, never a row id.
  const about = subjectLine(subject);
  const noted = about ? `${note} — ${about}` : note;
  const patient = async (id: string) => {
    try {
      return (await api.timeline(ctx.userId, id)).patient;
    } catch {
      return undefined;
    }
  };
  const stubAppt = (id: string): AppointmentView => ({
    id, date: subject?.visitDate ?? '', motif: subject?.visitMotif ?? note, status: 'IN_CONSULTATION', vitals: null, medicalHistoryNotes: null, consultationNotes: null, checkedInAt: null,
    vitalsEnteredAt: null, consultedAt: null, closedAt: null, billingAmount: null, billingStatus: null, patientId: '', doctorId: '',
    patientFirstName: subject?.firstName ?? '', patientLastName: subject?.lastName ?? note, doctorName: '',
  });
  const rowForm = rowForms[c.name];
  if (rowForm) return rowForm.fromCopy(ctx, a, noted);
  switch (c.name) {
    case 'appointment.recordVitals':
      return vitalsForm(ctx, str(a.id), noted, { vitals: a.vitals as VitalsPrefill['vitals'], medicalHistoryNotes: str(a.medicalHistoryNotes) });
    case 'appointment.completeConsultation':
      return consultationForm(ctx, stubAppt(str(a.id)), str(a.consultationNotes));
    case 'appointment.close':
      return closeForm(ctx, str(a.id), noted, { billingAmount: str(a.billingAmount), billingStatus: str(a.billingStatus) });
    case 'appointment.recordPayment':
      return paymentForm(ctx, str(a.id), noted, null, subject?.billingAmount);
    case 'appointment.schedule': {
      const p = await patient(str(a.patientId));
      return scheduleForm(ctx, p ?? { id: str(a.patientId), firstName: subject?.firstName ?? '', lastName: subject?.lastName ?? note },
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
      return resultForm(ctx, str(a.prescriptionId), noted, { text: str(a.text), data: a.data });
    case 'result.review': {
      const stub = { id: '', resultId: str(a.id), patientId: subject?.patientId ?? '', patientFirstName: subject?.firstName ?? '', patientLastName: subject?.lastName ?? note,
        text: subject?.prescriptionText ?? '' } as unknown as PrescriptionView;
      return reviewForm(ctx, stub, str(a.interpretation));
    }
    case 'document.attach': {
      const p = await patient(str(a.patientId));
      return documentForm(ctx, str(a.patientId), p ? `${p.lastName.toUpperCase()} ${p.firstName}` : note, { name: str(a.name), type: str(a.type), url: str(a.url) });
    }
  }
  // Acts that move a row's status with nothing typed but the row (their
  // only argument is its id): offer to do them again.
  const rowOnly = Object.keys(a).length === 1 && typeof a.id === 'string' && transitions.some((x) => x.act === c.name);
  const fn = rowOnly ? (u: string, id: string) => api.act(u, c.name, { id }) : undefined;
  const problem = h('p', { class: 'problem', role: 'alert', hidden: true });
  return h('div', { class: 'act-form', id: 'again-form' },
    h('h2', null, actLabel(c.name)),
    h('p', { class: 'subtitle' }, about ? t('copy.nothingTypedAbout', { about }) : t('copy.nothingTyped')),
    problem,
    h('div', { class: 'actions' },
      fn ? h('button', {
        type: 'button', class: 'primary', autofocus: true, onclick: async () => {
          try {
            await fn(ctx.userId, str(a.id));
            ctx.openPanel(null);
            ctx.acted(t('copy.doneAgain', { act: actDone(c.name) }));
          } catch (err) {
            problem.textContent = err instanceof ProblemError ? `${err.problem.code}: ${err.problem.message}` : String(err);
            problem.hidden = false;
          }
        },
      }, t('copy.again')) : null,
      h('button', { type: 'button', 'data-role': 'cancel', onclick: () => ctx.openPanel(null) }, t('form.cancel'))));
}
