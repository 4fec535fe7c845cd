// The admin API client: JSON in and out, the bearer token, and the server's
// rejection ({code, message, field}) as an ApiError.
import { t } from '../shared/i18n';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field = '',
  ) {
    super(message);
  }
}

export const TOKEN_KEY = 'wardsync.admin.token';

// The administrator's last key press or click: the dashboard's own
// refreshes tell the server how long ago it was (X-Wardsync-Idle), so that
// they do not keep an unattended session alive past its idle timeout.
let lastInput = Date.now();
if (typeof document !== 'undefined') {
  for (const ev of ['keydown', 'pointerdown']) document.addEventListener(ev, () => (lastInput = Date.now()), { capture: true, passive: true });
}
function idleHeader(): Record<string, string> {
  return { 'X-Wardsync-Idle': String(Math.max(0, Date.now() - lastInput)) };
}

export class Api {
  constructor(
    public token: string,
    private readonly onUnauthenticated: (message: string) => void,
  ) {}

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json', Authorization: `Bearer ${this.token}`, ...idleHeader() };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let resp: Response;
    try {
      resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
    } catch {
      throw new ApiError(0, 'NETWORK', t('adm.unreachableRetrying'));
    }
    const data = (await resp.json().catch(() => ({}))) as Record<string, unknown>;
    if (!resp.ok) {
      const err = new ApiError(resp.status, String(data.code ?? 'HTTP_' + resp.status), String(data.message ?? resp.statusText), String(data.field ?? ''));
      if (resp.status === 401) this.onUnauthenticated(err.message);
      throw err;
    }
    return data as T;
  }

  /** download fetches a file (a CSV export) with the session's token. */
  async download(path: string): Promise<Blob> {
    let resp: Response;
    try {
      resp = await fetch(path, { headers: { Authorization: `Bearer ${this.token}`, ...idleHeader() }, cache: 'no-store' });
    } catch {
      throw new ApiError(0, 'NETWORK', t('adm.unreachableTryAgain'));
    }
    if (!resp.ok) {
      const data = (await resp.json().catch(() => ({}))) as Record<string, unknown>;
      const err = new ApiError(resp.status, String(data.code ?? 'HTTP_' + resp.status), String(data.message ?? resp.statusText), String(data.field ?? ''));
      if (resp.status === 401) this.onUnauthenticated(err.message);
      throw err;
    }
    return resp.blob();
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, body ?? {});
  }

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, body);
  }
}

/** login opens an admin dashboard session (no deviceId). */
export async function login(email: string, password: string): Promise<{ token: string; user: { id: string; name: string; role: string } }> {
  let resp: Response;
  try {
    resp = await fetch('/api/v1/auth/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ email, password }),
    });
  } catch {
    throw new ApiError(0, 'NETWORK', t('adm.unreachable'));
  }
  const data = (await resp.json().catch(() => ({}))) as Record<string, unknown>;
  if (!resp.ok) throw new ApiError(resp.status, String(data.code ?? ''), String(data.message ?? resp.statusText), String(data.field ?? ''));
  return data as { token: string; user: { id: string; name: string; role: string } };
}
