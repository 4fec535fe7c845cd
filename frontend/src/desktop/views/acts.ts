// One form per act of the workflow. Each checks what it can as
// the user types (validate.ts), then asks the engine, which runs the same
// mutator the server will; a refusal appears at its field.
import { api } from '../api';
import type { Ctx } from '../ctx';
import { h, type Attrs, type Child } from '../../shared/dom';
import { currency, dayInput, fmtDateTime, fmtNumber, parseDay, parseTime, t } from '../../shared/i18n';
import { checkHistoryItem, checkLabRows, historyValue, labRows, labValue } from '../clinical';
import { abnormalVitals, actedNote, dayUTC, duplicateWarning, money, patientName, statusWord, when } from '../format';
import type { AppointmentView, Patient, Person, PrescriptionView, Result, VitalsData } from '../types';
import {
  boxName, checkAmount, checkAppointmentDate, checkBirthDate, checkText, checkVitals, required, type VitalsInput,
} from '../validate';
import { historyEditor, labEditor, labTable } from './clinical';
import { buildForm, focusFirst, type Form, type Values } from './form';

/** given keeps the optional texts that were typed (blank ones stay out of an act's arguments). */
function given(texts: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(texts)) if (v !== undefined && v.trim() !== '') out[k] = v;
  return out;
}

function panel(f: Form): HTMLElement {
  queueMicrotask(() => focusFirst(f));
  return f.el;
}

function who(first: string, last: string): string {
  return patientName(first, last);
}

// ---- NURSE ----

export interface VitalsPrefill {
  vitals?: Partial<VitalsData> & { bloodPressure?: Partial<VitalsData['bloodPressure']> };
  medicalHistoryNotes?: string;
}

export function vitalsForm(ctx: Ctx, appointmentId: string, subject: string, prefill: VitalsPrefill = {}): HTMLElement {
  const v = prefill.vitals ?? {};
  const s = (x: number | undefined) => (x === undefined || x === null ? '' : String(x));
  const input = (vals: Values): VitalsInput => ({
    weight: vals.weight ?? '',
    height: vals.height ?? '',
    temperature: vals.temperature ?? '',
    systolic: vals.systolic ?? '',
    diastolic: vals.diastolic ?? '',
    heartRate: vals.heartRate ?? '',
    respiratoryRate: vals.respiratoryRate ?? '',
    oxygenSaturation: vals.oxygenSaturation ?? '',
  });
  const f = buildForm({
    id: 'vitals-form',
    title: t('act.appointment.recordVitals'),
    subtitle: subject,
    fields: [
      [
        { name: 'weight', label: t('vitals.weight'), unit: 'kg', kind: 'number', value: s(v.weight), autofocus: true },
        { name: 'height', label: t('vitals.height'), unit: 'cm', kind: 'number', value: s(v.height) },
        { name: 'temperature', label: t('vitals.temperature'), unit: '°C', kind: 'number', value: s(v.temperature) },
      ],
      [
        { name: 'systolic', label: t('vitals.systolic'), unit: 'mmHg', kind: 'number', value: s(v.bloodPressure?.systolic) },
        { name: 'diastolic', label: t('vitals.diastolic'), unit: 'mmHg', kind: 'number', value: s(v.bloodPressure?.diastolic) },
        { name: 'heartRate', label: t('vitals.heartRate'), unit: 'bpm', kind: 'number', value: s(v.heartRate) },
      ],
      [
        { name: 'respiratoryRate', label: t('vitals.respiratoryRate'), unit: t('vitals.optionalUnit', { unit: t('vitals.perMinute') }), kind: 'number', value: s(v.respiratoryRate) },
        { name: 'oxygenSaturation', label: t('vitals.oxygenSaturation'), unit: t('vitals.optionalUnit', { unit: '%' }), kind: 'number', value: s(v.oxygenSaturation) },
      ],
      { name: 'notes', label: t('vitals.notes'), kind: 'textarea', rows: 3, value: prefill.medicalHistoryNotes ?? '' },
    ],
    submit: t('act.appointment.recordVitals'),
    check: (vals) => {
      const out: Record<string, string> = {};
      for (const e of checkVitals(input(vals)).errors) {
        const box = boxName(e.field);
        if (box && !out[box]) out[box] = e.message;
      }
      const n = checkText('medicalHistoryNotes', vals.notes ?? '');
      if (n) out.notes = n;
      return out;
    },
    fieldOf: (p) => (p === 'medicalHistoryNotes' ? 'notes' : boxName(p)),
    onSubmit: async (vals) => {
      const { vitals } = checkVitals(input(vals));
      const r = await api.act(ctx.userId, 'appointment.recordVitals', { id: appointmentId, vitals, ...(vals.notes ? { medicalHistoryNotes: vals.notes } : {}) });
      ctx.openPanel(null);
      // Before the check-in reached this workstation: kept, on hold.
      ctx.acted(actedNote(t('acted.vitals', { subject }), r?.waitingFor));
    },
    cancel: () => ctx.openPanel(null),
  });
  return panel(f);
}

// ---- DOCTOR ----

export function vitalsSummary(v: VitalsData | null | undefined): string {
  if (!v) return t('vitals.none');
  const n = (x: number | undefined) => (x === undefined ? '' : fmtNumber(x));
  const parts = [
    `${n(v.weight)} kg`,
    `${n(v.height)} cm`,
    `${n(v.temperature)} °C`,
    t('vitals.bp', { sys: n(v.bloodPressure?.systolic), dia: n(v.bloodPressure?.diastolic) }),
    t('vitals.hr', { n: n(v.heartRate) }),
  ];
  if (v.respiratoryRate !== undefined) parts.push(t('vitals.rr', { n: n(v.respiratoryRate) }));
  if (v.oxygenSaturation !== undefined) parts.push(`SpO2 ${n(v.oxygenSaturation)} %`);
  return parts.join(' · ');
}

/** vitalsFlags marks vitals outside their usual range ("Temperature 38,4 °C — above the usual 37,5 °C"). */
export function vitalsFlags(v: VitalsData | null | undefined): HTMLElement | null {
  const flags = abnormalVitals(v);
  if (flags.length === 0) return null;
  return h('ul', { class: 'flags', 'data-role': 'abnormal-vitals' }, flags.map((f) => h('li', { class: 'badge bad', 'data-field': f.field }, f.text)));
}

/** A fact a form shows about what it acts on: a term, its value, and the value's attributes. */
type Fact = [term: string, value: Child, attrs?: Attrs];

/** facts lists what a form acts on, a fact a row; a null row is left out. */
function facts(...rows: (Fact | null)[]): HTMLDListElement {
  return h('dl', { class: 'facts' }, rows.map((r) => (r ? [h('dt', null, r[0]), h('dd', r[2] ?? null, r[1])] : null)));
}

export function consultationForm(ctx: Ctx, a: AppointmentView, prefillNotes = ''): HTMLElement {
  const subject = `${who(a.patientFirstName, a.patientLastName)} — ${a.motif}`;
  const f = buildForm({
    id: 'consultation-form',
    title: t('consult.title'),
    subtitle: subject,
    extra: [
      facts([t('consult.vitals'), [vitalsSummary(a.vitals), vitalsFlags(a.vitals)]],
        a.medicalHistoryNotes ? [t('consult.nurseNotes'), a.medicalHistoryNotes] : null),
    ],
    fields: [{ name: 'consultationNotes', label: t('consult.notes'), kind: 'textarea', rows: 6, value: prefillNotes, autofocus: true, hint: t('consult.ctrlEnter') }],
    submit: t('consult.complete'),
    check: (v) => ({ consultationNotes: checkText('consultationNotes', v.consultationNotes ?? '') }),
    onSubmit: async (v) => {
      await api.act(ctx.userId, 'appointment.completeConsultation', { id: a.id, consultationNotes: v.consultationNotes ?? '' });
      ctx.acted(t('acted.consultation', { subject: who(a.patientFirstName, a.patientLastName) }));
      // The prescription form stays, for the same patient.
      ctx.openPanel(prescriptionForm(ctx, a.patientId, who(a.patientFirstName, a.patientLastName)));
    },
    cancel: () => ctx.openPanel(null),
  });
  // A prescription written during the consultation keeps the consultation
  // open: the doctor usually completes it afterwards.
  const written = h('ul', { class: 'written', 'data-role': 'prescriptions-written' });
  const wrap = h('div', { class: 'stack' }, panel(f),
    h('p', { class: 'muted' }, t('consult.orPrescribe')),
    written,
    prescriptionFormEl(ctx, a.patientId, who(a.patientFirstName, a.patientLastName), '', false, (text) => {
      written.append(h('li', null, t('consult.prescribed', { text })));
    }));
  return wrap;
}

export function prescriptionForm(ctx: Ctx, patientId: string, subject: string, prefillText = ''): HTMLElement {
  const el = prescriptionFormEl(ctx, patientId, subject, prefillText, true);
  return el;
}

/**
 * prescriptionFormEl is the prescription form, in its own panel (focus)
 * or inside the consultation (embedded: onWritten is told, the panel
 * stays open and the form is emptied for the next one).
 */
function prescriptionFormEl(ctx: Ctx, patientId: string, subject: string, prefillText: string, focus: boolean, onWritten?: (text: string) => void): HTMLElement {
  const f: Form = buildForm({
    id: 'prescription-form',
    title: t('act.prescription.create'),
    subtitle: subject,
    fields: [
      { name: 'text', label: t('prescribe.text'), kind: 'textarea', rows: 4, value: prefillText, autofocus: focus },
      { name: 'sendToLab', label: t('prescribe.sendNow'), kind: 'checkbox', value: 'true' },
    ],
    submit: t('prescribe.submit'),
    check: (v) => ({ text: checkText('prescriptionText', v.text ?? '') }),
    fieldOf: (p) => (p === 'text' ? 'text' : undefined),
    onSubmit: async (v) => {
      const acted = await api.act(ctx.userId, 'prescription.create', { patientId, text: v.text ?? '' });
      if (v.sendToLab === 'true') await api.act(ctx.userId, 'prescription.sendToLab', { id: acted.rowId });
      const done = v.sendToLab === 'true' ? t('acted.prescriptionSent', { subject }) : t('acted.prescription', { subject });
      if (onWritten) {
        onWritten(v.text ?? '');
        f.inputs.text!.value = '';
        ctx.acted(done);
        return;
      }
      ctx.openPanel(null);
      ctx.acted(done);
    },
    cancel: onWritten ? undefined : () => ctx.openPanel(null),
  });
  if (focus) return panel(f);
  return f.el;
}

export async function reviewForm(ctx: Ctx, p: PrescriptionView, prefill = ''): Promise<HTMLElement> {
  let result: Result | undefined;
  try {
    const tl = await api.timeline(ctx.userId, p.patientId);
    result = tl.entries.find((e) => e.kind === 'result' && (e.result?.id === p.resultId || e.result?.prescriptionId === p.id))?.result;
  } catch {
    // the form still works with the id
  }
  const resultId = p.resultId ?? result?.id ?? '';
  const subject = `${who(p.patientFirstName, p.patientLastName)} — ${p.text}`;
  const lab = labRows(result?.data);
  const f = buildForm({
    id: 'review-form',
    title: t('review.title'),
    subtitle: subject,
    extra: [
      facts([t('review.result'), result?.text ?? t('review.notHere'), { class: 'pre', 'data-role': 'result-text' }],
        result?.validatedAt ? [t('review.validated'), when(result.validatedAt)] : null),
      lab.rows.length ? h('div', { class: 'lab-block' }, h('h3', null, t('lab.values')), labTable(lab.rows, lab.legacy)) : null,
    ].filter((x): x is HTMLDivElement | HTMLDListElement => x !== null),
    fields: [{ name: 'interpretation', label: t('review.interpretation'), kind: 'textarea', rows: 4, value: prefill, autofocus: true }],
    submit: t('review.submit'),
    check: (v) => ({ interpretation: checkText('interpretation', v.interpretation ?? '') }),
    onSubmit: async (v) => {
      await api.act(ctx.userId, 'result.review', { id: resultId, ...(v.interpretation ? { interpretation: v.interpretation } : {}) });
      ctx.openPanel(null);
      ctx.acted(t('acted.reviewed', { subject: who(p.patientFirstName, p.patientLastName) }));
    },
    cancel: () => ctx.openPanel(null),
  });
  return panel(f);
}

// ---- BIOLOGIST ----

export function resultForm(ctx: Ctx, prescriptionId: string, subject: string, prefill: { text?: string; data?: unknown } = {}): HTMLElement {
  const rows = labEditor(labRows(prefill.data).rows);
  let f: Form;
  f = buildForm({
    id: 'result-form',
    title: t('result.title'),
    subtitle: subject,
    fields: [{ name: 'text', label: t('result.text'), kind: 'textarea', rows: 5, value: prefill.text ?? '', autofocus: true }],
    extra: [rows.el],
    submit: t('result.submit'),
    check: (v) => ({ text: checkText('resultText', v.text ?? '') }),
    onSubmit: async (v) => {
      const problem = checkLabRows(rows.rows());
      if (problem) {
        rows.focusCell(problem.row, problem.field);
        f.showProblem({ code: 'VALIDATION_FAILED', message: problem.message, field: `data.rows.${problem.row}.${problem.field}` });
        return;
      }
      const data = labValue(rows.rows());
      await api.act(ctx.userId, 'result.create', { prescriptionId, text: v.text ?? '', ...(data ? { data: JSON.parse(data) as unknown } : {}) });
      ctx.openPanel(null);
      ctx.acted(t('acted.result', { subject }));
    },
    cancel: () => ctx.openPanel(null),
  });
  // The rows sit between the text and the buttons.
  f.el.querySelector('[data-role="problem"]')?.before(rows.el);
  return panel(f);
}

// ---- SECRETARY ----

export function closeForm(ctx: Ctx, appointmentId: string, subject: string, prefill: { billingAmount?: string; billingStatus?: string } = {}): HTMLElement {
  const f = buildForm({
    id: 'close-form',
    title: t('act.appointment.close'),
    subtitle: subject,
    fields: [
      [
        { name: 'billingAmount', label: t('bill.amount'), unit: currency(), kind: 'number', value: prefill.billingAmount ?? '', autofocus: true, hint: t('bill.amountHint', { example: money('45.00') }) },
        { name: 'billingStatus', label: t('bill.billing'), kind: 'select', value: prefill.billingStatus ?? 'PENDING', options: [['PENDING', statusWord('PENDING')], ['PARTIALLY_PAID', statusWord('PARTIALLY_PAID')], ['PAID', statusWord('PAID')]] },
      ],
    ],
    submit: t('bill.closeVisit'),
    check: (v) => ({ billingAmount: checkAmount(v.billingAmount ?? '').error }),
    onSubmit: async (v) => {
      await api.act(ctx.userId, 'appointment.close', {
        id: appointmentId, billingAmount: checkAmount(v.billingAmount ?? '').amount!.trim(), billingStatus: v.billingStatus ?? 'PENDING' });
      ctx.openPanel(null);
      ctx.acted(t('acted.closed', { subject }));
    },
    cancel: () => ctx.openPanel(null),
  });
  return panel(f);
}

/** paymentForm records a payment; it shows the visit and its amount, so two visits of one patient cannot be confused. */
export function paymentForm(ctx: Ctx, appointmentId: string, subject: string, current: string | null | undefined, amount?: string | null): HTMLElement {
  const f = buildForm({
    id: 'payment-form',
    title: t('act.appointment.recordPayment'),
    subtitle: subject,
    extra: [
      facts(amount ? [t('bill.amount'), money(amount), { 'data-role': 'amount' }] : null,
        current ? [t('bill.now'), statusWord(current)] : null),
    ],
    fields: [{ name: 'billingStatus', label: t('bill.nowIs'), kind: 'select', value: 'PAID', options: [['PAID', statusWord('PAID')], ['PARTIALLY_PAID', statusWord('PARTIALLY_PAID')]], autofocus: true }],
    submit: t('bill.recordPayment'),
    onSubmit: async (v) => {
      await api.act(ctx.userId, 'appointment.recordPayment', { id: appointmentId, billingStatus: v.billingStatus ?? 'PAID' });
      ctx.openPanel(null);
      ctx.acted(t('acted.payment', { subject }));
    },
    cancel: () => ctx.openPanel(null),
  });
  return panel(f);
}

export interface SchedulePrefill {
  doctorId?: string;
  date?: string;
  motif?: string;
}

export async function scheduleForm(ctx: Ctx, patient: Pick<Patient, 'id' | 'firstName' | 'lastName'>, prefill: SchedulePrefill = {}): Promise<HTMLElement> {
  let doctors: Person[] = [];
  try {
    doctors = (await api.doctors()) ?? [];
  } catch {
    doctors = [];
  }
  const subject = who(patient.firstName, patient.lastName);
  const start = prefill.date ? new Date(prefill.date) : ctx.now();
  const pad = (n: number) => String(n).padStart(2, '0');
  const dayText = `${pad(start.getDate())}/${pad(start.getMonth() + 1)}/${start.getFullYear()}`;
  const timeText = `${pad(start.getHours())}:${pad(start.getMinutes())}`;
  // dd/mm/yyyy and HH:MM typed directly, read as the workstation's time.
  const when24 = (v: Values): { error?: string; iso?: string; field?: string } => {
    const d = parseDay(v.date ?? '');
    if (d.error || !d.iso) return { error: d.error ?? t('date.required'), field: 'date' };
    const tm = parseTime(v.time ?? '');
    if (tm.error) return { error: tm.error, field: 'time' };
    const r = checkAppointmentDate(`${d.iso}T${tm.hhmm}`, ctx.now());
    return { ...r, field: 'date' };
  };
  const f = buildForm({
    id: 'schedule-form',
    title: t('act.appointment.schedule'),
    subtitle: subject,
    fields: [
      { name: 'doctorId', label: t('schedule.doctor'), kind: 'select', value: prefill.doctorId ?? doctors[0]?.id ?? '', options: [['', t('schedule.chooseDoctor')], ...doctors.map((d): [string, string] => [d.id, d.name])], autofocus: true },
      [
        { name: 'date', label: t('schedule.date'), kind: 'date', value: dayText },
        { name: 'time', label: t('schedule.time'), kind: 'time', value: timeText },
      ],
      { name: 'motif', label: t('arg.motif'), kind: 'text', value: prefill.motif ?? '', wide: true },
    ],
    submit: t('schedule.submit'),
    check: (v) => {
      const w = when24(v);
      return {
        doctorId: required(t('schedule.theDoctor'), v.doctorId ?? ''),
        date: w.field === 'date' ? w.error : undefined,
        time: w.field === 'time' ? w.error : undefined,
        motif: checkText('motif', v.motif ?? ''),
      };
    },
    onSubmit: async (v) => {
      const iso = when24(v).iso!;
      await api.act(ctx.userId, 'appointment.schedule', { patientId: patient.id, doctorId: v.doctorId ?? '', date: iso.trim(), motif: v.motif ?? '' });
      ctx.openPanel(null);
      ctx.acted(t('acted.scheduled', { subject, when: fmtDateTime(iso) }));
    },
    cancel: () => ctx.openPanel(null),
  });
  return panel(f);
}

/** PatientPrefill is what a registration form may start with: a patient's typed fields. */
export type PatientPrefill = Partial<Omit<Patient, 'id' | 'medicalHistory' | 'createdAt' | 'updatedAt'>>;

export function registerForm(ctx: Ctx, prefill: PatientPrefill = {}): HTMLElement {
  const bd = dayInput(prefill.birthDate);
  // The act takes a birth date as RFC 3339 midnight UTC.
  const birthISO = (text: string) => {
    const iso = parseDay(text).iso;
    return iso ? `${iso}T00:00:00Z` : '';
  };
  const birthProblem = (text: string) => {
    const d = parseDay(text);
    if (d.error) return d.error;
    return checkBirthDate(d.iso ?? '', ctx.now());
  };
  const f = buildForm({
    id: 'register-form',
    title: t('act.patient.register'),
    fields: [
      [
        { name: 'lastName', label: t('patient.lastName'), value: prefill.lastName ?? '', autofocus: true },
        { name: 'firstName', label: t('patient.firstName'), value: prefill.firstName ?? '' },
      ],
      [
        { name: 'birthDate', label: t('arg.birthDate'), kind: 'date', value: bd, hint: t('date.hint') },
        { name: 'sex', label: t('patient.sex'), kind: 'select', value: prefill.sex ?? 'F', options: [['F', t('patient.female')], ['M', t('patient.male')], ['NON_SPECIFIE', t('patient.unspecified')]] },
      ],
      [
        { name: 'phone', label: t('patient.phone'), value: prefill.phone ?? '' },
        { name: 'insurance', label: t('patient.insurance'), value: prefill.insurance ?? '' },
      ],
      { name: 'address', label: t('patient.address'), value: prefill.address ?? '', wide: true },
      [
        { name: 'emergencyContact', label: t('patient.emergencyContact'), value: prefill.emergencyContact ?? '' },
        { name: 'idNumber', label: t('patient.idNumber'), value: prefill.idNumber ?? '' },
      ],
      { name: 'consentMedicalData', label: t('patient.consentMedicalData'), kind: 'checkbox', value: String(prefill.consentMedicalData ?? false) },
      { name: 'consentContact', label: t('patient.consentContact'), kind: 'checkbox', value: String(prefill.consentContact ?? false) },
    ],
    submit: t('patient.register'),
    check: (v) => ({
      lastName: checkText('lastName', v.lastName ?? ''),
      firstName: checkText('firstName', v.firstName ?? ''),
      birthDate: birthProblem(v.birthDate ?? ''),
      phone: checkText('phone', v.phone ?? ''),
      insurance: checkText('insurance', v.insurance ?? ''),
      address: checkText('address', v.address ?? ''),
      emergencyContact: checkText('emergencyContact', v.emergencyContact ?? ''),
      idNumber: checkText('idNumber', v.idNumber ?? ''),
    }),
    onSubmit: async (v) => {
      // Optional texts left empty stay out, so that the seed's defaults apply.
      const acted = await api.act(ctx.userId, 'patient.register', {
        firstName: v.firstName ?? '',
        lastName: v.lastName ?? '',
        birthDate: birthISO(v.birthDate ?? ''),
        consentMedicalData: v.consentMedicalData === 'true',
        consentContact: v.consentContact === 'true',
        ...given({ sex: v.sex, phone: v.phone, address: v.address, emergencyContact: v.emergencyContact, insurance: v.insurance, idNumber: v.idNumber }),
      });
      ctx.openPanel(null);
      ctx.acted(t('acted.registered', { subject: patientName(v.firstName ?? '', v.lastName ?? '') }));
      ctx.go('patients', acted.rowId);
    },
    cancel: () => ctx.openPanel(null),
  });
  watchDuplicates(f);
  return panel(f);
}

/**
 * watchDuplicates warns, without blocking, when the replica already holds
 * a patient with the same names and birth date (folded as the server's
 * duplicate detection folds them): two desks registering one person is
 * what the administrator's merge repairs later.
 */
function watchDuplicates(f: Form): void {
  const warn = h('p', { class: 'dup-warning', role: 'status', 'data-role': 'duplicate-warning', hidden: true });
  f.el.querySelector('h2, h3')?.after(warn) ?? f.el.prepend(warn);
  let timer: number | undefined;
  let asked = '';
  const check = () => {
    const v = f.values();
    const key = JSON.stringify([v.firstName, v.lastName, v.birthDate]);
    if (key === asked) return;
    asked = key;
    void api.likelyDuplicates(v.firstName ?? '', v.lastName ?? '', parseDay(v.birthDate ?? '').iso ?? '').then(
      (found) => {
        if (asked !== key) return; // a newer question is on its way
        const text = duplicateWarning(found ?? []);
        warn.textContent = text;
        warn.hidden = text === '';
      },
      () => {
        warn.hidden = true; // a warning only: never in the way
      },
    );
  };
  f.el.addEventListener('input', () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(check, 250);
  });
  f.el.addEventListener('change', check);
  queueMicrotask(check);
}

export function contactForm(ctx: Ctx, p: Patient): HTMLElement {
  const f = buildForm({
    id: 'contact-form',
    title: t('patient.contact'),
    subtitle: t('subject.born', { name: patientName(p.firstName, p.lastName), date: dayUTC(p.birthDate) }),
    fields: [
      [
        { name: 'phone', label: t('patient.phone'), value: p.phone, autofocus: true },
        { name: 'insurance', label: t('patient.insurance'), value: p.insurance },
      ],
      { name: 'address', label: t('patient.address'), value: p.address, wide: true },
      { name: 'emergencyContact', label: t('patient.emergencyContact'), value: p.emergencyContact, wide: true },
    ],
    submit: t('form.save'),
    check: (v) => ({
      phone: checkText('phone', v.phone ?? ''),
      insurance: checkText('insurance', v.insurance ?? ''),
      address: checkText('address', v.address ?? ''),
      emergencyContact: checkText('emergencyContact', v.emergencyContact ?? ''),
    }),
    onSubmit: async (v) => {
      await api.act(ctx.userId, 'patient.update', { id: p.id, phone: v.phone, insurance: v.insurance, address: v.address, emergencyContact: v.emergencyContact });
      ctx.openPanel(null);
      ctx.acted(t('acted.contact', { subject: patientName(p.firstName, p.lastName) }));
    },
    cancel: () => ctx.openPanel(null),
  });
  return panel(f);
}

/** historyForm edits the medical history as three lists: allergies, conditions, current medications. */
export function historyForm(ctx: Ctx, p: Patient): HTMLElement {
  const editor = historyEditor(p.medicalHistory);
  let f: Form;
  f = buildForm({
    id: 'history-form',
    title: t('history.title'),
    subtitle: patientName(p.firstName, p.lastName),
    fields: [],
    extra: [editor.el],
    submit: t('form.save'),
    onSubmit: async () => {
      const hist = editor.value();
      for (const k of ['allergies', 'conditions', 'medications'] as const) {
        for (const [i, x] of hist[k].entries()) {
          const msg = checkHistoryItem(x);
          if (msg) {
            f.showProblem({ code: 'VALIDATION_FAILED', message: msg, field: `medicalHistory.${k}.${i}` });
            return;
          }
        }
      }
      await api.act(ctx.userId, 'patient.update', { id: p.id, medicalHistory: historyValue(hist) });
      ctx.openPanel(null);
      ctx.acted(t('acted.history', { subject: patientName(p.firstName, p.lastName) }));
    },
    cancel: () => ctx.openPanel(null),
  });
  return panel(f);
}

/**
 * RowForm opens the form of an act done on an existing row whose status
 * does not count (a document): from a button on that row of the patient's
 * record, and filled in again from a rejected act's copy. The record offers
 * a button for each act of the rule table that has one here
 * (workflow.rowActs), and the Rejected list opens its copies here, so such
 * an act is written in this file alone.
 */
export interface RowForm {
  /** onRow opens the form on the row, as the patient's record shows it (a document). */
  onRow: (ctx: Ctx, row: { id: string } & Record<string, unknown>) => HTMLElement;
  /** fromCopy opens it filled in with a rejected act's arguments; noted names the copy. */
  fromCopy: (ctx: Ctx, args: Record<string, unknown>, noted: string) => HTMLElement;
}

/** rowForms are the RowForms, by act name. */
export const rowForms: Record<string, RowForm> = {};

export function documentForm(ctx: Ctx, patientId: string, subject: string, prefill: { name?: string; type?: string; url?: string } = {}): HTMLElement {
  const f = buildForm({
    id: 'document-form',
    title: t('act.document.attach'),
    subtitle: subject,
    fields: [
      [
        { name: 'name', label: t('arg.name'), value: prefill.name ?? '', autofocus: true },
        { name: 'type', label: t('arg.type'), value: prefill.type ?? '', hint: t('doc.typeHint') },
      ],
      { name: 'url', label: t('arg.url'), value: prefill.url ?? '', wide: true, hint: t('doc.urlHint') },
    ],
    submit: t('doc.attach'),
    check: (v) => ({
      name: checkText('documentName', v.name ?? ''),
      type: checkText('documentType', v.type ?? ''),
      url: checkText('documentUrl', v.url ?? ''),
    }),
    onSubmit: async (v) => {
      await api.act(ctx.userId, 'document.attach', { patientId, name: v.name ?? '', type: v.type ?? '', url: v.url ?? '' });
      ctx.openPanel(null);
      ctx.acted(t('acted.document', { subject }));
    },
    cancel: () => ctx.openPanel(null),
  });
  return panel(f);
}

/** apptSubject names an appointment in a form's subtitle: the patient, the visit's date and time, its reason. */
export function apptSubject(a: AppointmentView): string {
  return `${patientName(a.patientFirstName, a.patientLastName)} — ${fmtDateTime(a.date)}, ${a.motif}`;
}

/** presSubject names a prescription in a form's subtitle. */
export function presSubject(p: PrescriptionView): string {
  return `${patientName(p.patientFirstName, p.patientLastName)} — ${p.text}`;
}
