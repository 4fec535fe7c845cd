import { ApiError } from '../api';
import { concerns, type Ctx, type Topics, type View } from '../context';
import { confirmButton, formValues, h, replace } from '../../shared/dom';
import { clock } from '../format';
import { ROLES, type User } from '../types';

// Users: create an account, change a role, reset a password, disable or
// enable. Role changes, resets and disabling end the user's sessions (the
// server does it; the page says so).

function roleSelect(name: string, value: string, attrs: Record<string, string> = {}): HTMLSelectElement {
  return h('select', { name, ...attrs }, ROLES.map((r) => h('option', { value: r, selected: r === value }, r)));
}

export function fieldError(form: HTMLFormElement, err: unknown): void {
  const box = form.querySelector('.form-error');
  form.querySelectorAll('.invalid').forEach((e) => e.classList.remove('invalid'));
  if (err instanceof ApiError && err.field) form.querySelector(`[name="${CSS.escape(err.field)}"]`)?.classList.add('invalid');
  if (box) box.textContent = err instanceof Error ? err.message : String(err);
}

export function usersView(ctx: Ctx): View {
  const form = h(
    'form',
    { id: 'user-form', class: 'inline-form', autocomplete: 'off' },
    h('label', null, 'Name', h('input', { name: 'name', required: true, maxlength: 200 })),
    h('label', null, 'E-mail', h('input', { name: 'email', type: 'email', required: true })),
    h('label', null, 'Password', h('input', { name: 'password', type: 'password', required: true, minlength: 6, maxlength: 72, autocomplete: 'new-password' })),
    h('label', null, 'Role', roleSelect('role', 'NURSE')),
    h('button', { type: 'submit', class: 'primary' }, 'Create user'),
    h('p', { class: 'form-error', role: 'alert' }),
  ) as HTMLFormElement;
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const v = formValues(form);
    try {
      const u = await ctx.api.post<User>('/api/v1/admin/users', { name: v.name, email: v.email, password: v.password, role: v.role });
      form.reset();
      fieldError(form, '');
      ctx.toast(`User ${u.name} (${u.role}) created.`);
      await load();
    } catch (err) {
      fieldError(form, err);
    }
  });

  const rows = h('tbody');
  const el = h(
    'section',
    { id: 'view-users', class: 'view' },
    h('div', { class: 'panel' }, h('h2', null, 'New user'), form),
    h(
      'div',
      { class: 'panel' },
      h('h2', null, 'Users'),
      h('p', { class: 'hint' }, 'Changing a role, resetting a password or disabling an account ends that user\'s sessions on every workstation.'),
      h(
        'table',
        { class: 'data', id: 'users' },
        h(
          'thead',
          null,
          h('tr', null, h('th', null, 'Name'), h('th', null, 'E-mail'), h('th', null, 'Role'), h('th', null, 'State'), h('th', { class: 'num' }, 'Sessions'), h('th', null, 'Actions')),
        ),
        rows,
      ),
    ),
  );

  function row(u: User): HTMLTableRowElement {
    const self = u.id === ctx.me.id;
    const sel = roleSelect('role', u.role, { 'aria-label': `Role of ${u.name}` });
    sel.disabled = self;
    const apply = h('button', { type: 'button', class: 'small', disabled: true }, 'Change role');
    sel.addEventListener('change', () => (apply.disabled = sel.value === u.role));
    apply.addEventListener('click', () =>
      act(`Role of ${u.name} is now ${sel.value}; their sessions ended.`, () => ctx.api.patch(`/api/v1/admin/users/${u.id}`, { role: sel.value })),
    );
    const pw = h('input', { type: 'password', placeholder: 'new password', minlength: 6, maxlength: 72, 'aria-label': `New password for ${u.name}`, autocomplete: 'new-password' }) as HTMLInputElement;
    const setPw = h('button', { type: 'button', class: 'small' }, 'Reset password');
    setPw.addEventListener('click', () =>
      act(`Password of ${u.name} reset; their sessions ended.`, () => ctx.api.post(`/api/v1/admin/users/${u.id}/password`, { password: pw.value })),
    );
    const toggle = u.disabled
      ? h('button', { type: 'button', class: 'small' }, 'Enable')
      : confirmButton('Disable', 'Click again to disable', { class: 'small danger', disabled: self }, () =>
          act(`${u.name} disabled; their sessions ended.`, () => ctx.api.post(`/api/v1/admin/users/${u.id}/disable`)),
        );
    if (u.disabled) toggle.addEventListener('click', () => act(`${u.name} enabled.`, () => ctx.api.post(`/api/v1/admin/users/${u.id}/enable`)));
    return h(
      'tr',
      { 'data-user-id': u.id, 'data-user-email': u.email, class: u.disabled ? 'disabled' : '' },
      h('td', null, u.name, self ? h('span', { class: 'sub' }, ' (you)') : ''),
      h('td', null, u.email),
      h('td', null, sel, ' ', self ? '' : apply),
      h('td', null, u.disabled ? h('span', { class: 'badge badge-revoked' }, `disabled ${clock(u.disabledAt, ctx.now())}`) : h('span', { class: 'badge badge-ok' }, 'active'),
        !u.disabled && u.lastDisabledAt ? h('div', { class: 'sub' }, `disabled ${clock(u.lastDisabledAt, ctx.now())}, enabled ${clock(u.enabledAt, ctx.now())}`) : ''),
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

  async function load(): Promise<void> {
    const { users } = await ctx.api.get<{ users: User[] }>('/api/v1/admin/users');
    // Keep a half-typed password: do not redraw while one is being typed.
    if (el.contains(document.activeElement) && document.activeElement instanceof HTMLInputElement && rows.contains(document.activeElement)) return;
    if (rows.querySelector('.armed')) return; // a confirmation is pending
    replace(rows, users.map(row));
  }

  return {
    el,
    async refresh(topics: Topics) {
      if (concerns(topics, 'users')) await load();
    },
  };
}
