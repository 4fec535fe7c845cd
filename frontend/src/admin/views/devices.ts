import { concerns, type Ctx, type Topics, type View } from '../context';
import { confirmButton, h, replace } from '../../shared/dom';
import { clock } from '../format';
import { roleName, t } from '../../shared/i18n';
import { ROLES, type Device, type Registration } from '../types';
import { dataTable, onSubmit, panel, view } from './layout';

// Workstations: register one (its one-time registration code is shown once),
// issue a new code, revoke (its connection is closed at once).

export function devicesView(ctx: Ctx): View {
  const codeBox = h('div', { id: 'device-code', class: 'code-box', hidden: true });
  const form = h(
    'form',
    { id: 'device-form', class: 'inline-form', autocomplete: 'off' },
    h('label', null, t('arg.name'), h('input', { name: 'name', required: true, maxlength: 200, placeholder: t('dev.namePlaceholder') })),
    h(
      'fieldset',
      null,
      h('legend', null, t('dev.serves')),
      ROLES.map((r) => h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'roles', value: r }), ` ${roleName(r)}`)),
    ),
    h('button', { type: 'submit', class: 'primary' }, t('dev.register')),
    h('p', { class: 'form-error', role: 'alert' }),
  ) as HTMLFormElement;
  onSubmit(
    form,
    (v) => ctx.api.post<Registration>('/api/v1/admin/devices', { name: v.name, roles: v.roles ?? [] }),
    async (reg) => {
      showCode(reg);
      await load();
    },
  );

  function showCode(reg: Registration): void {
    codeBox.hidden = false;
    replace(
      codeBox,
      h('p', null, t('dev.registered', { name: reg.name, roles: reg.roles.map(roleName).join(', '), until: clock(reg.registrationExpiresAt, ctx.now()) })),
      h('dl', null, h('dt', null, t('setup.deviceId')), h('dd', null, h('code', { class: 'device-id' }, reg.id)), h('dt', null, t('dev.code')), h('dd', null, h('code', { class: 'reg-code' }, reg.registrationCode))),
      h('p', { class: 'hint' }, t('dev.codeHint')),
    );
  }

  const rows = h('tbody');
  const el = view(
    'view-devices',
    panel(h('h2', null, t('dev.registerTitle')), form, codeBox),
    panel(
      h('h2', null, t('adm.tab.devices')),
      dataTable('devices', [t('arg.name'), t('dev.serves'), t('dev.id'), t('dev.registeredAt'), t('dev.lastSeen'), t('details.state'), t('dev.keys'), t('dev.idleLock'), t('dev.actions')], rows),
    ),
  );

  function row(d: Device): HTMLTableRowElement {
    const newCode = h('button', { type: 'button', class: 'small' }, t('dev.newCode'));
    newCode.addEventListener('click', async () => {
      try {
        showCode(await ctx.api.post<Registration>(`/api/v1/admin/devices/${d.id}/code`));
        await load();
      } catch (err) {
        ctx.toast((err as Error).message, 'error');
      }
    });
    const revoke = confirmButton(t('dev.revoke'), t('dev.revokeConfirm'), { class: 'small danger' }, async () => {
      try {
        await ctx.api.post(`/api/v1/admin/devices/${d.id}/revoke`);
        ctx.toast(t('dev.revoked', { name: d.name }));
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
      h('td', null, d.roles.map(roleName).join(', ')),
      h('td', null, h('code', null, d.id)),
      h('td', null, clock(d.createdAt, now)),
      h('td', null, d.lastSeen ? clock(d.lastSeen, now) : t('dev.never')),
      h(
        'td',
        null,
        d.revoked
          ? h('span', { class: 'badge badge-revoked' }, t('dev.revokedAt', { when: clock(d.revokedAt, now) }))
          : d.registrationPending
            ? h('span', { class: 'badge badge-new' }, t('dev.codeValid', { until: clock(d.registrationExpiresAt, now) }))
            : h('span', { class: 'badge badge-ok' }, t('dev.active')),
      ),
      keyCell(d, now),
      idleCell(d),
      h('td', { class: 'actions' }, d.revoked ? '' : [newCode, revoke]),
    );
  }

  // What the server knows of the workstation's keys. The wipe is the
  // workstation's own report, and says so.
  function keyCell(d: Device, now: number): HTMLElement {
    const k = d.keyState ?? {};
    const line = (cls: string, text: string, title?: string) => h('div', { class: `key-${cls}`, title }, text);
    const lines = [
      line('claimed', k.claimedAt ? t('dev.key.claimed', { when: clock(k.claimedAt, now) }) : t('dev.key.unclaimed')),
      line('proof', k.lastProofAt ? t('dev.key.proof', { when: clock(k.lastProofAt, now) }) : t('dev.key.noProof'), t('dev.key.proofHint')),
    ];
    if (d.revoked) {
      lines.push(line('told', k.toldRevokedAt ? t('dev.key.told', { when: clock(k.toldRevokedAt, now) }) : t('dev.key.notTold')));
      lines.push(line('wiped', k.wipedAt ? t('dev.key.wiped', { when: clock(k.wipedAt, now) }) : t('dev.key.notWiped'), t('dev.key.wipedHint')));
    }
    return h('td', { class: 'keystate' }, lines);
  }

  function idleText(m: number | null): string {
    if (m === null || m === undefined) return t('dev.idle.flag');
    return m === 0 ? t('dev.idle.off') : t('dev.idle.min', { n: m });
  }

  // The idle lock set here (or the workstation's own), and, for a
  // workstation not revoked, the form that sets it. The bounds are the
  // server's: a value outside them is refused with its sentence.
  function idleCell(d: Device): HTMLElement {
    const value = h('div', { class: 'idle-lock-value' }, idleText(d.idleLockMinutes));
    if (d.revoked) return h('td', { class: 'idle-lock' }, value);
    const input = h('input', { type: 'number', name: 'minutes', step: 1, class: 'small-number', title: t('dev.idle.minutes'), 'aria-label': t('dev.idle.minutes') }) as HTMLInputElement;
    if (d.idleLockMinutes !== null && d.idleLockMinutes !== undefined) input.value = String(d.idleLockMinutes);
    const save = async (minutes: number | null) => {
      try {
        await ctx.api.request('PUT', `/api/v1/admin/devices/${d.id}/idle-lock`, { minutes });
        ctx.toast(t('dev.idle.saved', { name: d.name, value: idleText(minutes) }));
        await load(true);
      } catch (err) {
        ctx.toast((err as Error).message, 'error');
      }
    };
    const form = h('form', { class: 'idle-lock-form' }, input, h('button', { type: 'submit', class: 'small' }, t('dev.idle.set'))) as HTMLFormElement;
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void save(input.value.trim() === '' ? null : Number(input.value));
    });
    const reset = h('button', { type: 'button', class: 'small idle-lock-reset' }, t('dev.idle.reset'));
    reset.addEventListener('click', () => void save(null));
    return h('td', { class: 'idle-lock' }, value, form, d.idleLockMinutes === null || d.idleLockMinutes === undefined ? '' : reset);
  }

  async function load(force = false): Promise<void> {
    const { devices } = await ctx.api.get<{ devices: Device[] }>('/api/v1/admin/devices');
    if (rows.querySelector('.armed')) return; // a confirmation is pending
    // A refresh from elsewhere does not wipe an idle lock being typed.
    if (!force && rows.querySelector('.idle-lock input:focus')) return;
    replace(rows, devices.map(row));
  }

  return {
    el,
    async refresh(topics: Topics) {
      if (concerns(topics, 'devices', 'clients')) await load();
    },
  };
}
