// The About box: which release and commit this workstation runs, and where
// it syncs to — what IT asks for on the phone.
import { h } from '../../shared/dom';
import type { Status } from '../types';

export function showAbout(s: Status): void {
  document.getElementById('about')?.remove();
  const close = h('button', { type: 'button', class: 'primary' }, 'Close');
  const dlg = h(
    'dialog',
    { id: 'about', 'aria-label': 'About wardsync' },
    h('h2', null, 'About wardsync'),
    h(
      'dl',
      null,
      h('dt', null, 'Release'), h('dd', { id: 'about-version' }, s.version || 'dev'),
      h('dt', null, 'Commit'), h('dd', { id: 'about-commit' }, s.commit || 'unknown'),
      h('dt', null, 'Workstation'), h('dd', null, s.deviceId || 'not set up'),
      h('dt', null, 'Server'), h('dd', null, s.serverUrl || 'not set up'),
    ),
    s.upgradeRequired ? h('p', { class: 'bad', role: 'alert' }, s.upgradeRequired) : '',
    close,
  );
  close.addEventListener('click', () => dlg.remove());
  document.body.append(dlg);
  if (typeof dlg.showModal === 'function') dlg.showModal();
  else dlg.setAttribute('open', '');
}
