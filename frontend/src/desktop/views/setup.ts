// First start: which server this workstation syncs with and which
// workstation it is (the id an administrator registered, with the one-time
// code the dashboard showed, unless it was registered with its roles).
import { api } from '../api';
import type { Status } from '../types';
import { buildForm, focusFirst } from './form';

export function setupView(s: Status, done: () => void, cancel?: () => void): HTMLElement {
  const f = buildForm({
    id: 'setup-form',
    title: s.deviceId ? 'Workstation settings' : 'Set up this workstation',
    subtitle: s.deviceId
      ? 'This workstation keeps its id; only the server address can change.'
      : 'Ask the administrator for the workstation id and its one-time registration code (admin dashboard, Workstations).',
    fields: [
      { name: 'serverUrl', label: 'Server address (https://…; plain http only to this computer)', value: s.serverUrl || 'https://', autofocus: true, wide: true },
      { name: 'deviceId', label: 'Workstation id', value: s.deviceId, wide: true },
      { name: 'code', label: 'Registration code (if the administrator gave one)', wide: true },
      { name: 'caFile', label: "Hospital CA file (path to the PEM file, if the server's certificate is the hospital's own)", wide: true },
    ],
    submit: s.deviceId ? 'Save' : 'Connect this workstation',
    check: (v) => ({
      serverUrl: /^https?:\/\/[^/\s]+/.test((v.serverUrl ?? '').trim()) ? undefined : 'The server address must look like https://host:port.',
      deviceId: (v.deviceId ?? '').trim() === '' ? 'Enter the workstation id.' : undefined,
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
