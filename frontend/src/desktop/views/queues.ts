// The home screen: the role's work queues (the seed's dashboard queries),
// re-read from the replica on every status event, so they move as soon as
// anyone's act (here or at another workstation) is known here.
import { api, ProblemError } from '../api';
import type { Ctx } from '../ctx';
import { h, replace, confirmButton, type Child } from '../../shared/dom';
import { hhmm, patientName, statusWords, when } from '../format';
import type { AppointmentView, Dashboard, PrescriptionView } from '../types';
import {
  apptSubject, closeForm, consultationForm, paymentForm, presSubject, registerForm, resultForm, reviewForm, vitalsForm, vitalsSummary,
} from './acts';

interface Column<T> {
  head: string;
  cell: (x: T) => Child;
}

function table<T extends { id: string }>(id: string, title: string, empty: string, rows: T[] | null, cols: Column<T>[], actions: (x: T) => Child): HTMLElement {
  const list = rows ?? [];
  return h('section', { class: 'queue', id, 'aria-label': title },
    h('h2', null, title, h('span', { class: 'count', 'data-role': 'count' }, String(list.length))),
    list.length === 0
      ? h('p', { class: 'empty' }, empty)
      : h('table', null,
        h('thead', null, h('tr', null, cols.map((c) => h('th', null, c.head)), h('th', { class: 'act' }, ''))),
        h('tbody', null, list.map((x) => h('tr', { 'data-id': x.id }, cols.map((c) => h('td', null, c.cell(x))), h('td', { class: 'act' }, actions(x)))))));
}

const patientCol = <T extends { patientFirstName: string; patientLastName: string }>(): Column<T> => ({
  head: 'Patient',
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
    const motif: Column<AppointmentView> = { head: 'Reason', cell: (x) => x.motif };
    const doctor: Column<AppointmentView> = { head: 'Doctor', cell: (x) => x.doctorName };
    const text: Column<PrescriptionView> = { head: 'Prescription', cell: (x) => x.text };
    switch (d.role) {
      case 'SECRETARY':
      case 'ADMIN':
        sections.push(
          table('q-checkin', "Today's patients to check in", 'Nobody else is expected today.', d.toCheckIn,
            [timeCol('Time', (x) => x.date), patientCol(), doctor, motif],
            (x) => [
              now('Check in', () => api.checkIn(ctx.userId, x.id), `Checked in: ${patientName(x.patientFirstName, x.patientLastName)}.`),
              confirmButton('Cancel', 'Click again to cancel', { class: 'small danger' }, async () => {
                try {
                  await api.cancelAppointment(ctx.userId, x.id);
                  ctx.acted(`Appointment cancelled: ${patientName(x.patientFirstName, x.patientLastName)}.`);
                } catch (err) {
                  if (err instanceof ProblemError) ctx.flash(`${err.problem.code}: ${err.problem.message}`, 'warn');
                }
              }),
            ]),
          table('q-close', 'Consultations to close and bill', 'No consultation waits to be closed.', d.toClose,
            [timeCol('Seen', (x) => x.consultedAt), patientCol(), doctor, motif],
            (x) => h('button', { type: 'button', class: 'primary small', onclick: () => ctx.openPanel(closeForm(ctx, x.id, apptSubject(x))) }, 'Close and bill')),
          table('q-unpaid', 'Payments pending', 'Every closed visit is paid.', d.unpaid,
            [timeCol('Closed', (x) => x.closedAt ?? null), patientCol(), { head: 'Amount', cell: (x) => x.billingAmount ?? '' },
              { head: 'Billing', cell: (x) => statusWords[x.billingStatus ?? 'PENDING'] ?? '' }],
            (x) => h('button', { type: 'button', class: 'primary small', onclick: () => ctx.openPanel(paymentForm(ctx, x.id, apptSubject(x), x.billingStatus)) }, 'Record payment')),
        );
        break;
      case 'NURSE':
        sections.push(
          table('q-prepare', 'Patients to prepare', 'Nobody is waiting for vitals.', d.toPrepare,
            [timeCol('Arrived', (x) => x.checkedInAt), patientCol(), doctor, motif],
            (x) => h('button', { type: 'button', class: 'primary small', onclick: () => ctx.openPanel(vitalsForm(ctx, x.id, apptSubject(x))) }, 'Record vitals')),
          // During an outage the patient may be here before reception's
          // check-in reaches this workstation: vitals recorded now wait for it.
          table('q-expected', 'Expected today, not checked in here yet', 'Nobody else is expected today.', d.expected ?? null,
            [timeCol('Time', (x) => x.date), patientCol(), doctor, motif],
            (x) => h('button', { type: 'button', class: 'small', title: 'The vitals wait for the check-in from reception', onclick: () => ctx.openPanel(vitalsForm(ctx, x.id, apptSubject(x))) }, 'Record vitals')),
          table('q-collect', 'Samples to collect', 'No sample to collect.', d.toCollect,
            [ptime('Sent', (x) => x.updatedAt), patientCol(), text, { head: 'Doctor', cell: (x) => x.doctorName }],
            (x) => now('Sample collected', () => api.collectSample(ctx.userId, x.id), `Sample collected: ${patientName(x.patientFirstName, x.patientLastName)}.`)),
        );
        break;
      case 'DOCTOR':
        sections.push(
          table('q-consult', 'Consultations ready', 'Nobody is waiting for you.', d.consultations,
            [timeCol('Ready since', (x) => x.vitalsEnteredAt), patientCol(), motif, { head: 'Vitals', cell: (x) => vitalsSummary(x.vitals) }],
            (x) => h('button', { type: 'button', class: 'primary small', onclick: () => ctx.openPanel(consultationForm(ctx, x)) }, 'Consult')),
          table('q-review', 'Results to review', 'No result waits for your review.', d.toReview,
            [ptime('Available', (x) => x.analysisCompletedAt), patientCol(), text],
            (x) => h('button', { type: 'button', class: 'primary small', onclick: async () => ctx.openPanel(await reviewForm(ctx, x)) }, 'Review')),
        );
        break;
      case 'BIOLOGIST':
        sections.push(
          table('q-received', 'Samples received', 'No sample waits for analysis.', d.samplesReceived,
            [ptime('Collected', (x) => x.sampleCollectedAt), patientCol(), text, { head: 'Collected by', cell: (x) => x.nurseName }],
            (x) => now('Start analysis', () => api.startAnalysis(ctx.userId, x.id), `Analysis started: ${patientName(x.patientFirstName, x.patientLastName)}.`)),
          table('q-progress', 'Analyses in progress', 'No analysis in progress.', d.inProgress,
            [ptime('Started', (x) => x.analysisStartedAt), patientCol(), text],
            (x) => h('button', { type: 'button', class: 'primary small', onclick: () => ctx.openPanel(resultForm(ctx, x.id, presSubject(x))) }, 'Enter result')),
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
      asOf.textContent = s.online ? `Up to date, ${hhmm(ctx.now())}` : s.lastSyncAt ? `Offline: as of ${hhmm(s.lastSyncAt)}, plus what was done here since` : 'Offline: not yet synced with the server';
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
      return 'Reception';
    case 'NURSE':
      return 'Nursing';
    case 'DOCTOR':
      return 'Consultations';
    case 'BIOLOGIST':
      return 'Laboratory';
  }
  return 'Work';
}

function quick(ctx: Ctx): HTMLElement | null {
  const role = ctx.session.user.role;
  if (role === 'SECRETARY' || role === 'ADMIN') {
    return h('div', { class: 'quick' },
      h('button', { type: 'button', id: 'quick-register', onclick: () => ctx.openPanel(registerForm(ctx)) }, 'Register a patient'),
      h('button', { type: 'button', id: 'quick-find', onclick: () => ctx.go('patients') }, 'Find a patient / schedule'));
  }
  return h('div', { class: 'quick' }, h('button', { type: 'button', id: 'quick-find', onclick: () => ctx.go('patients') }, 'Find a patient'));
}
