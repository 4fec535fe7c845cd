import { concerns, type Ctx, type Topics, type View } from '../context';
import { confirmButton, h, Keyed } from '../../shared/dom';
import { clock } from '../format';
import { roleName, t } from '../../shared/i18n';
import { ROLES, type User } from '../types';
import { dataTable, onSubmit, panel, view } from './layout';

// Users: create an account, change a role, reset a password, disable or
// enable. Role changes, resets and disabling end the user's sessions (the
// server does it; the page says so).

function roleSelect(name: string, value: string, attrs: Record<string, string> = {}): HTMLSelectElement {
  return h('select', { name, ...attrs }, ROLES.map((r) => h('option', { value: r, selected: r === value }, roleName(r))));
}

export function usersView(ctx: Ctx): View {
  const form = h(
    'form',
    { id: 'user-form', class: 'inline-form', autocomplete: 'off' },
    h('label', null, t('arg.name'), h('input', { name: 'name', required: true, maxlength: 200 })),
    h('label', null, t('login.email'), h('input', { name: 'email', type: 'email', required: true })),
    h('label', null, t('login.password'), h('input', { name: 'password', type: 'password', required: true, minlength: 6, maxlength: 72, autocomplete: 'new-password' })),
    h('label', null, t('users.role'), roleSelect('role', 'NURSE')),
    h('button', { type: 'submit', class: 'primary' }, t('users.create')),
    h('p', { class: 'form-error', role: 'alert' }),
  ) as HTMLFormElement;
  onSubmit(
    form,
    (v) => ctx.api.post<User>('/api/v1/admin/users', { name: v.name, email: v.email, password: v.password, role: v.role }),
    async (u) => {
      ctx.toast(t('users.created', { name: u.name, role: roleName(u.role) }));
      await load();
    },
  );

  const rows = h('tbody');
  const el = view(
    'view-users',
    panel(h('h2', null, t('users.new')), form),
    panel(
      h('h2', null, t('adm.tab.users')),
      h('p', { class: 'hint' }, t('users.hint')),
      dataTable('users', [t('arg.name'), t('login.email'), t('users.role'), t('details.state'), [t('users.sessions'), { class: 'num' }], t('dev.actions')], rows),
    ),
  );

  function row(u: User): HTMLTableRowElement {
    const self = u.id === ctx.me.id;
    const sel = roleSelect('role', u.role, { 'aria-label': t('users.roleOf', { name: u.name }) });
    sel.disabled = self;
    const apply = h('button', { type: 'button', class: 'small', disabled: true }, t('users.changeRole'));
    sel.addEventListener('change', () => (apply.disabled = sel.value === u.role));
    apply.addEventListener('click', () =>
      act(t('users.roleChanged', { name: u.name, role: roleName(sel.value) }), () => ctx.api.patch(`/api/v1/admin/users/${u.id}`, { role: sel.value })),
    );
    const pw = h('input', { type: 'password', placeholder: t('users.newPassword'), minlength: 6, maxlength: 72, 'aria-label': t('users.newPasswordFor', { name: u.name }), autocomplete: 'new-password' }) as HTMLInputElement;
    const setPw = h('button', { type: 'button', class: 'small' }, t('users.resetPassword'));
    setPw.addEventListener('click', () =>
      act(t('users.passwordReset', { name: u.name }), () => ctx.api.post(`/api/v1/admin/users/${u.id}/password`, { password: pw.value })),
    );
    const toggle = u.disabled
      ? h('button', { type: 'button', class: 'small' }, t('users.enable'))
      : confirmButton(t('users.disable'), t('users.disableConfirm'), { class: 'small danger', disabled: self }, () =>
          act(t('users.disabled', { name: u.name }), () => ctx.api.post(`/api/v1/admin/users/${u.id}/disable`)),
        );
    if (u.disabled) toggle.addEventListener('click', () => act(t('users.enabled', { name: u.name }), () => ctx.api.post(`/api/v1/admin/users/${u.id}/enable`)));
    return h(
      'tr',
      { 'data-user-id': u.id, 'data-user-email': u.email, class: u.disabled ? 'disabled' : '' },
      h('td', null, u.name, self ? h('span', { class: 'sub' }, ' ', t('users.you')) : ''),
      h('td', null, u.email),
      h('td', null, sel, ' ', self ? '' : apply),
      h('td', null, u.disabled ? h('span', { class: 'badge badge-revoked' }, t('users.disabledAt', { when: clock(u.disabledAt, ctx.now()) })) : h('span', { class: 'badge badge-ok' }, t('dev.active')),
        !u.disabled && u.lastDisabledAt ? h('div', { class: 'sub' }, t('users.disableHistory', { disabled: clock(u.lastDisabledAt, ctx.now()), enabled: clock(u.enabledAt, ctx.now()) })) : ''),
      h('td', { class: 'num' }, String(u.activeSessions)),
      h('td', { class: 'actions' }, self ? '' : [pw, setPw], toggle),
    );
  }

  async function act(done: string, call: () => Promise<unknown>): Promise<void> {
    try {
      await call();
      ctx.toast(done);
      await load();
    } catch (err) {
      ctx.toast((err as Error).message, 'error');
    }
  }

  // One row per user, kept while the user is unchanged: a half-typed
  // password or a chosen role survives every live update.
  const keyed = new Keyed<User>((u) => u.id, (u) => JSON.stringify(u), row);

  async function load(): Promise<void> {
    const { users } = await ctx.api.get<{ users: User[] }>('/api/v1/admin/users');
    if (rows.querySelector('.armed')) return; // a confirmation is pending
    keyed.render(rows, users);
  }

  return {
    el,
    async refresh(topics: Topics) {
      // Users change through the feed; their open sessions with time.
      if (concerns(topics, 'users', 'feed', 'tick')) await load();
    },
  };
}
