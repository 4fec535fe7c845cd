import { ApiError } from '../api';
import { concerns, type Ctx, type Topics, type View } from '../context';
import { h, Keyed, replace } from '../../shared/dom';
import { clock, closeNoteProblem, plural, reissueLine, resolutionLine, shortId, typedValues, unresolvedByWard } from '../format';
import { classify, HEALTH_LABEL, humanDuration } from '../status';
import type { AuditEntry, AuditPage, DeviceStatus, SyncStatus } from '../types';
import { deferredPanel } from './deferred';
import { healthSettings } from './health';
import { actDone, plainMessage, subjectLine } from '../../shared/acts';
import { fmtWhen, t } from '../../shared/i18n';

// The overview: every workstation's sync health, and the live feed of
// rejected acts with the reason and exactly what was typed.

export function overviewView(ctx: Ctx, onStatus: (s: SyncStatus) => void): View {
  const rows = h('tbody');
  const table = h(
    'table',
    { id: 'workstations', class: 'data ws-table' },
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        h('th', null, 'Status'),
        h('th', null, 'Workstation'),
        h('th', null, 'Network'),
        h('th', null, 'Last contact'),
        h('th', { class: 'num', title: 'Acts done at the workstation that have not reached the server yet, as the workstation last reported' }, 'Waiting to be sent'),
        h('th', { class: 'num', title: 'Whether the workstation has every update from the server (technical: changes committed after its cursor)' }, 'Up to date'),
        h('th', { class: 'num', title: 'Acts the server accepted / refused from this workstation in the last hour' }, 'Last hour'),
        h('th', { class: 'num', title: 'Acts the server accepted / refused from this workstation since it was registered' }, 'Since registered'),
        h('th', { class: 'num', title: 'Refused acts nobody has reviewed yet' }, 'To review'),
        h('th', { class: 'num', title: 'Acts the server keeps until another workstation\'s act arrives (for example a check-in)' }, 'On hold'),
        h('th', null, 'Last problem'),
      ),
    ),
    rows,
  );
  const feed = h('ol', { id: 'rejected-feed', class: 'feed' });
  // The review queue's figure per ward (a workstation is a ward's), in big.
  const byWard = h('div', { id: 'unresolved-by-ward', class: 'by-ward' });
  const onlyOpen = h('input', { type: 'checkbox', id: 'feed-unresolved' }) as HTMLInputElement;
  onlyOpen.addEventListener('change', () => void loadRejected());
  const onHold = deferredPanel(ctx);
  const settings = healthSettings(ctx, () => void loadStatus());
  const el = h(
    'section',
    { id: 'view-overview', class: 'view' },
    h(
      'div',
      { class: 'panel' },
      h('h2', null, 'Workstations'),
      h('p', { class: 'hint' }, 'Each ward workstation keeps working when the network is down and sends its work when it returns. Offline means the server cannot see what was done there since.'),
      h('div', { class: 'scroll-x' }, table),
      settings.el,
    ),
    onHold.el,
    h(
      'div',
      { class: 'panel' },
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
      replace(rows, h('tr', null, h('td', { colspan: 11, class: 'empty' }, 'No workstation is registered yet: register one under Workstations.')));
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
    const conn = d.revoked ? 'revoked' : d.connected ? 'connected' : hl.online ? 'connected (other server)' : 'offline';
    const pendingAge = d.pending > 0 && d.oldestPendingAt ? humanDuration(now - Date.parse(d.oldestPendingAt)) : '';
    const lag = `${d.cursorLag}${d.cursorLagCapped ? '+' : ''}`;
    return h(
      'tr',
      { class: `ws-row status-${hl.cls}`, 'data-device-id': d.id, 'data-status': hl.cls, 'data-online': String(hl.online) },
      h('td', null, h('span', { class: `badge badge-${hl.cls}` }, HEALTH_LABEL[hl.cls]), h('div', { class: 'reason' }, hl.reason)),
      h(
        'td',
        null,
        h('div', { class: 'name' }, d.name),
        h('div', { class: 'sub' }, d.roles.map((r) => ROLE_WORDS[r] ?? r).join(', '), ' · ', h('code', { title: `Workstation id ${d.id}` }, shortId(d.id)), ' · ', h('span', { class: 'ws-version' }, d.clientVersion || 'release unknown')),
      ),
      h('td', null, h('span', { class: `dot ${hl.online ? 'on' : 'off'}` }), conn),
      h('td', null, d.lastSeen ? `${humanDuration(Math.max(now - Date.parse(d.lastSeen), 0))} ago` : 'never', h('div', { class: 'sub' }, clock(d.lastSeen, now))),
      h(
        'td',
        { class: 'num' },
        hl.online ? String(d.pending) : hl.cls === 'new' ? '—' : h('span', { title: 'The server cannot know acts done since the link dropped' }, `${d.pending} last reported`),
        pendingAge && h('div', { class: 'sub' }, `oldest ${pendingAge}`),
      ),
      h(
        'td',
        { class: 'num', title: `Technical: ${d.initialSync ? 'first download not finished' : `${lag} changes after its cursor`}` },
        d.initialSync ? 'first download' : d.cursorLag === 0 ? 'up to date' : `${lag} to receive`,
      ),
      h(
        'td',
        { class: 'num', title: `${d.mutations.appliedLastHour} accepted, ${d.mutations.rejectedLastHour} refused in the last hour` },
        `${d.mutations.appliedLastHour} / `,
        h('span', { class: d.mutations.rejectedLastHour ? 'bad' : '' }, String(d.mutations.rejectedLastHour)),
      ),
      h('td', { class: 'num', title: `${d.mutations.appliedTotal} accepted, ${d.mutations.rejectedTotal} refused since registered` }, `${d.mutations.appliedTotal} / ${d.mutations.rejectedTotal}`),
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
          e.author ? ` · ${e.author.role}` : ''),
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
  const t = s.totals;
  return h(
    'div',
    { class: 'summary', id: 'summary', title: `Technical: change feed head ${s.feed.head}, ${s.feed.retained} changes retained, pruned through ${s.feed.prunedId}` },
    h('span', null, plural(t.devices, 'workstation')),
    h('span', null, `${t.online} online`),
    h('span', { id: 'summary-offline', class: t.offline ? 'amber-text' : '' }, `${t.offline ?? 0} offline`),
    h('span', { class: t.amber ? 'amber-text' : '' }, `${t.amber} late`),
    h('span', { class: t.red ? 'red-text' : '' }, `${t.red} stalled`),
    h('span', { title: 'Acts done at the workstations that have not reached the server yet, as last reported' }, `${plural(t.pendingUploads, 'act')} waiting to be sent`),
    h('span', { class: t.unresolvedRejected ? 'red-text' : '' }, `${plural(t.unresolvedRejected, 'refused act')} to review`),
    h('span', { id: 'summary-deferred' }, `${t.deferred ?? 0} on hold`),
    t.chainBreaks
      ? h('span', { class: 'red-text', id: 'summary-chain', title: 'Acts edited or removed on a workstation after they were written; see the audit log, chain: broken links only' }, `${plural(t.chainBreaks, 'broken chain link')}`)
      : '',
  );
}

/** ROLE_WORDS name what a workstation serves in the words of the ward. */
const ROLE_WORDS: Record<string, string> = {
  SECRETARY: 'reception',
  NURSE: 'nursing',
  DOCTOR: 'doctors',
  BIOLOGIST: 'lab',
  ADMIN: 'administration',
};
