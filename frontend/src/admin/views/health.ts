import { ApiError } from '../api';
import type { Ctx } from '../context';
import { h } from '../../shared/dom';
import { t } from '../../shared/i18n';

// "When is a workstation Late or Stalled?": the thresholds of the
// workstations' colours, in minutes. The server's flags give them; an
// administrator may change them here for every server instance, or go
// back to the flags'.

interface HealthSettings {
  lateUnseenMinutes: number;
  latePendingMinutes: number;
  stalledMinutes: number;
  source: 'flags' | 'dashboard';
  flags: { lateUnseenMinutes: number; latePendingMinutes: number; stalledMinutes: number };
}

const PATH = '/api/v1/admin/settings/health';

export function healthSettings(ctx: Ctx, changed: () => void): { el: HTMLElement; load(): Promise<void> } {
  const num = (name: string) => h('input', { type: 'number', name, min: 1, step: 1, required: true, class: 'minutes' }) as HTMLInputElement;
  const unseen = num('lateUnseenMinutes');
  const pending = num('latePendingMinutes');
  const stalled = num('stalledMinutes');
  const source = h('p', { class: 'sub', id: 'health-source' });
  const problem = h('p', { class: 'problem', role: 'alert', id: 'health-problem', hidden: true });
  const save = h('button', { type: 'submit', class: 'small primary' }, t('form.save'));
  const reset = h('button', { type: 'button', class: 'small' }, t('hs.reset'));
  const form = h(
    'form',
    { id: 'health-form', class: 'health-form' },
    h('label', null, t('hs.unseenBefore'), unseen, t('hs.unseenAfter')),
    h('label', null, t('hs.pendingBefore'), pending, t('hs.pendingAfter')),
    h('label', null, t('hs.stalledBefore'), stalled, t('hs.stalledAfter')),
    problem,
    h('div', { class: 'actions' }, save, reset),
    source,
  ) as HTMLFormElement;
  const el = h('details', { id: 'health-settings', class: 'health-settings' }, h('summary', null, t('hs.title')), form);

  let edited = false;
  for (const i of [unseen, pending, stalled]) i.addEventListener('input', () => (edited = true));

  function show(s: HealthSettings): void {
    if (!edited) {
      unseen.value = String(s.lateUnseenMinutes);
      pending.value = String(s.latePendingMinutes);
      stalled.value = String(s.stalledMinutes);
    }
    source.textContent = s.source === 'dashboard'
      ? t('hs.fromDashboard', { unseen: s.flags.lateUnseenMinutes, pending: s.flags.latePendingMinutes, stalled: s.flags.stalledMinutes })
      : t('hs.fromFlags');
    reset.hidden = s.source !== 'dashboard';
  }

  async function send(call: () => Promise<HealthSettings>, done: string): Promise<void> {
    problem.hidden = true;
    try {
      edited = false;
      show(await call());
      ctx.toast(done);
      changed();
    } catch (err) {
      edited = true;
      problem.textContent = err instanceof ApiError ? err.message : String(err);
      problem.hidden = false;
    }
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void send(() => ctx.api.request<HealthSettings>('PUT', PATH, {
      lateUnseenMinutes: Number(unseen.value), latePendingMinutes: Number(pending.value), stalledMinutes: Number(stalled.value),
    }), t('hs.saved'));
  });
  reset.addEventListener('click', () => void send(() => ctx.api.request<HealthSettings>('DELETE', PATH), t('hs.resetDone')));

  return {
    el,
    async load() {
      show(await ctx.api.get<HealthSettings>(PATH));
    },
  };
}
