// The admin dashboard: sign-in, then its views (overview, workflow board,
// users, workstations, audit log, security log, duplicates) kept current by the server's event
// stream (/api/v1/admin/events): each "changed" event names what changed,
// and the views concerned re-read it. No manual refresh anywhere.

import './admin.css';
import { Api, ApiError, login, TOKEN_KEY } from './api';
import { AuthEventStream, CLOSED } from './events';
import type { Ctx, View } from './context';
import { formValues, h, replace } from '../shared/dom';
import { localeSettings } from '../shared/settings';
import { locale, t } from '../shared/i18n';
import { auditView } from './views/audit';
import { boardView } from './views/board';
import { devicesView } from './views/devices';
import { duplicatesView, tabLabel } from './views/duplicates';
import { overviewView, summary } from './views/overview';
import { buildLine } from './format';
import { securityView } from './views/security';
import { usersView } from './views/users';

const app = document.getElementById('app')!;

/** stop ends the running dashboard (timers, event stream), if any. */
let stop: () => void = () => {};

function showLogin(message = ''): void {
  stop();
  stop = () => {};
  sessionStorage.removeItem(TOKEN_KEY);
  const err = h('p', { id: 'login-error', class: 'form-error', role: 'alert' }, message);
  const button = h('button', { type: 'submit', class: 'primary' }, t('adm.signIn'));
  const form = h(
    'form',
    { id: 'login-form', class: 'login panel' },
    h('h1', null, 'wardsync'),
    h('p', { class: 'hint' }, t('adm.signInHint')),
    h('label', null, t('login.email'), h('input', { name: 'email', type: 'email', required: true, autocomplete: 'username', autofocus: true })),
    h('label', null, t('login.password'), h('input', { name: 'password', type: 'password', required: true, autocomplete: 'current-password' })),
    button,
    err,
  ) as HTMLFormElement;
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const v = formValues(form) as Record<string, string>;
    button.disabled = true;
    err.textContent = '';
    try {
      const res = await login(v.email ?? '', v.password ?? '');
      sessionStorage.setItem(TOKEN_KEY, res.token);
      await enter(res.token);
    } catch (e) {
      err.textContent = e instanceof Error ? e.message : String(e);
    } finally {
      button.disabled = false;
    }
  });
  replace(app, h('main', { class: 'login-wrap' }, form));
}

type Tab = 'overview' | 'board' | 'users' | 'devices' | 'audit' | 'security' | 'duplicates';
const TABS: [Tab, string][] = [
  ['overview', t('adm.tab.overview')],
  ['board', t('adm.tab.board')],
  ['users', t('adm.tab.users')],
  ['devices', t('adm.tab.devices')],
  ['audit', t('adm.auditTitle')],
  ['security', t('adm.tab.security')],
  ['duplicates', tabLabel(0)],
];

async function enter(token: string): Promise<void> {
  let alive = true;
  const signedOut = (message: string) => {
    if (!alive) return;
    alive = false;
    showLogin(t('adm.signedOutWhy', { message }));
  };
  const api = new Api(token, signedOut);
  let me: { user: { id: string; name: string } };
  try {
    me = await api.get('/api/v1/admin/session');
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) showLogin(e instanceof Error ? e.message : String(e));
    return;
  }

  let offset = 0;
  const toasts = h('div', { id: 'toasts', class: 'toasts', 'aria-live': 'polite' });
  const ctx: Ctx = {
    api,
    me: me.user,
    now: () => Date.now() + offset,
    setServerTime(iso: string) {
      const t = Date.parse(iso);
      if (!Number.isNaN(t)) offset = t - Date.now();
    },
    toast(message: string, kind: 'info' | 'error' = 'info') {
      const t = h('div', { class: `toast ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, message);
      toasts.append(t);
      window.setTimeout(() => t.remove(), kind === 'error' ? 10000 : 6000);
    },
  };

  const summarySlot = h('div', { class: 'summary-slot' });
  const live = h('span', { id: 'live', class: 'live', 'data-state': 'connecting' }, t('adm.connecting'));
  const banner = h('div', { id: 'banner', class: 'banner', hidden: true });
  const footer = h('footer', { id: 'build', class: 'sub' });
  const views: Record<Tab, View> = {
    overview: overviewView(ctx, (st) => {
      replace(summarySlot, summary(st));
      footer.textContent = buildLine(st);
    }),
    board: boardView(ctx),
    users: usersView(ctx),
    devices: devicesView(ctx),
    audit: auditView(ctx),
    security: securityView(ctx),
    duplicates: duplicatesView(ctx, (open) => {
      const b = tabButtons.find((x) => x.dataset.tab === 'duplicates');
      if (b) b.textContent = tabLabel(open);
    }),
  };
  let active: Tab = (location.hash.slice(1) as Tab) in views ? (location.hash.slice(1) as Tab) : 'overview';
  const tabButtons = TABS.map(([id, text]) => {
    const b = h('button', { type: 'button', role: 'tab', 'data-tab': id, 'aria-selected': String(id === active) }, text);
    b.addEventListener('click', () => show(id));
    return b;
  });
  const signOut = h('button', { type: 'button', class: 'small' }, t('adm.signOut'));
  signOut.addEventListener('click', async () => {
    try {
      await api.post('/api/v1/auth/logout');
    } catch {
      /* signed out anyway */
    }
    alive = false;
    showLogin(t('adm.signedOut'));
  });

  replace(
    app,
    h(
      'header',
      { class: 'top' },
      h('div', { class: 'brand' }, h('strong', null, 'wardsync'), h('span', null, t('adm.brand'))),
      summarySlot,
      h('div', { class: 'who' }, live, h('span', null, me.user.name), localeSettings(() => location.reload() /* the session stays: sessionStorage */), signOut),
    ),
    h('nav', { class: 'tabs', role: 'tablist' }, tabButtons),
    banner,
    h('main', { class: 'views' }, Object.values(views).map((v) => v.el)),
    footer,
    toasts,
  );

  function show(tab: Tab): void {
    active = tab;
    history.replaceState(null, '', `#${tab}`);
    for (const b of tabButtons) b.setAttribute('aria-selected', String(b.dataset.tab === tab));
    for (const [id, v] of Object.entries(views)) v.el.hidden = id !== tab;
    schedule(['all']);
  }

  // Refreshes: topics gather while one runs; at most one at a time.
  let pending = new Set<string>();
  let timer: number | undefined;
  let running = false;
  function schedule(topics: string[]): void {
    for (const t of topics) pending.add(t);
    if (timer === undefined) timer = window.setTimeout(run, 100);
  }
  async function run(): Promise<void> {
    timer = undefined;
    if (!alive) return;
    if (running) {
      timer = window.setTimeout(run, 100);
      return;
    }
    running = true;
    const topics = pending;
    pending = new Set();
    // The duplicates view always refreshes: its count shows on its tab.
    const jobs = [views.overview.refresh(topics), views.duplicates.refresh(topics)];
    if (active !== 'overview' && active !== 'duplicates') jobs.push(views[active].refresh(topics));
    const failures = (await Promise.allSettled(jobs)).filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    running = false;
    const real = failures.map((f) => f.reason).filter((e) => !(e instanceof ApiError && e.status === 401));
    banner.hidden = real.length === 0;
    banner.textContent = real.length ? t('adm.refreshFailed', { message: (real[0] as Error).message }) : '';
  }

  // The event stream (events.ts: EventSource's behaviour, with the token in
  // a header). It reconnects by itself after a network error; a refusal
  // (401) closes it, and then the session is checked.
  let es: AuthEventStream | null = null;
  let retry: number | undefined;
  function setLive(state: 'live' | 'connecting' | 'offline'): void {
    live.dataset.state = state;
    live.textContent = t(state === 'live' ? 'adm.live' : state === 'connecting' ? 'adm.reconnecting' : 'adm.offlineRetrying');
  }
  function connect(): void {
    es = new AuthEventStream('/api/v1/admin/events', token);
    es.addEventListener('open', () => setLive('live'));
    es.addEventListener('changed', (ev) => {
      try {
        schedule((JSON.parse(ev.data) as { topics: string[] }).topics);
      } catch {
        schedule(['all']);
      }
    });
    es.addEventListener('logout', () => signedOut(t('adm.sessionEnded')));
    es.addEventListener('error', () => {
      if (!es || es.readyState !== CLOSED) {
        setLive('connecting');
        return;
      }
      setLive('offline');
      retry = window.setTimeout(async () => {
        try {
          await api.get('/api/v1/admin/session');
          if (alive) connect();
        } catch (e) {
          if (alive && !(e instanceof ApiError && e.status === 401)) connect();
        }
      }, 5000);
    });
  }
  connect();
  const ticker = window.setInterval(() => {
    views[active].tick?.();
    if (active !== 'overview') views.overview.tick?.();
    if (live.dataset.state !== 'live' && Date.now() % 15000 < 1000) schedule(['tick']);
  }, 1000);

  stop = () => {
    alive = false;
    es?.close();
    window.clearInterval(ticker);
    window.clearTimeout(retry);
    window.clearTimeout(timer);
  };
  show(active);
}

document.documentElement.lang = locale().slice(0, 2);
const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) void enter(saved);
else showLogin();

