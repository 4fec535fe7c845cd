// The desktop app's shell: the sync bar, setup or login, then the logged-in
// user's screens (work queues, patients, waiting, rejected) with a panel
// beside them for the act at hand. Every status event from the engine
// ("sync:status") redraws the sync bar and re-reads the screen's lists; an
// open form is never redrawn, so nothing being typed is lost.
import './desktop.css';
import { api, onStatus, ready } from './api';
import type { Ctx, View } from './ctx';
import { h, replace } from '../shared/dom';
import { localeSettings } from '../shared/settings';
import { locale, roleName, t } from '../shared/i18n';
import type { Session, Status } from './types';
import { queuesView } from './views/queues';
import { patientsView } from './views/patients';
import { rejectedView, waitingView } from './views/inbox';
import { loginView } from './views/login';
import { setupView } from './views/setup';
import { renderSyncBar } from './views/syncbar';

const root = document.getElementById('app')!;
const syncbar = h('div', { id: 'syncbar', class: 'syncbar', role: 'status', 'aria-live': 'polite' });
const flashEl = h('div', { id: 'flash', class: 'flash', role: 'status', 'aria-live': 'polite', hidden: true });
const header = h('header', { class: 'top', id: 'top' });
const main = h('main', { id: 'main' });

let status: Status;
let session: Session | null = null;
let view: View = 'queue';
let current: { el: HTMLElement; refresh: () => Promise<void> } | null = null;
let loginUpdate: (() => void) | null = null;
let flashTimer: number | undefined;

function flash(text: string, kind: 'ok' | 'warn' = 'ok'): void {
  flashEl.textContent = text;
  flashEl.className = `flash ${kind}`;
  flashEl.hidden = false;
  window.clearTimeout(flashTimer);
  flashTimer = window.setTimeout(() => (flashEl.hidden = true), kind === 'warn' ? 12000 : 6000);
}

function drawSyncBar(): void {
  renderSyncBar(syncbar, status, session ? { waiting: () => go('waiting'), rejected: () => go('rejected') } : {});
}

let refreshTimer: number | undefined;
function scheduleRefresh(): void {
  window.clearTimeout(refreshTimer);
  refreshTimer = window.setTimeout(() => void current?.refresh().catch(() => undefined), 120);
}

function ctx(): Ctx {
  return {
    status,
    session: session!,
    userId: session!.user.id,
    go,
    openPanel,
    flash,
    acted: (text) => {
      flash(status.online ? text : `${text} ${t('flash.savedOffline')}`);
      scheduleRefresh();
    },
    now: () => new Date(),
  };
}

// The ctx handed to views reads the live status.
const liveCtx = new Proxy({} as Ctx, {
  get: (_t, k: keyof Ctx) => (k === 'status' ? status : ctx()[k]),
});

function openPanel(node: HTMLElement | null): void {
  const aside = document.getElementById('panel');
  if (!aside) return;
  // A form copied from a rejected act re-issues it (the engine links the
  // next act of that name to it); any other panel ends that.
  void api.reissuing(node?.dataset.reissueOf ?? '').catch(() => undefined);
  replace(aside, node);
  aside.hidden = node === null;
  document.getElementById('workspace')?.classList.toggle('with-panel', node !== null);
}

function go(v: View, patientId?: string): void {
  if (!session) return;
  view = v;
  openPanel(null);
  for (const b of header.querySelectorAll<HTMLButtonElement>('nav button')) b.setAttribute('aria-current', b.dataset.view === v ? 'page' : 'false');
  current = v === 'queue' ? queuesView(liveCtx) : v === 'patients' ? patientsView(liveCtx, patientId) : v === 'waiting' ? waitingView(liveCtx) : rejectedView(liveCtx);
  const content = document.getElementById('content')!;
  replace(content, current.el);
  void current.refresh().catch((e) => flash(String(e), 'warn'));
}


function redraw(): void {
  document.documentElement.lang = locale().slice(0, 2);
  drawHeader();
  drawSyncBar();
  if (session) go(view);
  else if (status.needsSetup) showSetup();
  else showLogin();
}

function drawHeader(): void {
  if (!session) {
    replace(header, h('div', { class: 'brand' }, 'wardsync'), h('span', { class: 'spacer' }), localeSettings(() => redraw()));
    return;
  }
  const u = session.user;
  const tab = (v: View, label: string, key: string) =>
    h('button', { type: 'button', 'data-view': v, id: `tab-${v}`, title: `Alt+${key}`, 'aria-current': view === v ? 'page' : 'false', onclick: () => go(v) }, label);
  replace(header,
    h('div', { class: 'brand' }, 'wardsync'),
    h('nav', { 'aria-label': t('nav.screens') }, tab('queue', t('nav.queue'), '1'), tab('patients', t('nav.patients'), '2'), tab('waiting', t('nav.waiting'), '3'),
      tab('rejected', t('nav.rejected'), '4')),
    h('span', { class: 'spacer' }),
    h('span', { class: 'user', id: 'current-user', 'data-role': u.role }, `${u.name} · ${roleName(u.role)}`, session.offline ? h('span', { class: 'badge warn' }, t('nav.offlineLogin')) : null),
    localeSettings(() => redraw()),
    h('button', { type: 'button', id: 'logout', onclick: logout }, t('nav.logout')));
}

async function logout(): Promise<void> {
  if (!session) return;
  try {
    await api.logout(session.user.id);
  } catch (e) {
    flash(String(e), 'warn');
  }
  session = null;
  showLogin();
}

function showSetup(cancel?: () => void): void {
  session = null;
  current = null;
  loginUpdate = null;
  drawHeader();
  drawSyncBar();
  replace(main, setupView(status, async () => {
    status = await api.status();
    drawSyncBar();
    flash(t('flash.setUp'));
    showLogin();
  }, cancel));
}

function showLogin(): void {
  session = null;
  current = null;
  drawHeader();
  drawSyncBar();
  const v = loginView(() => status, (s) => {
    session = s;
    loginUpdate = null;
    if (s.offline) flash(t('flash.offlineLogin'), 'warn');
    showApp();
  }, () => showSetup(showLogin));
  loginUpdate = v.update;
  replace(main, v.el);
}

// The idle lock: after status.idleLockSeconds without input, the engine
// closes the replica and every patient datum leaves the screen; the user's
// password reopens it (offline too), another user's login ends the session.
let lastInput = Date.now();
for (const ev of ['keydown', 'mousedown', 'mousemove', 'wheel', 'touchstart']) {
  document.addEventListener(ev, () => (lastInput = Date.now()), { capture: true, passive: true });
}

async function lockScreen(): Promise<void> {
  const who = session;
  if (!who) return;
  session = null;
  current = null;
  try {
    await api.lock(who.user.id);
  } catch (e) {
    flash(String(e), 'warn');
  }
  drawHeader();
  drawSyncBar();
  const secs = status.idleLockSeconds ?? 0;
  const after = secs >= 60 ? t('dur.min', { n: Math.round(secs / 60) }) : t('dur.s', { n: secs });
  const v = loginView(() => status, (s) => {
    session = s;
    loginUpdate = null;
    showApp();
  }, () => showSetup(showLogin), { email: who.user.email, name: who.user.name, after });
  loginUpdate = v.update;
  replace(main, v.el);
}

window.setInterval(() => {
  const after = status?.idleLockSeconds ?? 0;
  if (session && after > 0 && Date.now() - lastInput >= after * 1000) void lockScreen();
}, 1000);

function showApp(): void {
  drawHeader();
  drawSyncBar();
  replace(main, h('div', { id: 'workspace', class: 'workspace' },
    h('section', { id: 'content', class: 'content' }),
    h('aside', { id: 'panel', class: 'panel', hidden: true, 'aria-label': t('nav.form') })));
  go('queue');
}

document.addEventListener('keydown', (e) => {
  if (!session || !e.altKey) return;
  const v = ({ '1': 'queue', '2': 'patients', '3': 'waiting', '4': 'rejected' } as Record<string, View>)[e.key];
  if (v) {
    e.preventDefault();
    go(v);
  }
});

async function boot(): Promise<void> {
  document.documentElement.lang = locale().slice(0, 2);
  root.replaceChildren(header, syncbar, flashEl, main);
  try {
    await ready();
    status = await api.status();
  } catch (e) {
    replace(main, h('p', { class: 'problem boot' }, String(e)));
    return;
  }
  onStatus((s) => {
    status = s;
    drawSyncBar();
    loginUpdate?.();
    if (session) scheduleRefresh();
  });
  // Ages ("oldest 10:40") and "as of" stay right between events.
  window.setInterval(() => {
    void api.status().then((s) => {
      status = s;
      drawSyncBar();
      loginUpdate?.();
    }).catch(() => undefined);
  }, 15000);
  drawSyncBar();
  if (status.needsSetup) showSetup();
  else showLogin();
  document.body.dataset.ready = 'true';
}

void boot();
