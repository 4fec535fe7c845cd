import type { ReviewInfo } from './format';
import type { ActSubject } from '../shared/acts';
// The shapes the bound Go App (desktop/app) returns, as JSON.

export type Role = 'ADMIN' | 'DOCTOR' | 'BIOLOGIST' | 'NURSE' | 'SECRETARY';

export interface Problem {
  code: string;
  message: string;
  field?: string;
}

export interface Progress {
  rows: number;
  total: number;
}

export interface Status {
  deviceId: string;
  serverUrl: string;
  online: boolean;
  offlineSince?: string;
  syncing: boolean;
  pending: number;
  oldestPendingAt?: string;
  oldestPendingAgeSeconds: number;
  likelyRejected: number;
  /** acts on hold until another workstation's act lands (docs/deferred.md) */
  waiting?: number;
  rejected: number;
  lastSyncAt?: string;
  initialSync?: Progress;
  lastError?: string;
  /** when an offline engine next tries the server */
  retryAt?: string;
  /** the queue's act chain is broken: an act was edited or deleted in the file */
  chainError?: string;
  /** the server refuses this release: its sentence ("this workstation runs 1.2.0; …"); acts stay queued */
  upgradeRequired?: string;
  /** the release and commit this workstation runs (the About box) */
  version?: string;
  commit?: string;
  roles: Role[] | null;
  needsSetup: boolean;
  waitingForLogin?: boolean;
  now: string;
  /** the encrypted replica is closed until a login opens it */
  locked?: boolean;
  /** the user on screen when the idle lock closed it */
  lockedBy?: string;
  /** why this workstation erased its keys (it was revoked) */
  wiped?: string;
  /** lock after this long without input (0: never) */
  idleLockSeconds?: number;
}

export interface User {
  id: string;
  name: string;
  email: string;
  role: Role;
}

export interface Session {
  user: User;
  expiresAt: string;
  offline: boolean;
  lastLoginAt: string;
}

// A column the logged-in user's role may not read (workflow.VisibleColumns)
// is absent from what the App returns, even when this workstation holds it
// for another of its roles: such fields are optional below.

export interface Patient {
  id: string;
  firstName: string;
  lastName: string;
  birthDate: string;
  sex: string;
  phone?: string;
  address?: string;
  emergencyContact?: string;
  insurance?: string;
  idNumber?: string | null;
  consentMedicalData?: boolean;
  consentContact?: boolean;
  medicalHistory?: unknown;
  createdAt: string;
  updatedAt: string;
}

export type AppointmentStatus = 'SCHEDULED' | 'CHECKED_IN' | 'IN_CONSULTATION' | 'CONSULTATION_COMPLETED' | 'COMPLETED' | 'CANCELLED';
export type PrescriptionStatus = 'CREATED' | 'SENT_TO_LAB' | 'SAMPLE_COLLECTED' | 'IN_PROGRESS' | 'RESULTS_AVAILABLE' | 'COMPLETED';
export type BillingStatus = 'PENDING' | 'PAID' | 'PARTIALLY_PAID';

export interface VitalsData {
  weight: number;
  height: number;
  temperature: number;
  bloodPressure: { systolic: number; diastolic: number };
  heartRate: number;
  respiratoryRate?: number;
  oxygenSaturation?: number;
}

export interface Appointment {
  id: string;
  date: string;
  motif: string;
  status: AppointmentStatus;
  vitals?: VitalsData | null;
  medicalHistoryNotes?: string | null;
  consultationNotes?: string | null;
  checkedInAt: string | null;
  vitalsEnteredAt: string | null;
  consultedAt: string | null;
  closedAt?: string | null;
  billingAmount?: string | null;
  billingStatus?: BillingStatus | null;
  patientId: string;
  doctorId: string;
}

export interface AppointmentView extends Appointment {
  patientFirstName: string;
  patientLastName: string;
  doctorName: string;
}

export interface Prescription {
  id: string;
  text: string;
  status: PrescriptionStatus;
  sampleCollectedAt: string | null;
  analysisStartedAt: string | null;
  analysisCompletedAt: string | null;
  createdAt: string;
  updatedAt: string;
  patientId: string;
  doctorId: string;
  nurseId: string | null;
}

export interface PrescriptionView extends Prescription {
  patientFirstName: string;
  patientLastName: string;
  doctorName: string;
  nurseName: string;
  resultId?: string;
  /** the result holds a measured value flagged abnormal */
  resultAbnormal?: boolean;
}

export interface Result {
  id: string;
  data: unknown;
  text: string;
  validatedBy: string | null;
  validatedAt: string | null;
  reviewedBy: string | null;
  reviewedAt: string | null;
  interpretation?: string | null;
  createdAt: string;
  prescriptionId: string;
}

export interface DocumentRow {
  id: string;
  name: string;
  type: string;
  url: string;
  uploadedBy: string | null;
  createdAt: string;
  patientId: string;
}

export interface Dashboard {
  role: Role;
  toCheckIn: AppointmentView[] | null;
  toClose: AppointmentView[] | null;
  unpaid: AppointmentView[] | null;
  toPrepare: AppointmentView[] | null;
  toCollect: PrescriptionView[] | null;
  /** NURSE: today's appointments not checked in here yet */
  expected?: AppointmentView[] | null;
  consultations: AppointmentView[] | null;
  toReview: PrescriptionView[] | null;
  samplesReceived: PrescriptionView[] | null;
  inProgress: PrescriptionView[] | null;
}

export interface TimelineEntry {
  at: string;
  kind: 'appointment' | 'prescription' | 'result' | 'document';
  appointment?: AppointmentView;
  prescription?: PrescriptionView;
  result?: Result;
  document?: DocumentRow;
  /** acts on the row: every workstation's when online, this one's queued acts offline */
  acts?: ActProvenance[];
}

/** Who did an act, when and where, and how far it got (docs/provenance.md). */
export interface ActProvenance {
  seq: number;
  name: string;
  occurredAt: string;
  receivedAt?: string;
  authorId: string;
  authorName: string;
  authorRole: Role;
  deviceId: string;
  /** the workstation's name at the server; absent for an act only the outbox knows */
  deviceName?: string;
  /** outbox: 'not yet sent' or 'applied'; recorded by the server: its outcome */
  state: 'not yet sent' | 'applied' | 'deferred' | 'rejected';
  hashPrefix?: string;
}

export interface Timeline {
  patient: Patient;
  entries: TimelineEntry[];
  /** acts on the patient's own row, and on rows not on this workstation */
  acts?: ActProvenance[];
  /** why only this workstation's queued acts are shown (offline); absent once merged with the server's */
  actsNote?: string;
  /** the server listed only the record's newest acts */
  actsTruncated?: boolean;
}

export interface Person {
  id: string;
  name: string;
  role: Role;
}

export interface PendingAct {
  seq: number;
  id: string;
  name: string;
  args: unknown;
  occurredAt: string;
  authorId: string;
  authorName: string;
  applied: boolean;
  likelyRejection?: Problem;
  /** "waiting for check-in at reception": the act came before its predecessor */
  waitingFor?: string;
  /** the server holds it and will apply or refuse it */
  parked?: boolean;
  /** the patient and visit it concerns */
  subject?: ActSubject;
}

/** RejectedAct is a refused act, with where it stands in the review queue. */
export interface RejectedAct extends ReviewInfo {
  id: string;
  seq: number;
  name: string;
  args: unknown;
  occurredAt: string;
  authorId: string;
  authorName: string;
  authorRole: Role;
  rejection: Problem;
  rejectedAt: string;
  dismissedAt?: string;
  /** the patient and visit it concerns */
  subject?: ActSubject;
}

export type { ActSubject };

/** patients.medicalHistory's documented shape (docs/clinical-data.md). */
export interface MedicalHistory {
  allergies?: string[];
  conditions?: string[];
  medications?: string[];
}

/** One measured value of a result (results.data.rows). */
export interface LabRow {
  test: string;
  value: string;
  unit?: string;
  range?: string;
  abnormal?: boolean;
}

export interface Acted {
  mutationId: string;
  seq: number;
  occurredAt: string;
  rowId: string;
  waitingFor?: string;
}

export interface SetupResult {
  deviceId: string;
  name?: string;
  roles?: Role[];
  claimed: boolean;
}

export interface Copied {
  name: string;
  args: Record<string, unknown>;
}
