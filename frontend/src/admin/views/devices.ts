import { concerns, type Ctx, type Topics, type View } from '../context';
import { confirmButton, formValues, h, replace } from '../../shared/dom';
import { clock } from '../format';
import { ROLES, type Device, type Registration } from '../types';
import { fieldError } from './users';

// Workstations: register one (its one-time registration code is shown once),
// issue a new code, revoke (its connection is closed at once).

export function devicesView(ctx: Ctx): View {
  const codeBox = h('div', { id: 'device-code', class: 'code-box', hidden: true });
  const form = h(
    'form',
    { id: 'device-form', class: 'inline-form', autocomplete: 'off' },
    h('label', null, 'Name', h('input', { name: 'name', required: true, maxlength: 200, placeholder: 'e.g. Ward 3 nurses station' })),
    h(
      'fieldset',
      null,
      h('legend', null, 'Serves'),
      ROLES.map((r) => h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'roles', value: r }), ` ${r}`)),
    ),
    h('button', { type: 'submit', class: 'primary' }, 'Register workstation'),
    h('p', { class: 'form-error', role: 'alert' }),
  ) as HTMLFormElement;
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const v = formValues(form);
    try {
      const reg = await ctx.api.post<Registration>('/api/v1/admin/devices', { name: v.name, roles: v.roles ?? [] });
      form.reset();
      fieldError(form, '');
      showCode(reg);
      await load();
    } catch (err) {
      fieldError(form, err);
    }
  });

  function showCode(reg: Registration): void {
    codeBox.hidden = false;
    replace(
      codeBox,
      h('p', null, `Workstation "${reg.name}" (${reg.roles.join(', ')}) is registered. Enter on it, once, before ${clock(reg.registrationExpiresAt, ctx.now())}:`),
      h('dl', null, h('dt', null, 'Workstation id'), h('dd', null, h('code', { class: 'device-id' }, reg.id)), h('dt', null, 'Registration code'), h('dd', null, h('code', { class: 'reg-code' }, reg.registrationCode))),
      h('p', { class: 'hint' }, 'The code is shown only now; the server keeps only its hash. Issue a new one from the list if it is lost.'),
    );
  }

  const rows = h('tbody');
  const el = h(
    'section',
    { id: 'view-devices', class: 'view' },
    h('div', { class: 'panel' }, h('h2', null, 'Register a workstation'), form, codeBox),
    h(
      'div',
      { class: 'panel' },
      h('h2', null, 'Workstations'),
      h(
        'table',
        { class: 'data', id: 'devices' },
        h('thead', null, h('tr', null, h('th', null, 'Name'), h('th', null, 'Serves'), h('th', null, 'Id'), h('th', null, 'Registered'), h('th', null, 'Last seen'), h('th', null, 'State'), h('th', null, 'Actions'))),
        rows,
      ),
    ),
  );

  function row(d: Device): HTMLTableRowElement {
    const newCode = h('button', { type: 'button', class: 'small' }, 'New code');
    newCode.addEventListener('click', async () => {
      try {
        showCode(await ctx.api.post<Registration>(`/api/v1/admin/devices/${d.id}/code`));
        await load();
      } catch (err) {
        ctx.toast((err as Error).message, 'error');
      }
    });
    const revoke = confirmButton('Revoke', 'Click again to revoke', { class: 'small danger' }, async () => {
      try {
        await ctx.api.post(`/api/v1/admin/devices/${d.id}/revoke`);
        ctx.toast(`Workstation ${d.name} revoked; its connection was closed.`);
        await load();
      } catch (err) {
        ctx.toast((err as Error).message, 'error');
      }
    });
    const now = ctx.now();
    return h(
      'tr',
      { 'data-device-id': d.id, class: d.revoked ? 'disabled' : '' },
      h('td', null, d.name),
      h('td', null, d.roles.join(', ')),
      h('td', null, h('code', null, d.id)),
      h('td', null, clock(d.createdAt, now)),
      h('td', null, d.lastSeen ? clock(d.lastSeen, now) : 'never'),
      h(
        'td',
        null,
        d.revoked
          ? h('span', { class: 'badge badge-revoked' }, `revoked ${clock(d.revokedAt, now)}`)
          : d.registrationPending
            ? h('span', { class: 'badge badge-new' }, `code valid until ${clock(d.registrationExpiresAt, now)}`)
            : h('span', { class: 'badge badge-ok' }, 'active'),
      ),
      h('td', { class: 'actions' }, d.revoked ? '' : [newCode, revoke]),
    );
  }

  async function load(): Promise<void> {
    const { devices } = await ctx.api.get<{ devices: Device[] }>('/api/v1/admin/devices');
    if (rows.querySelector('.armed')) return; // a confirmation is pending
    replace(rows, devices.map(row));
  }

  return {
    el,
    async refresh(topics: Topics) {
      if (concerns(topics, 'devices', 'clients')) await load();
    },
  };
}
