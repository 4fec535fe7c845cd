// The About box: which release and commit this workstation runs, and where
// it syncs to — what IT asks for on the phone.
import { h } from '../../shared/dom';
import { t } from '../../shared/i18n';
import type { Status } from '../types';

export function showAbout(s: Status): void {
  document.getElementById('about')?.remove();
  const close = h('button', { type: 'button', class: 'primary' }, t('about.close'));
  const dlg = h(
    'dialog',
    { id: 'about', 'aria-label': t('about.title') },
    h('h2', null, t('about.title')),
    h(
      'dl',
      null,
      h('dt', null, t('about.release')), h('dd', { id: 'about-version' }, s.version || 'dev'),
      h('dt', null, t('about.commit')), h('dd', { id: 'about-commit' }, s.commit || t('about.unknown')),
      h('dt', null, t('about.workstation')), h('dd', null, s.deviceId || t('about.notSetUp')),
      h('dt', null, t('about.server')), h('dd', null, s.serverUrl || t('about.notSetUp')),
    ),
    s.upgradeRequired ? h('p', { class: 'bad', role: 'alert' }, s.upgradeRequired) : '',
    close,
  );
  close.addEventListener('click', () => dlg.remove());
  document.body.append(dlg);
  if (typeof dlg.showModal === 'function') dlg.showModal();
  else dlg.setAttribute('open', '');
}
