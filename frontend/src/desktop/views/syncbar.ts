// The sync bar, always on screen: online or offline since HH:MM, how many
// acts wait (and since when), how many were refused, how fresh the records
// are when offline, and the progress of a first sync. Its elements are made
// once and updated in place, so that a click on "1 rejected" never lands on
// a node an event just replaced.
import { h } from '../../shared/dom';
import { api } from '../api';
import { retryText, sendNow, syncView } from '../format';
import { t } from '../../shared/i18n';
import type { Status } from '../types';
import { showAbout } from './about';

export interface SyncBarHandlers {
  waiting?: () => void;
  rejected?: () => void;
}

interface Parts {
  conn: HTMLElement;
  connText: Text;
  asOf: HTMLElement;
  waiting: HTMLButtonElement;
  rejected: HTMLButtonElement;
  chain: HTMLElement;
  progress: HTMLElement;
  bar: HTMLProgressElement;
  progressText: Text;
  device: HTMLButtonElement;
  retry: HTMLElement;
  dash: HTMLElement;
  sendNow: HTMLButtonElement;
  status?: Status;
  /** the engine's clock minus the page's, from the last status */
  skew: number;
  on: SyncBarHandlers;
}

const parts = new WeakMap<HTMLElement, Parts>();

function build(el: HTMLElement): Parts {
  const p: Parts = {
    conn: h('span', { id: 'sync-conn', class: 'sync-item conn' }, h('span', { class: 'dot', 'aria-hidden': 'true' })),
    connText: document.createTextNode(''),
    asOf: h('span', { id: 'sync-asof', class: 'sync-item muted' }),
    waiting: h('button', { type: 'button', id: 'sync-waiting', class: 'sync-item link' }),
    rejected: h('button', { type: 'button', id: 'sync-rejected', class: 'sync-item link' }),
    chain: h('span', { id: 'sync-chain', class: 'sync-item bad', role: 'alert' }),
    progress: h('span', { id: 'sync-progress', class: 'sync-item progress' }),
    bar: h('progress', { max: '1', value: '0' }),
    progressText: document.createTextNode(''),
    device: h('button', { type: 'button', id: 'sync-about', class: 'sync-item link muted small' }),
    retry: h('span', { id: 'sync-retry', class: 'sync-item muted', role: 'status' }),
    dash: h('span', { class: 'sync-item muted', 'aria-hidden': 'true' }, '—'),
    sendNow: h('button', { type: 'button', id: 'sync-send-now', class: 'sync-item link' }, sendNow()),
    skew: 0,
    on: {},
  };
  // "Send now" is here, on every screen: offline it tries the server at
  // once, online it pushes and pulls at once.
  p.sendNow.addEventListener('click', () => {
    p.sendNow.disabled = true;
    void api.syncNow().catch(() => undefined).finally(() => (p.sendNow.disabled = false));
  });
  // The countdown moves between status events.
  window.setInterval(() => countdown(p), 500);
  p.conn.append(p.connText);
  p.progress.append(p.bar, p.progressText);
  p.waiting.addEventListener('click', () => p.on.waiting?.());
  p.rejected.addEventListener('click', () => p.on.rejected?.());
  p.device.addEventListener('click', () => p.status && showAbout(p.status));
  el.replaceChildren(p.conn, p.retry, p.dash, p.sendNow, p.waiting, p.rejected, p.chain, p.asOf, p.progress, h('span', { class: 'sync-spacer' }), p.device);
  parts.set(el, p);
  return p;
}

function countdown(p: Parts): void {
  const s = p.status;
  const text = s ? retryText(s, Date.now() + p.skew) : '';
  if (p.retry.textContent !== text) p.retry.textContent = text;
  p.retry.hidden = text === '';
  p.dash.hidden = text === '';
  // Offline with a countdown, or online with acts waiting.
  p.sendNow.hidden = !s || (text === '' && !(s.online && s.pending > 0));
}

export function renderSyncBar(el: HTMLElement, s: Status, on: SyncBarHandlers): void {
  const p = parts.get(el) ?? build(el);
  const v = syncView(s);
  p.on = on;
  p.status = s;
  const engineNow = Date.parse(s.now);
  p.skew = Number.isNaN(engineNow) ? 0 : engineNow - Date.now();
  countdown(p);
  el.dataset.state = v.state;
  el.dataset.pending = String(s.pending);
  el.dataset.rejected = String(s.rejected);
  p.conn.className = `sync-item conn ${v.state}`;
  p.connText.data = v.connection;
  p.chain.textContent = v.chain;
  p.chain.hidden = v.chain === '';
  p.asOf.textContent = v.asOf;
  p.asOf.hidden = v.asOf === '';
  p.waiting.textContent = v.waiting;
  p.waiting.className = `sync-item link${s.pending > 0 ? ' busy' : ''}`;
  p.rejected.textContent = v.rejected;
  p.rejected.className = `sync-item link${s.rejected > 0 ? ' bad' : ''}`;
  // Before login there is nowhere to go: plain text, out of the tab order.
  p.waiting.disabled = !on.waiting;
  p.rejected.disabled = !on.rejected;
  p.progress.hidden = !v.progress;
  if (v.progress) {
    p.bar.max = Math.max(v.progress.total, v.progress.rows, 1);
    p.bar.value = v.progress.rows;
    p.progressText.data = v.progress.text;
  }
  // The language can change without a new page: every word is set here.
  p.sendNow.textContent = sendNow();
  p.device.textContent = s.deviceId ? t('sync.deviceVersion', { id: s.deviceId.slice(0, 8), version: s.version ?? 'dev' }) : t('sync.version', { version: s.version ?? 'dev' });
  p.device.title = t('sync.about', { url: s.serverUrl });
}
