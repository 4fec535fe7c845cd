// The home screen: the role's work queues (the seed's dashboard queries),
// re-read from the replica on every status event, so they move as soon as
// anyone's act (here or at another workstation) is known here.
import { api, ProblemError } from '../api';
import type { Ctx } from '../ctx';
import { h, replace, confirmButton, type Child } from '../../shared/dom';
import { t, fmtDateTime } from '../../shared/i18n';
import { abnormalVitals, hhmm, money, patientName, statusWord, when } from '../format';
import type { AppointmentView, Dashboard, PrescriptionView } from '../types';
import {
  apptSubject, closeForm, consultationForm, paymentForm, presSubject, registerForm, resultForm, reviewForm, vitalsFlags, vitalsForm, vitalsSummary,
} from './acts';

interface Column<T> {
  head: string;
  cell: (x: T) => Child;
}

function table<T extends { id: string }>(id: string, title: string, empty: string, rows: T[] | null, cols: Column<T>[], actions: (x: T) => Child,
  flagged: (x: T) => boolean = () => false): HTMLElement {
  const list = rows ?? [];
  return h('section', { class: 'queue', id, 'aria-label': title },
    h('h2', null, title, h('span', { class: 'count', 'data-role': 'count' }, String(list.length))),
    list.length === 0
      ? h('p', { class: 'empty' }, empty)
      : h('table', null,
        h('thead', null, h('tr', null, cols.map((c) => h('th', null, c.head)), h('th', { class: 'act' }, ''))),
        h('tbody', null, list.map((x) => h('tr', { 'data-id': x.id, class: flagged(x) ? 'abnormal' : null, 'data-abnormal': flagged(x) ? 'true' : null }, cols.map((c) => h('td', null, c.cell(x))), h('td', { class: 'act' }, actions(x)))))));
}

const patientCol = <T extends { patientFirstName: string; patientLastName: string }>(): Column<T> => ({
  head: t('q.patient'),
  cell: (x) => h('strong', null, patientName(x.patientFirstName, x.patientLastName)),
});

export function queuesView(ctx: Ctx): { el: HTMLElement; refresh: () => Promise<void> } {
  const body = h('div', { class: 'queues', id: 'queues' });
  const asOf = h('p', { class: 'as-of', 'data-role': 'as-of' });
  const intro = h('div', { class: 'queue-head' }, h('h1', null, title(ctx)), asOf, quick(ctx));
  const el = h('div', { class: 'content-inner' }, intro, body);

  // An immediate act (a button, no form): queue it, say so, refresh.
  const now = (label: string, fn: () => Promise<unknown>, done: string) =>
    h('button', {
      type: 'button', class: 'primary small', onclick: async (e: Event) => {
        const b = e.currentTarget as HTMLButtonElement;
        b.disabled = true;
        try {
          await fn();
          ctx.acted(done);
        } catch (err) {
          ctx.flash(err instanceof ProblemError ? `${err.problem.code}: ${err.problem.message}` : String(err), 'warn');
          b.disabled = false;
        }
      },
    }, label);

  const render = (d: Dashboard) => {
    const sections: HTMLElement[] = [];
    const timeCol = (head: string, f: (x: AppointmentView) => string | null): Column<AppointmentView> => ({ head, cell: (x) => when(f(x), ctx.now()) });
    const ptime = (head: string, f: (x: PrescriptionView) => string | null): Column<PrescriptionView> => ({ head, cell: (x) => when(f(x), ctx.now()) });
    const motif: Column<AppointmentView> = { head: t('q.reason'), cell: (x) => x.motif };
    const doctor: Column<AppointmentView> = { head: t('q.doctor'), cell: (x) => x.doctorName };
    const text: Column<PrescriptionView> = { head: t('q.prescription'), cell: (x) => x.text };
    // The visit itself (day, time, reason): two visits of one patient are told apart.
    const visit: Column<AppointmentView> = { head: t('q.visit'), cell: (x) => `${fmtDateTime(x.date)}, ${x.motif}` };
    switch (d.role) {
      case 'SECRETARY':
      case 'ADMIN':
        sections.push(
          table('q-checkin', t('q.checkin'), t('q.checkinEmpty'), d.toCheckIn,
            [timeCol(t('q.time'), (x) => x.date), patientCol(), doctor, motif],
            (x) => [
              now(t('act.appointment.checkIn'), () => api.act(ctx.userId, 'appointment.checkIn', { id: x.id }), t('acted.checkedIn', { subject: apptSubject(x) })),
              confirmButton(t('q.cancelVisit'), t('q.cancelConfirm'), { class: 'small danger' }, async () => {
                try {
                  await api.act(ctx.userId, 'appointment.cancel', { id: x.id });
                  ctx.acted(t('acted.cancelled', { subject: apptSubject(x) }));
                } catch (err) {
                  if (err instanceof ProblemError) ctx.flash(`${err.problem.code}: ${err.problem.message}`, 'warn');
                }
              }),
            ]),
          table('q-close', t('q.close'), t('q.closeEmpty'), d.toClose,
            [timeCol(t('q.seen'), (x) => x.consultedAt), patientCol(), doctor, visit],
            (x) => h('button', { type: 'button', class: 'primary small', onclick: () => ctx.openPanel(closeForm(ctx, x.id, apptSubject(x))) }, t('act.appointment.close'))),
          table('q-unpaid', t('q.unpaid'), t('q.unpaidEmpty'), d.unpaid,
            [timeCol(t('q.closed'), (x) => x.closedAt ?? null), patientCol(), visit, { head: t('bill.amount'), cell: (x) => h('span', { class: 'num', 'data-role': 'amount' }, money(x.billingAmount)) },
              { head: t('bill.billing'), cell: (x) => statusWord(x.billingStatus ?? 'PENDING') }],
            (x) => h('button', { type: 'button', class: 'primary small', onclick: () => ctx.openPanel(paymentForm(ctx, x.id, apptSubject(x), x.billingStatus, x.billingAmount)) }, t('bill.recordPayment'))),
        );
        break;
      case 'NURSE':
        sections.push(
          table('q-prepare', t('q.prepare'), t('q.prepareEmpty'), d.toPrepare,
            [timeCol(t('q.arrived'), (x) => x.checkedInAt), patientCol(), doctor, motif],
            (x) => h('button', { type: 'button', class: 'primary small', onclick: () => ctx.openPanel(vitalsForm(ctx, x.id, apptSubject(x))) }, t('act.appointment.recordVitals'))),
          // During an outage the patient may be here before reception's
          // check-in reaches this workstation: vitals recorded now wait for it.
          table('q-expected', t('q.expected'), t('q.checkinEmpty'), d.expected ?? null,
            [timeCol(t('q.time'), (x) => x.date), patientCol(), doctor, motif],
            (x) => h('button', { type: 'button', class: 'small', title: t('q.vitalsWait'), onclick: () => ctx.openPanel(vitalsForm(ctx, x.id, apptSubject(x))) }, t('act.appointment.recordVitals'))),
          table('q-collect', t('q.collect'), t('q.collectEmpty'), d.toCollect,
            [ptime(t('q.sent'), (x) => x.updatedAt), patientCol(), text, { head: t('q.doctor'), cell: (x) => x.doctorName }],
            (x) => now(t('q.sampleCollected'), () => api.act(ctx.userId, 'prescription.collectSample', { id: x.id }), t('acted.sample', { subject: presSubject(x) }))),
        );
        break;
      case 'DOCTOR':
        sections.push(
          table('q-consult', t('q.consult'), t('q.consultEmpty'), d.consultations,
            [timeCol(t('q.readySince'), (x) => x.vitalsEnteredAt), patientCol(), motif,
              { head: t('consult.vitals'), cell: (x) => [vitalsSummary(x.vitals), vitalsFlags(x.vitals)] }],
            (x) => h('button', { type: 'button', class: 'primary small', onclick: () => ctx.openPanel(consultationForm(ctx, x)) }, t('q.consultButton')),
            (x) => abnormalVitals(x.vitals).length > 0),
          table('q-review', t('q.review'), t('q.reviewEmpty'), d.toReview,
            [ptime(t('q.available'), (x) => x.analysisCompletedAt), patientCol(), text,
              { head: t('lab.flag'), cell: (x) => (x.resultAbnormal ? h('span', { class: 'badge bad', 'data-role': 'abnormal-result' }, t('lab.abnormalResult')) : '') }],
            (x) => h('button', { type: 'button', class: 'primary small', onclick: async () => ctx.openPanel(await reviewForm(ctx, x)) }, t('q.reviewButton')),
            (x) => !!x.resultAbnormal),
        );
        break;
      case 'BIOLOGIST':
        sections.push(
          table('q-received', t('q.received'), t('q.receivedEmpty'), d.samplesReceived,
            [ptime(t('q.collected'), (x) => x.sampleCollectedAt), patientCol(), text, { head: t('q.collectedBy'), cell: (x) => x.nurseName }],
            (x) => now(t('act.prescription.startAnalysis'), () => api.act(ctx.userId, 'prescription.startAnalysis', { id: x.id }), t('acted.analysis', { subject: presSubject(x) }))),
          table('q-progress', t('q.progress'), t('q.progressEmpty'), d.inProgress,
            [ptime(t('q.started'), (x) => x.analysisStartedAt), patientCol(), text],
            (x) => h('button', { type: 'button', class: 'primary small', onclick: () => ctx.openPanel(resultForm(ctx, x.id, presSubject(x))) }, t('act.result.create'))),
        );
        break;
    }
    replace(body, sections);
  };

  let seq = 0;
  let shown = '';
  const refresh = async () => {
    const mine = ++seq;
    try {
      const d = await api.dashboard(ctx.userId);
      if (mine !== seq) return;
      // Redraw only what changed: a button is never swapped under a click.
      const key = JSON.stringify(d) + new Date().toDateString();
      if (key !== shown) {
        shown = key;
        render(d);
      }
      const s = ctx.status;
      asOf.textContent = s.online ? t('q.upToDate', { time: hhmm(ctx.now()) }) : s.lastSyncAt ? t('q.offlineAsOf', { time: hhmm(s.lastSyncAt) }) : t('q.offlineNever');
      asOf.classList.toggle('stale', !s.online);
    } catch (err) {
      replace(body, h('p', { class: 'problem' }, err instanceof ProblemError ? err.problem.message : String(err)));
    }
  };
  return { el, refresh };
}

function title(ctx: Ctx): string {
  switch (ctx.session.user.role) {
    case 'SECRETARY':
    case 'ADMIN':
      return t('title.reception');
    case 'NURSE':
      return t('title.nursing');
    case 'DOCTOR':
      return t('title.consultations');
    case 'BIOLOGIST':
      return t('title.laboratory');
  }
  return t('title.work');
}

function quick(ctx: Ctx): HTMLElement | null {
  const role = ctx.session.user.role;
  if (role === 'SECRETARY' || role === 'ADMIN') {
    return h('div', { class: 'quick' },
      h('button', { type: 'button', id: 'quick-register', onclick: () => ctx.openPanel(registerForm(ctx)) }, t('act.patient.register')),
      h('button', { type: 'button', id: 'quick-find', onclick: () => ctx.go('patients') }, t('q.findSchedule')));
  }
  return h('div', { class: 'quick' }, h('button', { type: 'button', id: 'quick-find', onclick: () => ctx.go('patients') }, t('q.find')));
}
