import type { Ctx, Topics, View } from '../context';
import { formValues, h, replace } from '../../shared/dom';
import { clock, isoFromLocalInput, shortId } from '../format';
import type { SecurityEvent, SecurityPage } from '../types';

// The security log (sync.security_events): logins, failed logins, logouts,
// session ends and every administrative act, with who, from where, and the
// state before and after. Filters by kind, user and time range; the same
// filters export the log as CSV.

/** KIND_LABELS names each kind of event in plain words. */
export const KIND_LABELS: Record<string, string> = {
  login: 'Login',
  login_failed: 'Failed login',
  logout: 'Logout',
  session_expired: 'Session ended (expiry or idle)',
  user_create: 'User created',
  user_disable: 'User disabled',
  user_enable: 'User enabled',
  user_role: 'Role changed',
  user_password: 'Password reset',
  device_register: 'Workstation registered',
  device_code: 'Registration code issued',
  device_claim: 'Workstation claimed',
  device_revoke: 'Workstation revoked',
  patient_merge: 'Patients merged',
  duplicate_dismiss: 'Duplicate dismissed',
  review_resolve: 'Refused act resolved',
  setting_change: 'Setting changed',
};

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
  const kindSel = h('select', { name: 'kind' }, h('option', { value: '' }, 'any'), Object.entries(KIND_LABELS).map(([k, v]) => h('option', { value: k }, v)));
  const form = h(
    'form',
    { id: 'security-form', class: 'inline-form' },
    h('label', null, 'Kind', kindSel),
    h('label', null, 'User', h('input', { name: 'user', placeholder: 'e-mail or id', autocomplete: 'off' })),
    h('label', null, 'From', h('input', { type: 'datetime-local', name: 'since' })),
    h('label', null, 'To', h('input', { type: 'datetime-local', name: 'until' })),
    h('button', { type: 'submit', class: 'primary' }, 'Search'),
    h('button', { type: 'button', id: 'security-csv' }, 'Export CSV'),
    h('p', { class: 'form-error', role: 'alert' }),
  ) as HTMLFormElement;
  const error = form.querySelector('.form-error')!;
  const rows = h('tbody');
  const more = h('button', { type: 'button', hidden: true }, 'Older events');
  const info = h('p', { class: 'hint', id: 'security-info' }, 'The newest events are shown; choose filters to narrow them.');
  let next = '';
  let query = '';

  function filters(): string {
    const v = formValues(form) as Record<string, string>;
    const q = new URLSearchParams();
    if (v.kind) q.set('kind', v.kind);
    if (v.user?.trim()) q.set('user', v.user.trim());
    if (v.since) q.set('since', isoFromLocalInput(v.since));
    if (v.until) q.set('until', isoFromLocalInput(v.until));
    return q.toString();
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    query = filters();
    next = '';
    replace(rows);
    await page();
  });
  more.addEventListener('click', () => void page());
  form.querySelector('#security-csv')!.addEventListener('click', async () => {
    error.textContent = '';
    try {
      const blob = await ctx.api.download(`/api/v1/admin/security-events.csv?${filters()}`);
      const a = h('a', { href: URL.createObjectURL(blob), download: 'security-log.csv', id: 'security-csv-link' }, 'security-log.csv');
      a.hidden = true;
      document.body.append(a);
      a.click();
      window.setTimeout(() => {
        URL.revokeObjectURL(a.href);
        a.remove();
      }, 1000);
      ctx.toast(`Exported ${blob.size} bytes of the security log as CSV.`);
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
      info.textContent = n === 0 ? 'No event matches.' : `${n} event${n === 1 ? '' : 's'} shown, newest first${next ? '; more are older' : ''}.`;
    } catch (err) {
      error.textContent = (err as Error).message;
    }
  }

  function row(e: SecurityEvent): HTMLTableRowElement {
    const who = e.actorName || (e.actorId ? shortId(e.actorId) : 'the server');
    const about = e.userEmail || (e.userId ? shortId(e.userId) : '');
    return h(
      'tr',
      { 'data-id': e.id, 'data-kind': e.kind },
      h('td', null, clock(e.at, ctx.now())),
      h('td', { class: 'kind' }, KIND_LABELS[e.kind] ?? e.kind),
      h('td', { class: 'who' }, who),
      h('td', null, about, e.target ? h('div', { class: 'sub' }, e.target) : ''),
      h('td', null, e.deviceId ? h('code', { title: e.deviceId }, shortId(e.deviceId)) : '-'),
      h('td', null, e.address ?? '-'),
      h('td', { class: 'reason' }, e.reason ?? ''),
      h('td', null, h('code', { class: 'change' }, changeText(e))),
    );
  }

  const el = h(
    'section',
    { id: 'view-security', class: 'view' },
    h('div', { class: 'panel' }, h('h2', null, 'Security log'), form),
    h(
      'div',
      { class: 'panel' },
      info,
      h(
        'div',
        { class: 'scroll-x' },
        h(
          'table',
          { class: 'data', id: 'security' },
          h('thead', null, h('tr', null, h('th', null, 'When'), h('th', null, 'Event'), h('th', null, 'By'), h('th', null, 'About'),
            h('th', null, 'Workstation'), h('th', null, 'Address'), h('th', null, 'Reason'), h('th', null, 'Before → after'))),
          rows,
        ),
      ),
      more,
    ),
  );

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
