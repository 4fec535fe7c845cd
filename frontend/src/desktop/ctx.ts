// What every view gets from the shell (main.ts).
import type { Session, Status } from './types';

export type View = 'queue' | 'patients' | 'waiting' | 'rejected';

export interface Ctx {
  status: Status;
  session: Session;
  userId: string;
  /** show a view (patients: optionally a patient's record). */
  go: (view: View, patientId?: string) => void;
  /** openPanel shows a form beside the lists; null closes it. */
  openPanel: (node: HTMLElement | null) => void;
  /** flash says what just happened. */
  flash: (text: string, kind?: 'ok' | 'warn') => void;
  /** acted reports a queued act and refreshes the lists. */
  acted: (text: string) => void;
  now: () => Date;
}
