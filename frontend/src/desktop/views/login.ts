// Log in: online when the server answers, else against this workstation's
// record of the user's last online login (offline login).
import { api, ProblemError } from '../api';
import { h } from '../../shared/dom';
import { offlineNote } from '../format';
import { roleName, t } from '../../shared/i18n';
import type { Session, Status } from '../types';

/** The screen the idle lock left: whose session it hides, after how long. */
export interface Locked {
  email: string;
  name: string;
  /** how long without input, as said: "10 min", "30 s" */
  after: string;
}

export function loginView(status: () => Status, done: (s: Session) => void, settings: () => void, locked?: Locked): { el: HTMLElement; update: () => void } {
  const email = h('input', { id: 'login-email', name: 'email', type: 'email', autocomplete: 'username', autofocus: true, required: true });
  const password = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const error = h('p', { id: 'login-error', class: 'problem', role: 'alert', hidden: true });
  const note = h('p', { id: 'offline-note', class: 'offline-note', role: 'status', hidden: true });
  const submit = h('button', { type: 'submit', class: 'primary' }, t('login.submit'));
  const recent = h('div', { class: 'recent', id: 'recent-users' });
  const form = h('form', { id: 'login-form', class: 'login' },
    h('h1', null, locked ? t('lock.title') : 'wardsync'),
    locked
      ? h('p', { id: 'lock-note', class: 'muted' }, t('lock.note', { after: locked.after, name: locked.name }))
      : h('p', { class: 'muted' }, t('login.intro')),
    note,
    h('label', { class: 'field' }, h('span', { class: 'label' }, t('login.email')), email),
    h('label', { class: 'field' }, h('span', { class: 'label' }, t('login.password')), password),
    error,
    h('div', { class: 'actions' }, submit),
    recent,
    h('p', null, h('button', { type: 'button', class: 'link', id: 'open-settings', onclick: settings }, t('setup.settings'))));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hidden = true;
    submit.disabled = true;
    submit.textContent = t('login.busy');
    try {
      done(await api.login(email.value, password.value));
    } catch (err) {
      error.textContent = err instanceof ProblemError ? err.problem.message : String(err);
      error.hidden = false;
      password.select();
      password.focus();
    } finally {
      submit.disabled = false;
      submit.textContent = t('login.submit');
    }
  });
  void api.sessions().then((list) => {
    const users = list ?? [];
    if (users.length === 0) return;
    recent.append(h('span', { class: 'muted' }, t('login.recent')),
      ...users.map((s) => h('button', {
        type: 'button', class: 'link', onclick: () => {
          email.value = s.user.email;
          password.focus();
        },
      }, `${s.user.name} (${roleName(s.user.role)})`)));
  }).catch(() => undefined);
  const update = () => {
    const n = offlineNote(status());
    note.textContent = n;
    note.hidden = n === '';
  };
  update();
  if (locked) email.value = locked.email;
  queueMicrotask(() => (locked ? password : email).focus());
  return { el: h('div', { class: 'login-wrap' }, form), update };
}
