import type { ActSubject } from '../shared/acts';
// The shapes of the server's JSON (server/http admin*.go).

export type Role = 'ADMIN' | 'DOCTOR' | 'BIOLOGIST' | 'NURSE' | 'SECRETARY';
export const ROLES: Role[] = ['ADMIN', 'DOCTOR', 'BIOLOGIST', 'NURSE', 'SECRETARY'];

export interface DeviceStatus {
  id: string;
  name: string;
  /** the release the workstation last said it runs ('' before its first hello) */
  clientVersion?: string;
  roles: Role[];
  createdAt: string;
  revoked: boolean;
  revokedAt?: string;
  registrationPending: boolean;
  online: boolean;
  connected: boolean;
  lastSeen: string | null;
  /** its last socket ended then (none welcomed since) */
  disconnectedAt?: string | null;
  /** its latest socket opened (or was welcomed) then */
  connectedAt?: string | null;
  /** its queue (pending) was reported then: before connectedAt, it is being checked */
  queueReportedAt?: string | null;
  offlineSince?: string | null;
  cursorLag: number;
  cursorLagCapped: boolean;
  initialSync: boolean;
  pending: number;
  oldestPendingAt: string | null;
  oldestPendingAgeSeconds: number | null;
  lastMutationSeq: number;
  mutations: {
    appliedLastHour: number;
    rejectedLastHour: number;
    appliedTotal: number;
    rejectedTotal: number;
    unresolvedRejected: number;
    chainBreaks: number;
  };
  lastError?: string;
  lastErrorAt?: string;
  status: string;
  statusReason: string;
  /** acts parked until their predecessor lands (docs/deferred.md) */
  deferred?: number;
}

export interface SyncStatus {
  serverTime: string;
  feed: { head: number; prunedId: number; retained: number; countsCap: number };
  instance: { connectedDevices: number; connections: number; version?: string; commit?: string; minWorkstationVersion?: string };
  thresholds: { onlineSeconds: number; amberUnseenSeconds: number; amberPendingSeconds: number; redSeconds: number; source: 'flags' | 'dashboard' };
  totals: { devices: number; online: number; ok: number; offline?: number; amber: number; red: number; pendingUploads: number; unresolvedRejected: number; deferred?: number; chainBreaks: number };
  devices: DeviceStatus[];
}

/** An act parked until its predecessor lands (GET /api/v1/admin/deferred). */
export interface ParkedAct {
  deviceId: string;
  deviceName: string;
  seq: number;
  name: string;
  authorName: string;
  occurredAt: string;
  parkedAt: string;
  expiresAt: string;
  waitingFor: string;
  waitTable: string;
  waitId: string;
  waitState: string;
  /** the patient and visit the act concerns */
  subject?: ActSubject;
}

export interface AuditEntry {
  deviceId: string;
  deviceName: string;
  seq: number;
  mutationId: string;
  name: string;
  args: unknown;
  author?: { id: string; name: string; role: string };
  occurredAt: string;
  receivedAt: string;
  /** 'deferred' while the act is on hold (docs/deferred.md) */
  outcome: 'applied' | 'rejected' | 'deferred';
  code?: string;
  message?: string;
  field?: string;
  target?: { table: string; id: string };
  resolution?: { at: string; by: string; note?: string; kind: 'closed' | 'reissued'; bySeq?: number };
  /** a re-issue points at the rejected act it replaces (same workstation) */
  reissueOf?: { mutationId: string; seq?: number };
  chain: AuditChain;
  /** the patient and visit the act concerns */
  subject?: ActSubject;
}

/** An act's link in its workstation's hash chain (docs/provenance.md). */
export interface AuditChain {
  status: 'ok' | 'broken-content' | 'broken-link' | 'none';
  prevHash?: string;
  hash?: string;
  claimedAuthor?: string;
}

export interface AuditPage {
  items: AuditEntry[];
  next: string;
}

export interface User {
  id: string;
  name: string;
  email: string;
  role: Role;
  createdAt: string;
  disabled: boolean;
  /** the last disable and re-enable, kept after a re-enable (the security log has them all) */
  lastDisabledAt?: string;
  enabledAt?: string;
  disabledAt?: string;
  activeSessions: number;
}

export interface Device {
  id: string;
  name: string;
  roles: Role[];
  createdAt: string;
  revoked: boolean;
  revokedAt?: string;
  registrationPending: boolean;
  registrationExpiresAt?: string;
  lastSeen?: string;
  /** what the server knows of its keys (docs/security.md, "The dashboard's key state") */
  keyState: KeyState;
  /** the idle lock set here, in minutes (0: off); null: the workstation's own -idle-lock */
  idleLockMinutes: number | null;
}

export interface KeyState {
  /** its one-time code was used */
  claimedAt?: string;
  /** a login or a connection from it was last accepted */
  lastProofAt?: string;
  /** revoked, it asked for its standing and learnt it */
  toldRevokedAt?: string;
  /** revoked, it reported its keys destroyed (its own word) */
  wipedAt?: string;
}

export interface Registration {
  id: string;
  name: string;
  roles: Role[];
  registrationCode: string;
  registrationExpiresAt: string;
}

export interface BoardStatus {
  status: string;
  total: number;
  today: number;
  enteredByHour: number[];
}

export interface BoardQueue {
  key: string;
  label: string;
  table: string;
  status: string;
  nextAct: string;
  waitingFor: Role[];
  count: number;
  oldest: { id: string; since: string | null; waitingSeconds: number; patient: string } | null;
}

export interface Board {
  day: string;
  timeZone: string;
  dayStart: string;
  hours: number;
  now: string;
  appointments: BoardStatus[];
  prescriptions: BoardStatus[];
  queues: BoardQueue[];
}

/** One entry of the security log (GET /api/v1/admin/security-events). */
export interface SecurityEvent {
  id: string;
  at: string;
  kind: string;
  actorId?: string;
  actorName?: string;
  userId?: string;
  userEmail?: string;
  deviceId?: string;
  address?: string;
  reason?: string;
  target?: string;
  before?: unknown;
  after?: unknown;
}

export interface SecurityPage {
  items: SecurityEvent[];
  next: string;
  kinds: string[];
}
