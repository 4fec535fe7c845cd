import type { Api } from './api';

/** Topics of a "changed" event: all, tick, feed, mutations, clients, devices. */
export type Topics = ReadonlySet<string>;

export interface Ctx {
  api: Api;
  /** now on the server's clock (ms), from the last status's serverTime */
  now(): number;
  /** setServerTime records the server's clock at a reply */
  setServerTime(iso: string): void;
  toast(message: string, kind?: 'info' | 'error'): void;
  /** the signed-in administrator */
  me: { id: string; name: string };
}

export interface View {
  el: HTMLElement;
  /** refresh re-reads what the view shows when topics concern it */
  refresh(topics: Topics): Promise<void>;
  /** tick runs every second (ages, colours) */
  tick?(): void;
}

/**
 * concerns says whether a view showing names must re-read them. The
 * server's 5 s "tick" is not a change: it refreshes only what depends on
 * time (the workstations' status), which asks for it by name. Treating it
 * as "everything" rebuilt every list every 5 s, and with them any form
 * open in them and what was typed there.
 */
export function concerns(topics: Topics, ...names: string[]): boolean {
  if (topics.has('all')) return true;
  return names.some((n) => topics.has(n));
}
