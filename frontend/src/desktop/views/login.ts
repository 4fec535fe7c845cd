// Log in: online when the server answers, else against this workstation's
// record of the user's last online login (offline login).
import { api, ProblemError } from '../api';
import { h } from '../../shared/dom';
import { offlineNote } from '../format';
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
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Log in');
  const recent = h('div', { class: 'recent', id: 'recent-users' });
  const form = h('form', { id: 'login-form', class: 'login' },
    h('h1', null, locked ? 'Locked' : 'wardsync'),
    locked
      ? h('p', { id: 'lock-note', class: 'muted' },
        `Locked after ${locked.after} without input. ${locked.name}, enter your password to go on; `
        + `someone else may log in instead, which ends ${locked.name}'s session.`)
      : h('p', { class: 'muted' }, 'Log in to this ward workstation.'),
    note,
    h('label', { class: 'field' }, h('span', { class: 'label' }, 'E-mail'), email),
    h('label', { class: 'field' }, h('span', { class: 'label' }, 'Password'), password),
    error,
    h('div', { class: 'actions' }, submit),
    recent,
    h('p', null, h('button', { type: 'button', class: 'link', id: 'open-settings', onclick: settings }, 'Workstation settings')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hidden = true;
    submit.disabled = true;
    submit.textContent = 'Logging in…';
    try {
      done(await api.login(email.value, password.value));
    } catch (err) {
      error.textContent = err instanceof ProblemError ? err.problem.message : String(err);
      error.hidden = false;
      password.select();
      password.focus();
    } finally {
      submit.disabled = false;
      submit.textContent = 'Log in';
    }
  });
  void api.sessions().then((list) => {
    const users = list ?? [];
    if (users.length === 0) return;
    recent.append(h('span', { class: 'muted' }, 'Recently here: '),
      ...users.map((s) => h('button', {
        type: 'button', class: 'link', onclick: () => {
          email.value = s.user.email;
          password.focus();
        },
      }, `${s.user.name} (${s.user.role.toLowerCase()})`)));
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
