// First start: which server this workstation syncs with and which
// workstation it is (the id an administrator registered, with the one-time
// code the dashboard showed, unless it was registered with its roles).
import { api } from '../api';
import { t } from '../../shared/i18n';
import type { Status } from '../types';
import { buildForm, focusFirst } from './form';

export function setupView(s: Status, done: () => void, cancel?: () => void): HTMLElement {
  const f = buildForm({
    id: 'setup-form',
    title: s.deviceId ? t('setup.settings') : t('setup.title'),
    subtitle: s.deviceId ? t('setup.keepsId') : t('setup.ask'),
    fields: [
      { name: 'serverUrl', label: t('setup.server'), value: s.serverUrl || 'https://', autofocus: true, wide: true },
      { name: 'deviceId', label: t('setup.deviceId'), value: s.deviceId, wide: true },
      { name: 'code', label: t('setup.code'), wide: true },
      { name: 'caFile', label: t('setup.caFile'), wide: true },
    ],
    submit: s.deviceId ? t('form.save') : t('setup.connect'),
    check: (v) => ({
      serverUrl: /^https?:\/\/[^/\s]+/.test((v.serverUrl ?? '').trim()) ? undefined : t('setup.badServer'),
      deviceId: (v.deviceId ?? '').trim() === '' ? t('setup.needId') : undefined,
    }),
    onSubmit: async (v) => {
      await api.setup(v.serverUrl ?? '', v.deviceId ?? '', v.code ?? '', (v.caFile ?? '').trim());
      done();
    },
    cancel,
  });
  if (s.deviceId) f.inputs.deviceId!.setAttribute('readonly', '');
  queueMicrotask(() => focusFirst(f));
  const wrap = document.createElement('div');
  wrap.className = 'login-wrap';
  wrap.append(f.el);
  return wrap;
}
