import { ApiError } from '../api';
import { concerns, type Ctx, type Topics, type View } from '../context';
import { h, Keyed, replace } from '../../shared/dom';
import { clock, closeNoteProblem, reissueLine, resolutionLine, shortId, typedValues, unresolvedByWard } from '../format';
import { classify, healthLabel, humanDuration } from '../status';
import type { AuditEntry, AuditPage, DeviceStatus, SyncStatus } from '../types';
import { deferredPanel } from './deferred';
import { healthSettings } from './health';
import { dataTable, panel, view, type Head } from './layout';
import { actDone, plainMessage, subjectLine } from '../../shared/acts';
import { fmtWhen, has, roleName, t, tn, type MessageKey } from '../../shared/i18n';

// The overview: every workstation's sync health, and the live feed of
// rejected acts with the reason and exactly what was typed.

export function overviewView(ctx: Ctx, onStatus: (s: SyncStatus) => void): View {
  const rows = h('tbody');
  const num = (head: MessageKey, title: MessageKey): Head => [t(head), { class: 'num', title: t(title) }];
  const table = dataTable(
    'workstations',
    [
      t('ws.status'),
      t('adm.workstation'),
      t('ws.network'),
      t('ws.lastContact'),
      num('ws.waiting', 'ws.waitingTitle'),
      num('ws.upToDateHead', 'ws.upToDateTitle'),
      num('ws.lastHour', 'ws.lastHourTitle'),
      num('ws.sinceRegistered', 'ws.sinceRegisteredTitle'),
      num('ws.toReview', 'ws.toReviewTitle'),
      num('ws.onHold', 'ws.onHoldTitle'),
      t('ws.lastProblem'),
    ],
    rows,
    'ws-table',
  );
  const feed = h('ol', { id: 'rejected-feed', class: 'feed' });
  // The review queue's figure per ward (a workstation is a ward's), in big.
  const byWard = h('div', { id: 'unresolved-by-ward', class: 'by-ward' });
  const onlyOpen = h('input', { type: 'checkbox', id: 'feed-unresolved' }) as HTMLInputElement;
  onlyOpen.addEventListener('change', () => void loadRejected());
  const onHold = deferredPanel(ctx);
  const settings = healthSettings(ctx, () => void loadStatus());
  const el = view(
    'view-overview',
    panel(h('h2', null, t('adm.tab.devices')), h('p', { class: 'hint' }, t('ws.hint')), h('div', { class: 'scroll-x' }, table), settings.el),
    onHold.el,
    panel(
      h(
        'div',
        { class: 'panel-head' },
        h('h2', null, t('adm.rejectedTitle'), ' ', h('span', { class: 'live-tag' }, t('adm.live'))),
        h('label', { class: 'inline' }, onlyOpen, ' ', t('adm.unresolvedOnly')),
      ),
      byWard,
      feed,
    ),
  );

  let status: SyncStatus | null = null;
  const known = new Set<string>();
  let firstFeed = true;

  function renderRows(): void {
    if (!status) return;
    const now = ctx.now();
    if (status.devices.length === 0) {
      replace(rows, h('tr', null, h('td', { colspan: 11, class: 'empty' }, t('ws.none'))));
      return;
    }
    replace(rows, status.devices.map((d) => row(d, now)));
    const wards = unresolvedByWard(status.devices);
    replace(byWard, wards.length === 0
      ? h('span', { class: 'sub' }, t('adm.noUnresolved'))
      : wards.map((w) => h('span', { class: 'ward-count', 'data-device-id': w.id }, h('strong', { class: 'bad' }, String(w.n)), ' ', t('adm.unresolvedAt', { ward: w.name }))));
  }

  function row(d: DeviceStatus, now: number): HTMLTableRowElement {
    const hl = classify(now, d, status?.thresholds);
    const conn = t(d.revoked ? 'ws.conn.revoked' : d.connected ? 'ws.conn.connected' : hl.online ? 'ws.conn.other' : 'ws.conn.offline');
    const pendingAge = d.pending > 0 && d.oldestPendingAt ? humanDuration(now - Date.parse(d.oldestPendingAt)) : '';
    const lag = `${d.cursorLag}${d.cursorLagCapped ? '+' : ''}`;
    return h(
      'tr',
      { class: `ws-row status-${hl.cls}`, 'data-device-id': d.id, 'data-status': hl.cls, 'data-online': String(hl.online) },
      h('td', null, h('span', { class: `badge badge-${hl.cls}` }, healthLabel(hl.cls)), h('div', { class: 'reason' }, hl.reason)),
      h(
        'td',
        null,
        h('div', { class: 'name' }, d.name),
        h('div', { class: 'sub' }, d.roles.map(roleWords).join(', '), ' · ', h('code', { title: t('ws.idTitle', { id: d.id }) }, shortId(d.id)), ' · ', h('span', { class: 'ws-version' }, d.clientVersion || t('ws.releaseUnknown'))),
      ),
      h('td', null, h('span', { class: `dot ${hl.online ? 'on' : 'off'}` }), conn),
      h('td', null, d.lastSeen ? t('ws.ago', { duration: humanDuration(Math.max(now - Date.parse(d.lastSeen), 0)) }) : t('dev.never'), h('div', { class: 'sub' }, clock(d.lastSeen, now))),
      h(
        'td',
        { class: 'num' },
        hl.online && !hl.checking ? String(d.pending) : hl.cls === 'new' || (hl.checking && !d.queueReportedAt) ? '—' : h('span', { title: t('ws.unknownSince') }, t('ws.lastReported', { n: d.pending })),
        pendingAge && h('div', { class: 'sub' }, t('ws.oldest', { duration: pendingAge })),
      ),
      h(
        'td',
        { class: 'num', title: d.initialSync ? t('ws.lagTitleFirst') : t('ws.lagTitle', { lag }) },
        d.initialSync ? t('ws.firstDownload') : d.cursorLag === 0 ? t('ws.upToDate') : t('ws.toReceive', { lag }),
      ),
      h(
        'td',
        { class: 'num', title: t('ws.hourTitle', { applied: d.mutations.appliedLastHour, rejected: d.mutations.rejectedLastHour }) },
        `${d.mutations.appliedLastHour} / `,
        h('span', { class: d.mutations.rejectedLastHour ? 'bad' : '' }, String(d.mutations.rejectedLastHour)),
      ),
      h('td', { class: 'num', title: t('ws.totalTitle', { applied: d.mutations.appliedTotal, rejected: d.mutations.rejectedTotal }) }, `${d.mutations.appliedTotal} / ${d.mutations.rejectedTotal}`),
      h('td', { class: 'num' }, d.mutations.unresolvedRejected ? h('span', { class: 'bad' }, String(d.mutations.unresolvedRejected)) : '0'),
      h('td', { class: 'num deferred' }, String(d.deferred ?? 0)),
      h('td', { class: 'err' }, d.lastError ? [h('div', null, d.lastError), h('div', { class: 'sub' }, clock(d.lastErrorAt, now))] : ''),
    );
  }

  function card(e: AuditEntry, fresh: boolean): HTMLLIElement {
    const key = `${e.deviceId}:${e.seq}`;
    const values = typedValues(e.args, e.field ?? '');
    // Close with a written reason: required; the audit log keeps who, when and why.
    const note = h('textarea', { rows: 2, maxlength: 2000, 'data-role': 'close-note', placeholder: t('adm.closeNote') }) as HTMLTextAreaElement;
    const problem = h('p', { class: 'problem', role: 'alert', hidden: true });
    const send = h('button', { type: 'button', class: 'small', 'data-role': 'close-send' }, t('adm.closeSend'));
    const box = h('div', { class: 'close-box', hidden: true }, note, problem, send);
    const resolve = h('button', { type: 'button', class: 'small', 'data-role': 'close' }, t('adm.closeOpen'));
    resolve.addEventListener('click', () => {
      box.hidden = false;
      note.focus();
    });
    send.addEventListener('click', async () => {
      const p = closeNoteProblem(note.value);
      problem.textContent = p;
      problem.hidden = p === '';
      if (p) return;
      send.disabled = true;
      try {
        await ctx.api.post(`/api/v1/admin/rejected/${encodeURIComponent(e.deviceId)}/${e.seq}/resolve`, { note: note.value.trim() });
        ctx.toast(t('adm.closed', { act: actDone(e.name), subject: subjectLine(e.subject) || e.deviceName }));
        await loadRejected();
      } catch (err) {
        send.disabled = false;
        problem.textContent = (err as Error).message;
        problem.hidden = false;
      }
    });
    const link = reissueLine(e);
    const when = (iso: string) => fmtWhen(iso, new Date(ctx.now()));
    return h(
      'li',
      { class: `reject${fresh ? ' fresh' : ''}${e.resolution ? ' resolved' : ''}`, 'data-key': key },
      h(
        'div',
        { class: 'reject-head' },
        h('span', { class: 'act' }, actDone(e.name)),
        h('span', { class: 'subject', 'data-role': 'subject' }, subjectLine(e.subject) || t('subject.none')),
        e.resolution ? h('span', { class: 'sub resolved-by' }, resolutionLine(e, ctx.now())) : resolve,
      ),
      h('p', { class: 'sub', 'data-role': 'who' }, t('adm.rejectedWho', {
        by: e.author ? e.author.name : '?', device: e.deviceName || shortId(e.deviceId), when: when(e.occurredAt), received: when(e.receivedAt),
      })),
      h('p', { class: 'message' }, plainMessage(e.message ?? '', e.subject)),
      link ? h('p', { class: 'sub reissue-of' }, link) : null,
      e.resolution ? null : box,
      // The act's internal name, code, ids and field names: for whoever traces it.
      h(
        'details',
        { class: 'details', 'data-role': 'details' },
        h('summary', null, t('details.summary')),
        h('p', { class: 'sub' }, h('span', { class: 'code' }, e.code ?? ''), ` ${e.name} · ${t('details.seq')} ${e.seq} · `, h('code', null, e.mutationId),
          e.author ? ` · ${roleName(e.author.role)}` : ''),
        h('p', { class: 'sub' }, e.message ?? ''),
        h(
          'table',
          { class: 'values' },
          h('caption', null, t('adm.entered')),
          h(
            'tbody',
            null,
            values.map((v) =>
              h('tr', { class: v.flagged ? 'flagged' : '' }, h('th', null, v.path), h('td', { class: `v-${v.type.replace(' ', '-')}` }, v.text), h('td', { class: 'type' }, v.type)),
            ),
          ),
        ),
      ),
    );
  }

  // One element per rejected act, kept across live updates while it shows
  // the same thing: an open "Close with a reason" box keeps its text.
  const cards = new Keyed<{ e: AuditEntry; fresh: boolean }>(
    ({ e }) => `${e.deviceId}:${e.seq}`,
    ({ e }) => JSON.stringify(e),
    ({ e, fresh }) => card(e, fresh),
  );

  async function loadRejected(): Promise<void> {
    const q = onlyOpen.checked ? '&unresolved=true' : '';
    const page = await ctx.api.get<AuditPage>(`/api/v1/admin/rejected?limit=25${q}`);
    const items = page.items.map((e) => {
      const key = `${e.deviceId}:${e.seq}`;
      const fresh = !firstFeed && !known.has(key);
      known.add(key);
      return { e, fresh };
    });
    firstFeed = false;
    if (items.length === 0) {
      cards.render(feed, []);
      replace(feed, h('li', { class: 'empty' }, t('adm.noRejected')));
    } else {
      if (feed.querySelector(':scope > li.empty')) feed.replaceChildren();
      cards.render(feed, items);
    }
  }

  async function loadStatus(): Promise<void> {
    status = await ctx.api.get<SyncStatus>('/api/v1/sync/status');
    ctx.setServerTime(status.serverTime);
    onStatus(status);
    renderRows();
  }

  return {
    el,
    async refresh(topics: Topics) {
      // The status depends on time (ages, colours): every event re-reads
      // it, the tick included. Its table holds no input.
      const jobs: Promise<void>[] = [loadStatus()];
      if (concerns(topics, 'mutations', 'rejection_resolutions')) jobs.push(loadRejected());
      if (concerns(topics, 'mutations')) jobs.push(onHold.load());
      if (concerns(topics, 'settings')) jobs.push(settings.load());
      const results = await Promise.allSettled(jobs);
      for (const r of results) if (r.status === 'rejected' && !(r.reason instanceof ApiError && r.reason.status === 401)) throw r.reason;
    },
    tick: renderRows,
  };
}

export function summary(s: SyncStatus): HTMLElement {
  const n = s.totals;
  return h(
    'div',
    { class: 'summary', id: 'summary', title: t('sum.title', { head: s.feed.head, retained: s.feed.retained, pruned: s.feed.prunedId }) },
    h('span', null, tn('sum.devices.one', 'sum.devices.many', n.devices)),
    h('span', null, t('sum.online', { n: n.online })),
    h('span', { id: 'summary-offline', class: n.offline ? 'amber-text' : '' }, t('sum.offline', { n: n.offline ?? 0 })),
    h('span', { class: n.amber ? 'amber-text' : '' }, t('sum.late', { n: n.amber })),
    h('span', { class: n.red ? 'red-text' : '' }, t('sum.stalled', { n: n.red })),
    h('span', { title: t('sum.pendingTitle') }, tn('sum.pending.one', 'sum.pending.many', n.pendingUploads)),
    h('span', { class: n.unresolvedRejected ? 'red-text' : '' }, tn('sum.review.one', 'sum.review.many', n.unresolvedRejected)),
    h('span', { id: 'summary-deferred' }, t('sum.onHold', { n: n.deferred ?? 0 })),
    n.chainBreaks
      ? h('span', { class: 'red-text', id: 'summary-chain', title: t('sum.chainTitle') }, tn('sum.chain.one', 'sum.chain.many', n.chainBreaks))
      : '',
  );
}

/** roleWords names what a workstation serves in the words of the ward. */
function roleWords(role: string): string {
  const key = `ws.role.${role}`;
  return has(key) ? t(key) : role;
}
