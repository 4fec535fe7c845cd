import { hourlyBars } from '../chart';
import { concerns, type Ctx, type Topics, type View } from '../context';
import { h, replace, s } from '../../shared/dom';
import { clock, label } from '../format';
import { DatePattern, datePlaceholder, dayInput, has, parseDay, roleName, t, type MessageKey } from '../../shared/i18n';
import { humanDuration } from '../status';
import type { Board, BoardStatus } from '../types';

// The workflow board: how many appointments and prescriptions are in each
// status, a small chart per status of the acts that moved items into it
// hour by hour today, and the queues with the item waiting longest.

const CHART_W = 240;

/** statusWord names a status in the catalog's words ("Checked in"). */
function statusWord(status: string): string {
  const key = `status.${status}`;
  return has(key) ? t(key as MessageKey) : label(status);
}
const CHART_H = 30;

function chart(st: BoardStatus, nowHour: number | null): SVGSVGElement {
  const c = hourlyBars(st.enteredByHour, { width: CHART_W, height: CHART_H, gap: 2, nowHour });
  const total = st.enteredByHour.reduce((a, b) => a + b, 0);
  return s(
    'svg',
    {
      class: 'spark',
      width: c.width,
      height: c.height + 10,
      viewBox: `0 0 ${c.width} ${c.height + 10}`,
      role: 'img',
      'aria-label': t('board.chartLabel', { status: statusWord(st.status), total, max: c.max }),
    },
    s('line', { x1: 0, y1: c.height + 0.5, x2: c.width, y2: c.height + 0.5, class: 'axis' }),
    c.nowX === null ? null : s('line', { x1: c.nowX, y1: 0, x2: c.nowX, y2: c.height, class: 'now' }),
    c.bars.map((b) =>
      s(
        'rect',
        { x: b.x, y: b.y, width: b.w, height: b.h, class: b.value ? 'bar' : 'bar zero' },
        s('title', null, t('board.barTitle', { from: String(b.hour).padStart(2, '0'), to: String(b.hour + 1).padStart(2, '0'), n: b.value })),
      ),
    ),
    [0, 6, 12, 18].filter((hr) => hr < c.bars.length).map((hr) => s('text', { x: c.bars[hr]!.x, y: c.height + 9, class: 'tick' }, String(hr).padStart(2, '0'))),
  );
}

export function boardView(ctx: Ctx): View {
  // The day typed as dd/mm/yyyy (no browser date picker); sent as yyyy-mm-dd.
  const dateInput = h('input', { type: 'text', id: 'board-date', inputmode: 'numeric', pattern: DatePattern, placeholder: datePlaceholder(), size: 10,
    'aria-label': t('board.day') }) as HTMLInputElement;
  dateInput.addEventListener('change', () => void load());
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  const appts = h('div', { class: 'statuses', id: 'board-appointments' });
  const rxs = h('div', { class: 'statuses', id: 'board-prescriptions' });
  const queues = h('tbody');
  const title = h('span', { class: 'sub' });
  const el = h(
    'section',
    { id: 'view-board', class: 'view' },
    h('div', { class: 'panel-head' }, h('h2', null, t('adm.tab.board'), ' ', title), h('label', { class: 'inline' }, t('board.day'), ' ', dateInput)),
    h(
      'div',
      { class: 'grid-2' },
      h('div', { class: 'panel' }, h('h3', null, t('board.appointments')), h('p', { class: 'hint' }, t('board.appointmentsHint')), appts),
      h('div', { class: 'panel' }, h('h3', null, t('board.prescriptions')), h('p', { class: 'hint' }, t('board.prescriptionsHint')), rxs),
    ),
    h(
      'div',
      { class: 'panel' },
      h('h3', null, t('board.todaysQueues')),
      h(
        'table',
        { class: 'data', id: 'queues' },
        h('thead', null, h('tr', null, h('th', null, t('board.queue')), h('th', null, t('adm.waitingFor')), h('th', { class: 'num' }, t('board.items')), h('th', null, t('board.longest')))),
        queues,
      ),
    ),
  );

  function statusRows(list: BoardStatus[], withToday: boolean, nowHour: number | null): HTMLElement[] {
    return list.map((st) =>
      h(
        'div',
        { class: 'status-row', 'data-status': st.status },
        h('span', { class: 'status-name' }, statusWord(st.status)),
        h('span', { class: 'count', title: withToday ? t('board.countTitleToday') : t('board.countTitleAll') }, withToday ? `${st.today} / ${st.total}` : String(st.total)),
        chart(st, nowHour),
        h('span', { class: 'sub acts' }, t('board.today', { n: st.enteredByHour.reduce((a, b) => a + b, 0) })),
      ),
    );
  }

  async function load(): Promise<void> {
    const q = new URLSearchParams({ tz });
    const day = parseDay(dateInput.value);
    if (day.iso) q.set('date', day.iso);
    const b = await ctx.api.get<Board>(`/api/v1/admin/board?${q}`);
    ctx.setServerTime(b.now);
    if (!dateInput.value) dateInput.value = dayInput(b.day);
    const start = Date.parse(b.dayStart);
    const now = Date.parse(b.now);
    const nowHour = now >= start && now < start + b.hours * 3_600_000 ? Math.floor((now - start) / 3_600_000) : null;
    title.textContent = `${dayInput(b.day)} (${b.timeZone})`;
    replace(appts, statusRows(b.appointments, true, nowHour));
    replace(rxs, statusRows(b.prescriptions, false, nowHour));
    replace(
      queues,
      b.queues.map((q) => {
        const o = q.oldest;
        const since = o && o.since ? Date.parse(o.since) : NaN;
        const due = q.status === 'SCHEDULED' && since > ctx.now(); // not yet due
        const waited = Number.isNaN(since) || due ? 0 : Math.max(ctx.now() - since, 0);
        const cls = waited >= 3_600_000 ? 'red-text' : waited >= 900_000 ? 'amber-text' : '';
        const wait = Number.isNaN(since) ? '' : due ? t('board.due') : humanDuration(waited);
        return h(
          'tr',
          { 'data-queue': q.key, class: q.count ? '' : 'idle' },
          h('td', null, q.label, h('div', { class: 'sub' }, `${q.table} ${label(q.status).toLowerCase()}`)),
          h('td', null, q.waitingFor.map(roleName).join(', ')),
          h('td', { class: 'num' }, String(q.count)),
          h('td', null, o ? [h('span', { class: cls }, wait), ` ${o.patient}`, h('div', { class: 'sub' }, o.since ? t(due ? 'board.at' : 'board.since', { time: clock(o.since, ctx.now()) }) : '')] : '-'),
        );
      }),
    );
  }

  return {
    el,
    async refresh(topics: Topics) {
      // Waiting times and today's hours move with the clock: the tick too.
      if (concerns(topics, 'feed', 'mutations', 'tick')) await load();
    },
  };
}
