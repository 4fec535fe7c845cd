import type { Ctx, Topics, View } from '../context';
import { formValues, h, replace } from '../../shared/dom';
import { clock, shortId } from '../format';
import { DatePattern, datePlaceholder, has, parseDay, t } from '../../shared/i18n';
import type { SecurityEvent, SecurityPage } from '../types';
import { dataTable, panel, view } from './layout';

// The security log (sync.security_events): logins, failed logins, logouts,
// session ends and every administrative act, with who, from where, and the
// state before and after. Filters by kind, user and time range; the same
// filters export the log as CSV.

/** KIND_LABELS names each kind of event in plain words. */
/** KIND_LABELS names each kind of event in plain words (the catalog's sec.kind.*). */
export const KIND_LABELS: Record<string, string> = Object.fromEntries(
  ['login', 'login_failed', 'logout', 'session_expired', 'user_create', 'user_disable', 'user_enable', 'user_role', 'user_password', 'device_register', 'device_code', 'device_claim', 'device_revoke', 'patient_merge', 'duplicate_dismiss', 'review_resolve', 'setting_change'].map((k) => [k, `sec.kind.${k}`]),
);

/** kindLabel is a kind's words in the chosen language. */
export function kindLabel(kind: string): string {
  const key = KIND_LABELS[kind];
  return key && has(key) ? t(key) : kind;
}

/** changeText shows before → after as one line of JSON each. */
export function changeText(e: Pick<SecurityEvent, 'before' | 'after'>): string {
  const show = (v: unknown) => (v === undefined || v === null ? '' : JSON.stringify(v));
  const b = show(e.before);
  const a = show(e.after);
  if (!b && !a) return '';
  if (!b) return a;
  return `${b} → ${a}`;
}

export function securityView(ctx: Ctx): View {
  // Days typed as dd/mm/yyyy, as in the audit search.
  const day = (name: string) => h('input', { type: 'text', name, inputmode: 'numeric', pattern: DatePattern, placeholder: datePlaceholder(), size: 10 });
  const kindSel = h('select', { name: 'kind' }, h('option', { value: '' }, t('audit.any')), Object.keys(KIND_LABELS).map((k) => h('option', { value: k }, kindLabel(k))));
  const form = h(
    'form',
    { id: 'security-form', class: 'inline-form' },
    h('label', null, t('sec.kind'), kindSel),
    h('label', null, t('sec.user'), h('input', { name: 'user', placeholder: t('sec.userPlaceholder'), autocomplete: 'off' })),
    h('label', null, t('audit.from'), day('since')),
    h('label', null, t('audit.to'), day('until')),
    h('button', { type: 'submit', class: 'primary' }, t('audit.search')),
    h('button', { type: 'button', id: 'security-csv' }, t('sec.csv')),
    h('p', { class: 'form-error', role: 'alert' }),
  ) as HTMLFormElement;
  const error = form.querySelector('.form-error')!;
  const rows = h('tbody');
  const more = h('button', { type: 'button', hidden: true }, t('sec.older'));
  const info = h('p', { class: 'hint', id: 'security-info' }, t('sec.hint'));
  let next = '';
  let query = '';

  /** filters is the search's query string, or a sentence naming a day typed wrong. */
  function filters(): { query?: string; error?: string } {
    const v = formValues(form) as Record<string, string>;
    const q = new URLSearchParams();
    if (v.kind) q.set('kind', v.kind);
    if (v.user?.trim()) q.set('user', v.user.trim());
    // From the start of the first day to the end of the last, local time.
    for (const [k, plus] of [['since', 0], ['until', 1]] as const) {
      const d = parseDay(v[k] ?? '');
      if (d.error) return { error: d.error };
      if (d.iso) {
        const [y, m, dd] = d.iso.split('-').map(Number);
        q.set(k, new Date(y!, m! - 1, dd! + plus).toISOString());
      }
    }
    return { query: q.toString() };
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = filters();
    if (f.error !== undefined) {
      error.textContent = f.error;
      return;
    }
    query = f.query ?? '';
    next = '';
    replace(rows);
    await page();
  });
  more.addEventListener('click', () => void page());
  form.querySelector('#security-csv')!.addEventListener('click', async () => {
    error.textContent = '';
    const f = filters();
    if (f.error !== undefined) {
      error.textContent = f.error;
      return;
    }
    try {
      const blob = await ctx.api.download(`/api/v1/admin/security-events.csv?${f.query ?? ''}`);
      const a = h('a', { href: URL.createObjectURL(blob), download: 'security-log.csv', id: 'security-csv-link' }, 'security-log.csv');
      a.hidden = true;
      document.body.append(a);
      a.click();
      window.setTimeout(() => {
        URL.revokeObjectURL(a.href);
        a.remove();
      }, 1000);
      ctx.toast(t('sec.exported', { n: blob.size }));
    } catch (err) {
      error.textContent = (err as Error).message;
    }
  });

  async function page(): Promise<void> {
    error.textContent = '';
    try {
      const p = await ctx.api.get<SecurityPage>(`/api/v1/admin/security-events?limit=100${query ? `&${query}` : ''}${next ? `&after=${encodeURIComponent(next)}` : ''}`);
      rows.append(...p.items.map(row));
      next = p.next;
      more.hidden = !next;
      const n = rows.children.length;
      info.textContent = n === 0 ? t('sec.none') : `${n === 1 ? t('sec.shownOne') : t('sec.shown', { n })}${next ? t('sec.more') : ''}.`;
    } catch (err) {
      error.textContent = (err as Error).message;
    }
  }

  function row(e: SecurityEvent): HTMLTableRowElement {
    const who = e.actorName || (e.actorId ? shortId(e.actorId) : t('sec.server'));
    const about = e.userEmail || (e.userId ? shortId(e.userId) : '');
    return h(
      'tr',
      { 'data-id': e.id, 'data-kind': e.kind },
      h('td', null, clock(e.at, ctx.now())),
      h('td', { class: 'kind' }, kindLabel(e.kind)),
      h('td', { class: 'who' }, who),
      h('td', null, about, e.target ? h('div', { class: 'sub' }, e.target) : ''),
      h('td', null, e.deviceId ? h('code', { title: e.deviceId }, shortId(e.deviceId)) : '-'),
      h('td', null, e.address ?? '-'),
      h('td', { class: 'reason' }, e.reason ?? ''),
      h('td', null, h('code', { class: 'change' }, changeText(e))),
    );
  }

  const heads = [t('sec.when'), t('sec.event'), t('sec.by'), t('sec.about'), t('sec.workstation'), t('sec.address'), t('sec.reason'), t('sec.change')];
  const el = view('view-security', panel(h('h2', null, t('sec.title')), form), panel(info, h('div', { class: 'scroll-x' }, dataTable('security', heads, rows)), more));

  let loaded = false;
  return {
    el,
    async refresh(topics: Topics) {
      // The first opening shows the newest events; later ones keep the
      // administrator's search as it is.
      if (loaded && !topics.has('all')) return;
      if (!loaded) {
        loaded = true;
        query = '';
        next = '';
        replace(rows);
        await page();
      }
    },
  };
}
