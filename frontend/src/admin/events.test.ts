import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuthEventStream, CLOSED, OPEN } from './events';

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(c) {
      for (const ch of chunks) c.enqueue(enc.encode(ch));
      c.close();
    },
  });
}

afterEach(() => vi.unstubAllGlobals());

describe('AuthEventStream', () => {
  it('sends the token in the Authorization header, never in the URL, and parses named events split across chunks', async () => {
    const fetchStub = vi.fn(async () => new Response(streamOf(['retry: 60000\n\nevent: chan', 'ged\ndata: {"topics":["all"]}\n\n', 'event: logout\ndata: {"topics":["session"]}\r\n\r\n']), { status: 200 }));
    vi.stubGlobal('fetch', fetchStub);
    const got: string[] = [];
    const es = new AuthEventStream('/api/v1/admin/events', 'tok-1');
    es.addEventListener('open', () => got.push('open'));
    es.addEventListener('changed', (ev) => got.push(`changed ${ev.data}`));
    await new Promise<void>((resolve) => es.addEventListener('logout', () => resolve()));
    expect(got).toEqual(['open', 'changed {"topics":["all"]}']);
    const [url, init] = fetchStub.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe('/api/v1/admin/events');
    expect((init.headers as Record<string, string>).Authorization).toBe('Bearer tok-1');
    expect(es.readyState).toBe(OPEN);
    es.close();
    expect(es.readyState).toBe(CLOSED);
  });

  it('closes for good on a refusal (401), reporting an error', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => new Response('{"code":"UNAUTHENTICATED"}', { status: 401 })));
    const es = new AuthEventStream('/api/v1/admin/events', 'dead');
    await new Promise<void>((resolve) => es.addEventListener('error', () => resolve()));
    expect(es.readyState).toBe(CLOSED);
  });
});
