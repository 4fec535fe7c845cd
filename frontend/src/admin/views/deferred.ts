import type { Ctx } from '../context';
import { h, replace } from '../../shared/dom';
import { actDone, subjectLine } from '../../shared/acts';
import { fmtWhen, t } from '../../shared/i18n';
import { shortId } from '../format';
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
    h('h2', null, t('adm.onHold'), ' ', count),
    h('p', { class: 'sub' }, t('adm.onHoldIntro')),
    h(
      'div',
      { class: 'scroll-x' },
      h(
        'table',
        { id: 'deferred', class: 'data' },
        h('thead', null, h('tr', null, h('th', null, t('waiting.act')), h('th', null, t('waiting.patient')), h('th', null, t('adm.workstation')),
          h('th', null, t('waiting.by')), h('th', null, t('waiting.doneAt')), h('th', null, t('adm.waitingFor')), h('th', null, t('adm.givesUpAt')))),
        list,
      ),
    ),
  );
  async function load(): Promise<void> {
    const { acts } = await ctx.api.get<{ acts: ParkedAct[] }>('/api/v1/admin/deferred');
    count.textContent = String(acts.length);
    const now = ctx.now();
    if (acts.length === 0) {
      replace(list, h('tr', null, h('td', { colspan: 7, class: 'empty' }, t('adm.noneOnHold'))));
      return;
    }
    replace(list, acts.map((a) =>
      h('tr', { 'data-key': `${a.deviceId}:${a.seq}` },
        h('td', null, actDone(a.name)),
        h('td', { 'data-role': 'subject' }, subjectLine(a.subject) || t('subject.none')),
        h('td', null, a.deviceName || shortId(a.deviceId)),
        h('td', null, a.authorName),
        h('td', null, fmtWhen(a.occurredAt, new Date(now))),
        h('td', null, a.waitingFor,
          // What the act waits on, as the server names it: for whoever traces it.
          h('details', { class: 'details' }, h('summary', null, t('details.summary')),
            h('div', { class: 'sub' }, `${a.name} · ${a.waitTable} `, h('code', null, a.waitId), ` → ${a.waitState}`))),
        h('td', null, fmtWhen(a.expiresAt, new Date(now))))));
  }
  return { el, load };
}
