import type { Ctx } from '../context';
import { h, replace } from '../../shared/dom';
import { clock, shortId } from '../format';
import type { ParkedAct } from '../types';

// Acts on hold: each came before its predecessor (vitals before the
// check-in reached the server) and waits, parked on the server, until the
// predecessor lands or its window runs out (docs/deferred.md).

export interface DeferredPanel {
  el: HTMLElement;
  load: () => Promise<void>;
}

export function deferredPanel(ctx: Ctx): DeferredPanel {
  const list = h('tbody');
  const count = h('span', { class: 'count', id: 'deferred-count' }, '0');
  const el = h(
    'div',
    { class: 'panel', id: 'deferred-panel' },
    h('h2', null, 'Acts on hold ', count),
    h('p', { class: 'sub' }, 'Each waits for an act of another workstation (such as a check-in at reception) and is applied the moment it arrives.'),
    h(
      'div',
      { class: 'scroll-x' },
      h(
        'table',
        { id: 'deferred', class: 'data' },
        h('thead', null, h('tr', null, h('th', null, 'Act'), h('th', null, 'Workstation'), h('th', null, 'By'), h('th', null, 'Done at'),
          h('th', null, 'Waiting for'), h('th', null, 'Gives up at'))),
        list,
      ),
    ),
  );
  async function load(): Promise<void> {
    const { acts } = await ctx.api.get<{ acts: ParkedAct[] }>('/api/v1/admin/deferred');
    count.textContent = String(acts.length);
    const now = ctx.now();
    if (acts.length === 0) {
      replace(list, h('tr', null, h('td', { colspan: 6, class: 'empty' }, 'No act is on hold.')));
      return;
    }
    replace(list, acts.map((a) =>
      h('tr', { 'data-key': `${a.deviceId}:${a.seq}` },
        h('td', null, a.name),
        h('td', null, a.deviceName || shortId(a.deviceId)),
        h('td', null, a.authorName),
        h('td', null, clock(a.occurredAt, now)),
        h('td', null, a.waitingFor, h('div', { class: 'sub' }, `${a.waitTable} `, h('code', { title: a.waitId }, shortId(a.waitId)), ` → ${a.waitState}`)),
        h('td', null, clock(a.expiresAt, now)))));
  }
  return { el, load };
}
