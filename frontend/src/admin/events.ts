// The dashboard's live-update stream, read with fetch so that the login
// token travels in the Authorization header. EventSource cannot set
// headers, and a token in a URL ends up in proxy logs and browser history.
// The object behaves like the EventSource it replaces: 'open', named
// events, 'error', readyState and close(); it reconnects after a network
// error (the server's `retry:` delay) and closes for good on a refusal.

export const CONNECTING = 0;
export const OPEN = 1;
export const CLOSED = 2;

export interface StreamEvent {
  type: string;
  data: string;
}

type Listener = (ev: StreamEvent) => void;

export class AuthEventStream {
  readyState = CONNECTING;
  private listeners = new Map<string, Listener[]>();
  private abort = new AbortController();
  private retryMs = 3000;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private url: string,
    private token: string,
  ) {
    void this.run();
  }

  addEventListener(type: string, fn: Listener): void {
    const list = this.listeners.get(type) ?? [];
    list.push(fn);
    this.listeners.set(type, list);
  }

  close(): void {
    this.readyState = CLOSED;
    this.abort.abort();
    clearTimeout(this.timer);
  }

  private emit(type: string, data = ''): void {
    for (const fn of this.listeners.get(type) ?? []) fn({ type, data });
  }

  private async run(): Promise<void> {
    let refused = false;
    try {
      const res = await fetch(this.url, {
        headers: { Accept: 'text/event-stream', Authorization: `Bearer ${this.token}` },
        cache: 'no-store',
        signal: this.abort.signal,
      });
      if (!res.ok || !res.body) {
        refused = res.status >= 400 && res.status < 500;
        throw new Error(`events: ${res.status}`);
      }
      this.readyState = OPEN;
      this.emit('open');
      await this.read(res.body);
    } catch {
      // Reported below, like EventSource's 'error'.
    }
    if (this.readyState === CLOSED && !refused) return; // close() was called
    this.readyState = refused ? CLOSED : CONNECTING;
    this.emit('error');
    if (this.readyState === CONNECTING) this.timer = setTimeout(() => void this.run(), this.retryMs);
  }

  // read parses the text/event-stream format: blocks separated by a blank
  // line, each of "event:", "data:" and "retry:" fields.
  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
      let end: number;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, end);
        buf = buf.slice(end + 2);
        let type = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          const colon = line.indexOf(':');
          if (colon === 0) continue; // a comment
          const field = colon < 0 ? line : line.slice(0, colon);
          const val = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') type = val;
          else if (field === 'data') data.push(val);
          else if (field === 'retry' && /^\d+$/.test(val)) this.retryMs = Number(val);
        }
        if (data.length) this.emit(type, data.join('\n'));
      }
    }
  }
}
