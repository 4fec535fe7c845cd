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

export function concerns(topics: Topics, ...names: string[]): boolean {
  if (topics.has('all') || topics.has('tick')) return true;
  return names.some((n) => topics.has(n));
}
