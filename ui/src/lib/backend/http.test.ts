import { describe, expect, it } from 'vitest';

import { ApiError } from '../api';
import { createHttpBackend, readCookie, type EventSourceLike, type HttpTransport } from './http';

interface Sent {
  url: string;
  init: RequestInit;
}

function fakeFetch(respond: (body: unknown) => Response) {
  const sent: Sent[] = [];
  const fetch = async (url: string, init: RequestInit) => {
    sent.push({ url, init });
    return respond(JSON.parse(String(init.body)));
  };
  return { fetch, sent };
}

class FakeEventSource implements EventSourceLike {
  static opened: FakeEventSource[] = [];
  listeners = new Map<string, ((e: MessageEvent) => void)[]>();
  onopen: ((e: Event) => void) | null = null;
  onerror: ((e: Event) => void) | null = null;
  closed = false;
  constructor(readonly url: string) {
    FakeEventSource.opened.push(this);
  }
  addEventListener(type: string, l: (e: MessageEvent) => void) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), l]);
  }
  close() {
    this.closed = true;
  }
  fire(type: string, data: string) {
    for (const l of this.listeners.get(type) ?? []) l({ data } as MessageEvent);
  }
}

function transport(fetch: HttpTransport['fetch'], cookies = 'theme=dark; sekia_csrf=tok%2Ben; other=1'): HttpTransport {
  FakeEventSource.opened = [];
  return { fetch, EventSource: FakeEventSource, cookies: () => cookies };
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

const storedEvent = (over: Partial<Record<string, unknown>> = {}) => ({
  seq: 1,
  subject: 'sekia.events.github',
  id: 'evt_1',
  type: 'github.issue.opened',
  source: 'github',
  timestamp: 1700000000,
  payload: '{"title":"x"}',
  truncated: false,
  received_at_ms: 1700000000000,
  replayed_from: null,
  ...over,
});

describe('http backend', () => {
  it('opens web addresses in a new tab and refuses anything else', async () => {
    const opened: string[] = [];
    const b = createHttpBackend({ ...transport(async () => new Response("{}")), open: (u) => opened.push(u) });
    await b.openUrl('http://127.0.0.1:4000/authorize?state=s');
    await expect(b.openUrl('javascript:alert(1)')).rejects.toMatchObject({ field: 'url' });
    expect(opened).toEqual(['http://127.0.0.1:4000/authorize?state=s']);
  });

  it('posts the envelope to /api/v1/rpc with the CSRF header from the cookie', async () => {
    const { fetch, sent } = fakeFetch(() => json(200, { status: 'ok' }));
    const b = createHttpBackend(transport(fetch));
    expect(b.kind).toBe('http');
    await b.call('events', { source: 'github', limit: 10 });
    expect(sent).toHaveLength(1);
    const [{ url, init }] = sent;
    expect(url).toBe('/api/v1/rpc');
    expect(init.method).toBe('POST');
    expect(init.credentials).toBe('same-origin');
    const headers = init.headers as Record<string, string>;
    expect(headers['X-CSRF-Token']).toBe('tok+en');
    expect(headers['Content-Type']).toBe('application/json');
    expect(JSON.parse(String(init.body))).toEqual({ cmd: 'events', args: { source: 'github', limit: 10 } });
  });

  it('omits args for calls that take none', async () => {
    const { fetch, sent } = fakeFetch(() => json(200, { agents: [] }));
    const b = createHttpBackend(transport(fetch));
    const r = await b.call('agents');
    expect(r).toEqual({ agents: [] });
    expect(JSON.parse(String(sent[0]!.init.body))).toEqual({ cmd: 'agents' });
  });

  it('turns a non-2xx JSON error into an ApiError with status and field', async () => {
    const { fetch } = fakeFetch(() => json(400, { error: 'max_age: not a duration', field: 'store.max_age' }));
    const b = createHttpBackend(transport(fetch));
    const err = await b.call('save_settings', { store: { max_events: 1, max_age: 'x' } }).catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.message).toBe('max_age: not a duration');
    expect(err.status).toBe(400);
    expect(err.field).toBe('store.max_age');
  });

  it('uses the body text when the error is not JSON, and the status text when empty', async () => {
    const b1 = createHttpBackend(transport(fakeFetch(() => new Response('CSRF token mismatch', { status: 403 })).fetch));
    const e1 = await b1.call('status').catch((e) => e);
    expect(e1).toMatchObject({ message: 'CSRF token mismatch', status: 403, field: null });

    const b2 = createHttpBackend(transport(fakeFetch(() => new Response('', { status: 502, statusText: 'Bad Gateway' })).fetch));
    const e2 = await b2.call('status').catch((e) => e);
    expect(e2).toMatchObject({ message: 'Bad Gateway', status: 502 });
  });

  it('reports an unreachable daemon as an ApiError with status 0', async () => {
    const b = createHttpBackend(
      transport(async () => {
        throw new TypeError('Failed to fetch');
      }),
    );
    const err = await b.call('status').catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(0);
    expect(err.message).toContain('Cannot reach');
  });

  it('sends no CSRF header without the cookie, after asking for it once', async () => {
    const { fetch, sent } = fakeFetch(() => json(200, {}));
    let asked = 0;
    let cookies = '';
    const t: HttpTransport = {
      fetch,
      EventSource: FakeEventSource,
      cookies: () => cookies,
      obtainCsrf: async () => {
        asked++;
      },
    };
    const b = createHttpBackend(t);
    await b.call('status');
    await b.call('status');
    expect(asked).toBe(1);
    expect((sent[0]!.init.headers as Record<string, string>)['X-CSRF-Token']).toBeUndefined();
    cookies = 'sekia_csrf=abc';
    await b.call('status');
    expect((sent[2]!.init.headers as Record<string, string>)['X-CSRF-Token']).toBe('abc');
  });

  it('streams events from /api/v1/events/stream with the filter, shared per filter', () => {
    const { fetch } = fakeFetch(() => json(200, {}));
    const b = createHttpBackend(transport(fetch));
    const got1: string[] = [];
    const got2: string[] = [];
    const off1 = b.onEvent((e) => got1.push(e.id), { source: 'github', type: 'github.*' });
    const off2 = b.onEvent((e) => got2.push(e.id), { source: ' github ', type: 'github.*' });
    expect(FakeEventSource.opened).toHaveLength(1);
    const es = FakeEventSource.opened[0]!;
    expect(es.url).toBe('/api/v1/events/stream?source=github&type=github.*');
    es.fire('event', JSON.stringify(storedEvent()));
    es.fire('event', 'not json');
    expect(got1).toEqual(['evt_1']);
    expect(got2).toEqual(['evt_1']);
    off1();
    expect(es.closed).toBe(false);
    off2();
    off2();
    expect(es.closed).toBe(true);
  });

  it('opens an unfiltered stream without a query string', () => {
    const b = createHttpBackend(transport(fakeFetch(() => json(200, {})).fetch));
    b.onEvent(() => {});
    expect(FakeEventSource.opened[0]!.url).toBe('/api/v1/events/stream');
  });

  it('surfaces `lagged` and connection changes as notices', () => {
    const b = createHttpBackend(transport(fakeFetch(() => json(200, {})).fetch));
    const notices: unknown[] = [];
    b.onNotice((n) => notices.push(n));
    b.onEvent(() => {});
    const es = FakeEventSource.opened[0]!;
    es.onopen?.(new Event('open'));
    es.fire('lagged', '17');
    es.onerror?.(new Event('error'));
    expect(notices).toEqual([
      { kind: 'stream', state: 'open' },
      { kind: 'lagged', skipped: 17 },
      { kind: 'stream', state: 'error' },
    ]);
  });
});

describe('readCookie', () => {
  it('finds a cookie among others and decodes it', () => {
    expect(readCookie('a=1; sekia_csrf=x%20y; b=2', 'sekia_csrf')).toBe('x y');
    expect(readCookie('sekia_csrf_old=1', 'sekia_csrf')).toBeNull();
    expect(readCookie('', 'sekia_csrf')).toBeNull();
    expect(readCookie('sekia_csrf=a=b', 'sekia_csrf')).toBe('a=b');
  });
});
