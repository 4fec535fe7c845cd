// The sync bar, always on screen: online or offline since HH:MM, how many
// acts wait (and since when), how many were refused, how fresh the records
// are when offline, and the progress of a first sync.
import { h, replace } from '../dom';
import { syncView } from '../format';
import type { Status } from '../types';

export interface SyncBarHandlers {
  waiting?: () => void;
  rejected?: () => void;
}

export function renderSyncBar(el: HTMLElement, s: Status, on: SyncBarHandlers): void {
  const v = syncView(s);
  el.dataset.state = v.state;
  el.dataset.pending = String(s.pending);
  el.dataset.rejected = String(s.rejected);
  const item = (id: string, text: string, cls: string, onclick?: () => void) =>
    onclick
      ? h('button', { type: 'button', id, class: `sync-item link ${cls}`, onclick }, text)
      : h('span', { id, class: `sync-item ${cls}` }, text);
  replace(el,
    h('span', { id: 'sync-conn', class: `sync-item conn ${v.state}` }, h('span', { class: 'dot', 'aria-hidden': 'true' }), v.connection),
    v.asOf ? h('span', { id: 'sync-asof', class: 'sync-item muted' }, v.asOf) : null,
    item('sync-waiting', v.waiting, s.pending > 0 ? 'busy' : '', on.waiting),
    item('sync-rejected', v.rejected, s.rejected > 0 ? 'bad' : '', on.rejected),
    v.progress
      ? h('span', { id: 'sync-progress', class: 'sync-item progress' },
        h('progress', { max: String(Math.max(v.progress.total, v.progress.rows, 1)), value: String(v.progress.rows) }), v.progress.text)
      : null,
    h('span', { class: 'sync-spacer' }),
    h('span', { class: 'sync-item muted small', title: s.serverUrl }, s.deviceId ? `Workstation ${s.deviceId.slice(0, 8)}` : ''),
  );
}
