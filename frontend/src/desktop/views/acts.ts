// One form per act of the workflow (DESIGN §3). Each checks what it can as
// the user types (validate.ts), then asks the engine, which runs the same
// mutator the server will; a refusal appears at its field.
import { api } from '../api';
import type { Ctx } from '../ctx';
import { h } from '../../shared/dom';
import { actedNote, dayUTC, duplicateWarning, hhmm, localInput, patientName, when } from '../format';
import type { AppointmentView, Patient, Person, PrescriptionView, Result, VitalsData } from '../types';
import {
  boxName, checkAmount, checkAppointmentDate, checkBirthDate, checkJSON, checkText, checkVitals, required, type VitalsInput,
} from '../validate';
import { buildForm, focusFirst, type Form, type Values } from './form';

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
    title: 'Record vitals',
    subtitle: subject,
    fields: [
      [
        { name: 'weight', label: 'Weight', unit: 'kg', kind: 'number', value: s(v.weight), autofocus: true },
        { name: 'height', label: 'Height', unit: 'cm', kind: 'number', value: s(v.height) },
        { name: 'temperature', label: 'Temperature', unit: '°C', kind: 'number', value: s(v.temperature) },
      ],
      [
        { name: 'systolic', label: 'Systolic', unit: 'mmHg', kind: 'number', value: s(v.bloodPressure?.systolic) },
        { name: 'diastolic', label: 'Diastolic', unit: 'mmHg', kind: 'number', value: s(v.bloodPressure?.diastolic) },
        { name: 'heartRate', label: 'Heart rate', unit: 'bpm', kind: 'number', value: s(v.heartRate) },
      ],
      [
        { name: 'respiratoryRate', label: 'Respiratory rate', unit: 'breaths/min, optional', kind: 'number', value: s(v.respiratoryRate) },
        { name: 'oxygenSaturation', label: 'Oxygen saturation', unit: '%, optional', kind: 'number', value: s(v.oxygenSaturation) },
      ],
      { name: 'notes', label: 'Medical history notes (optional)', kind: 'textarea', rows: 3, value: prefill.medicalHistoryNotes ?? '' },
    ],
    submit: 'Record vitals',
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
      const r = await api.recordVitals(ctx.userId, appointmentId, vitals!, vals.notes ?? '');
      ctx.openPanel(null);
      // Before the check-in reached this workstation: kept, on hold.
      ctx.acted(actedNote(`Vitals recorded: ${subject}.`, r?.waitingFor));
    },
    cancel: () => ctx.openPanel(null),
  });
  return panel(f);
}

// ---- DOCTOR ----

export function vitalsSummary(v: VitalsData | null | undefined): string {
  if (!v) return 'No vitals recorded.';
  const parts = [
    `${v.weight} kg`,
    `${v.height} cm`,
    `${v.temperature} °C`,
    `BP ${v.bloodPressure?.systolic}/${v.bloodPressure?.diastolic} mmHg`,
    `HR ${v.heartRate} bpm`,
  ];
  if (v.respiratoryRate !== undefined) parts.push(`RR ${v.respiratoryRate}/min`);
  if (v.oxygenSaturation !== undefined) parts.push(`SpO2 ${v.oxygenSaturation} %`);
  return parts.join(' · ');
}

export function consultationForm(ctx: Ctx, a: AppointmentView, prefillNotes = ''): HTMLElement {
  const subject = `${who(a.patientFirstName, a.patientLastName)} — ${a.motif}`;
  const f = buildForm({
    id: 'consultation-form',
    title: 'Consultation',
    subtitle: subject,
    extra: [
      h('dl', { class: 'facts' },
        h('dt', null, 'Vitals'), h('dd', null, vitalsSummary(a.vitals)),
        a.medicalHistoryNotes ? [h('dt', null, "Nurse's notes"), h('dd', null, a.medicalHistoryNotes)] : null),
    ],
    fields: [{ name: 'consultationNotes', label: 'Consultation notes', kind: 'textarea', rows: 6, value: prefillNotes, autofocus: true, hint: 'Ctrl+Enter completes the consultation.' }],
    submit: 'Complete consultation',
    check: (v) => ({ consultationNotes: checkText('consultationNotes', v.consultationNotes ?? '') }),
    onSubmit: async (v) => {
      await api.completeConsultation(ctx.userId, a.id, v.consultationNotes ?? '');
      ctx.acted(`Consultation completed: ${who(a.patientFirstName, a.patientLastName)}.`);
      // The prescription form stays, for the same patient.
      ctx.openPanel(prescriptionForm(ctx, a.patientId, who(a.patientFirstName, a.patientLastName)));
    },
    cancel: () => ctx.openPanel(null),
  });
  const wrap = h('div', { class: 'stack' }, panel(f),
    h('p', { class: 'muted' }, 'Or write a prescription first:'),
    prescriptionFormEl(ctx, a.patientId, who(a.patientFirstName, a.patientLastName), '', false));
  return wrap;
}

export function prescriptionForm(ctx: Ctx, patientId: string, subject: string, prefillText = ''): HTMLElement {
  const el = prescriptionFormEl(ctx, patientId, subject, prefillText, true);
  return el;
}

function prescriptionFormEl(ctx: Ctx, patientId: string, subject: string, prefillText: string, focus: boolean): HTMLElement {
  const f = buildForm({
    id: 'prescription-form',
    title: 'Write a prescription',
    subtitle: subject,
    fields: [
      { name: 'text', label: 'Prescription', kind: 'textarea', rows: 4, value: prefillText, autofocus: focus },
      { name: 'sendToLab', label: 'Send to the lab now', kind: 'checkbox', value: 'true' },
    ],
    submit: 'Write prescription',
    check: (v) => ({ text: checkText('prescriptionText', v.text ?? '') }),
    fieldOf: (p) => (p === 'text' ? 'text' : undefined),
    onSubmit: async (v) => {
      const acted = await api.createPrescription(ctx.userId, patientId, v.text ?? '');
      if (v.sendToLab === 'true') await api.sendToLab(ctx.userId, acted.rowId);
      ctx.openPanel(null);
      ctx.acted(v.sendToLab === 'true' ? `Prescription written and sent to the lab: ${subject}.` : `Prescription written: ${subject}.`);
    },
    cancel: () => ctx.openPanel(null),
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
  const f = buildForm({
    id: 'review-form',
    title: 'Review the result',
    subtitle: subject,
    extra: [
      h('dl', { class: 'facts' },
        h('dt', null, 'Result'), h('dd', { class: 'pre', 'data-role': 'result-text' }, result?.text ?? '(not on this workstation)'),
        result?.data ? [h('dt', null, 'Values'), h('dd', { class: 'pre' }, JSON.stringify(result.data))] : null,
        result?.validatedAt ? [h('dt', null, 'Validated'), h('dd', null, when(result.validatedAt))] : null),
    ],
    fields: [{ name: 'interpretation', label: 'Interpretation (optional)', kind: 'textarea', rows: 4, value: prefill, autofocus: true }],
    submit: 'Mark as reviewed',
    check: (v) => ({ interpretation: checkText('interpretation', v.interpretation ?? '') }),
    onSubmit: async (v) => {
      await api.reviewResult(ctx.userId, resultId, v.interpretation ?? '');
      ctx.openPanel(null);
      ctx.acted(`Result reviewed: ${who(p.patientFirstName, p.patientLastName)}.`);
    },
    cancel: () => ctx.openPanel(null),
  });
  return panel(f);
}

// ---- BIOLOGIST ----

export function resultForm(ctx: Ctx, prescriptionId: string, subject: string, prefill: { text?: string; data?: string } = {}): HTMLElement {
  const f = buildForm({
    id: 'result-form',
    title: 'Enter the result',
    subtitle: subject,
    fields: [
      { name: 'text', label: 'Result', kind: 'textarea', rows: 5, value: prefill.text ?? '', autofocus: true },
      { name: 'data', label: 'Measured values (optional, JSON)', kind: 'textarea', rows: 3, value: prefill.data ?? '', hint: 'For example {"hemoglobin": 13.5, "unit": "g/dL"}' },
    ],
    submit: 'Validate the result',
    check: (v) => ({ text: checkText('resultText', v.text ?? ''), data: checkJSON('Result data', v.data ?? '', false) }),
    onSubmit: async (v) => {
      await api.createResult(ctx.userId, prescriptionId, v.text ?? '', v.data ?? '');
      ctx.openPanel(null);
      ctx.acted(`Result validated: ${subject}.`);
    },
    cancel: () => ctx.openPanel(null),
  });
  return panel(f);
}

// ---- SECRETARY ----

export function closeForm(ctx: Ctx, appointmentId: string, subject: string, prefill: { billingAmount?: string; billingStatus?: string } = {}): HTMLElement {
  const f = buildForm({
    id: 'close-form',
    title: 'Close and bill',
    subtitle: subject,
    fields: [
      [
        { name: 'billingAmount', label: 'Amount', kind: 'number', value: prefill.billingAmount ?? '', autofocus: true, hint: 'Such as 45.00' },
        { name: 'billingStatus', label: 'Billing', kind: 'select', value: prefill.billingStatus ?? 'PENDING', options: [['PENDING', 'Payment pending'], ['PARTIALLY_PAID', 'Partially paid'], ['PAID', 'Paid']] },
      ],
    ],
    submit: 'Close the visit',
    check: (v) => ({ billingAmount: checkAmount(v.billingAmount ?? '').error }),
    onSubmit: async (v) => {
      await api.closeAppointment(ctx.userId, appointmentId, checkAmount(v.billingAmount ?? '').amount!, v.billingStatus ?? 'PENDING');
      ctx.openPanel(null);
      ctx.acted(`Visit closed: ${subject}.`);
    },
    cancel: () => ctx.openPanel(null),
  });
  return panel(f);
}

export function paymentForm(ctx: Ctx, appointmentId: string, subject: string, current: string | null | undefined): HTMLElement {
  const f = buildForm({
    id: 'payment-form',
    title: 'Record a payment',
    subtitle: `${subject}${current ? ` — now ${current === 'PARTIALLY_PAID' ? 'partially paid' : 'payment pending'}` : ''}`,
    fields: [{ name: 'billingStatus', label: 'The bill is now', kind: 'select', value: 'PAID', options: [['PAID', 'Paid'], ['PARTIALLY_PAID', 'Partially paid']], autofocus: true }],
    submit: 'Record payment',
    onSubmit: async (v) => {
      await api.recordPayment(ctx.userId, appointmentId, v.billingStatus ?? 'PAID');
      ctx.openPanel(null);
      ctx.acted(`Payment recorded: ${subject}.`);
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
  const date = prefill.date ? localInput(new Date(prefill.date)) : localInput(ctx.now());
  const f = buildForm({
    id: 'schedule-form',
    title: 'Schedule an appointment',
    subtitle: subject,
    fields: [
      { name: 'doctorId', label: 'Doctor', kind: 'select', value: prefill.doctorId ?? doctors[0]?.id ?? '', options: [['', 'Choose a doctor'], ...doctors.map((d): [string, string] => [d.id, d.name])], autofocus: true },
      { name: 'date', label: 'Date and time', kind: 'datetime', value: date },
      { name: 'motif', label: 'Reason for the visit', kind: 'text', value: prefill.motif ?? '', wide: true },
    ],
    submit: 'Schedule',
    check: (v) => ({
      doctorId: required('The doctor', v.doctorId ?? ''),
      date: checkAppointmentDate(v.date ?? '', ctx.now()).error,
      motif: checkText('motif', v.motif ?? ''),
    }),
    onSubmit: async (v) => {
      const iso = checkAppointmentDate(v.date ?? '', ctx.now()).iso!;
      await api.scheduleAppointment(ctx.userId, patient.id, v.doctorId ?? '', iso, v.motif ?? '');
      ctx.openPanel(null);
      ctx.acted(`Appointment scheduled: ${subject}, ${when(iso)}.`);
    },
    cancel: () => ctx.openPanel(null),
  });
  return panel(f);
}

export interface PatientPrefill {
  firstName?: string;
  lastName?: string;
  birthDate?: string;
  sex?: string;
  phone?: string;
  address?: string;
  emergencyContact?: string;
  insurance?: string;
  idNumber?: string | null;
  consentMedicalData?: boolean;
  consentContact?: boolean;
}

export function registerForm(ctx: Ctx, prefill: PatientPrefill = {}): HTMLElement {
  const bd = prefill.birthDate ? prefill.birthDate.slice(0, 10) : '';
  const f = buildForm({
    id: 'register-form',
    title: 'Register a patient',
    fields: [
      [
        { name: 'lastName', label: 'Last name', value: prefill.lastName ?? '', autofocus: true },
        { name: 'firstName', label: 'First name', value: prefill.firstName ?? '' },
      ],
      [
        { name: 'birthDate', label: 'Birth date', kind: 'date', value: bd },
        { name: 'sex', label: 'Sex', kind: 'select', value: prefill.sex ?? 'F', options: [['F', 'Female'], ['M', 'Male'], ['NON_SPECIFIE', 'Not specified']] },
      ],
      [
        { name: 'phone', label: 'Phone', value: prefill.phone ?? '' },
        { name: 'insurance', label: 'Insurance', value: prefill.insurance ?? '' },
      ],
      { name: 'address', label: 'Address', value: prefill.address ?? '', wide: true },
      [
        { name: 'emergencyContact', label: 'Emergency contact', value: prefill.emergencyContact ?? '' },
        { name: 'idNumber', label: 'Identity document number', value: prefill.idNumber ?? '' },
      ],
      { name: 'consentMedicalData', label: 'Consents to the processing of medical data', kind: 'checkbox', value: String(prefill.consentMedicalData ?? false) },
      { name: 'consentContact', label: 'Consents to be contacted', kind: 'checkbox', value: String(prefill.consentContact ?? false) },
    ],
    submit: 'Register',
    check: (v) => ({
      lastName: checkText('lastName', v.lastName ?? ''),
      firstName: checkText('firstName', v.firstName ?? ''),
      birthDate: checkBirthDate(v.birthDate ?? '', ctx.now()),
      phone: checkText('phone', v.phone ?? ''),
      insurance: checkText('insurance', v.insurance ?? ''),
      address: checkText('address', v.address ?? ''),
      emergencyContact: checkText('emergencyContact', v.emergencyContact ?? ''),
      idNumber: checkText('idNumber', v.idNumber ?? ''),
    }),
    onSubmit: async (v) => {
      const acted = await api.registerPatient(ctx.userId, {
        firstName: v.firstName ?? '',
        lastName: v.lastName ?? '',
        birthDate: v.birthDate ?? '',
        sex: v.sex ?? '',
        phone: v.phone ?? '',
        address: v.address ?? '',
        emergencyContact: v.emergencyContact ?? '',
        insurance: v.insurance ?? '',
        idNumber: v.idNumber ? v.idNumber : null,
        consentMedicalData: v.consentMedicalData === 'true',
        consentContact: v.consentContact === 'true',
      });
      ctx.openPanel(null);
      ctx.acted(`Patient registered: ${patientName(v.firstName ?? '', v.lastName ?? '')}.`);
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
    void api.likelyDuplicates(v.firstName ?? '', v.lastName ?? '', v.birthDate ?? '').then(
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
    title: 'Contact details',
    subtitle: `${patientName(p.firstName, p.lastName)}, born ${dayUTC(p.birthDate)}`,
    fields: [
      [
        { name: 'phone', label: 'Phone', value: p.phone, autofocus: true },
        { name: 'insurance', label: 'Insurance', value: p.insurance },
      ],
      { name: 'address', label: 'Address', value: p.address, wide: true },
      { name: 'emergencyContact', label: 'Emergency contact', value: p.emergencyContact, wide: true },
    ],
    submit: 'Save',
    check: (v) => ({
      phone: checkText('phone', v.phone ?? ''),
      insurance: checkText('insurance', v.insurance ?? ''),
      address: checkText('address', v.address ?? ''),
      emergencyContact: checkText('emergencyContact', v.emergencyContact ?? ''),
    }),
    onSubmit: async (v) => {
      await api.updatePatient(ctx.userId, p.id, { phone: v.phone, insurance: v.insurance, address: v.address, emergencyContact: v.emergencyContact });
      ctx.openPanel(null);
      ctx.acted(`Contact details saved: ${patientName(p.firstName, p.lastName)}.`);
    },
    cancel: () => ctx.openPanel(null),
  });
  return panel(f);
}

export function historyForm(ctx: Ctx, p: Patient): HTMLElement {
  const f = buildForm({
    id: 'history-form',
    title: 'Medical history',
    subtitle: patientName(p.firstName, p.lastName),
    fields: [{ name: 'medicalHistory', label: 'Medical history (JSON)', kind: 'textarea', rows: 6, value: p.medicalHistory ? JSON.stringify(p.medicalHistory, null, 2) : '', autofocus: true, hint: 'For example {"allergies": ["penicillin"]}' }],
    submit: 'Save',
    check: (v) => ({ medicalHistory: checkJSON('Medical history', v.medicalHistory ?? '', true) }),
    onSubmit: async (v) => {
      await api.updatePatient(ctx.userId, p.id, { medicalHistory: v.medicalHistory ?? '' });
      ctx.openPanel(null);
      ctx.acted(`Medical history saved: ${patientName(p.firstName, p.lastName)}.`);
    },
    cancel: () => ctx.openPanel(null),
  });
  return panel(f);
}

export function documentForm(ctx: Ctx, patientId: string, subject: string, prefill: { name?: string; type?: string; url?: string } = {}): HTMLElement {
  const f = buildForm({
    id: 'document-form',
    title: 'Attach a document',
    subtitle: subject,
    fields: [
      [
        { name: 'name', label: 'Name', value: prefill.name ?? '', autofocus: true },
        { name: 'type', label: 'Type', value: prefill.type ?? '', hint: 'Such as report, scan, consent' },
      ],
      { name: 'url', label: 'Location', value: prefill.url ?? '', wide: true, hint: 'Where the file is kept (path or link)' },
    ],
    submit: 'Attach',
    check: (v) => ({
      name: checkText('documentName', v.name ?? ''),
      type: checkText('documentType', v.type ?? ''),
      url: checkText('documentUrl', v.url ?? ''),
    }),
    onSubmit: async (v) => {
      await api.attachDocument(ctx.userId, patientId, v.name ?? '', v.type ?? '', v.url ?? '');
      ctx.openPanel(null);
      ctx.acted(`Document attached: ${subject}.`);
    },
    cancel: () => ctx.openPanel(null),
  });
  return panel(f);
}

/** apptSubject names an appointment in a form's subtitle. */
export function apptSubject(a: AppointmentView): string {
  return `${patientName(a.patientFirstName, a.patientLastName)} — ${hhmm(a.date)}, ${a.motif}`;
}

/** presSubject names a prescription in a form's subtitle. */
export function presSubject(p: PrescriptionView): string {
  return `${patientName(p.patientFirstName, p.patientLastName)} — ${p.text}`;
}
