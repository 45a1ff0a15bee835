// The browser dashboard's backend: `POST /api/v1/rpc` with the `{cmd, args}` envelope, and the
// live stream from `GET /api/v1/events/stream` (Server-Sent Events).
//
// CSRF: double submit. The daemon sets the `sekia_csrf` cookie when it serves the page; every
// RPC echoes it in the `X-CSRF-Token` header. Errors are non-2xx answers with
// `{"error": "...", "field"?: "..."}`, thrown as `ApiError`.

import { ApiError, type ArgsParam, type Cmd, type ResultOf, type StoredEvent } from '../api';
import { filterKey, matchesFilter, streamQueryString, type EventFilter } from '../filters';
import { Listeners } from './listeners';
import type { Backend, StreamNotice } from './types';

export const CSRF_COOKIE = 'sekia_csrf';
export const CSRF_HEADER = 'X-CSRF-Token';

/** The part of `EventSource` this module uses. */
export interface EventSourceLike {
  addEventListener(type: string, listener: (e: MessageEvent) => void): void;
  onopen: ((e: Event) => void) | null;
  onerror: ((e: Event) => void) | null;
  close(): void;
}

/** Everything the HTTP backend touches in the browser, injectable for tests. */
export interface HttpTransport {
  fetch: (input: string, init: RequestInit) => Promise<Response>;
  EventSource: new (url: string) => EventSourceLike;
  /** `document.cookie`. */
  cookies: () => string;
  /** Opens a URL in a new browser tab. */
  open?: (url: string) => void;
  /** Prefix of the API paths ('' = same origin, e.g. `http://127.0.0.1:7777` in tests). */
  baseUrl?: string;
  /**
   * Called once when there is no CSRF cookie yet (the page was not served by the daemon, e.g.
   * `vite dev`): should make the daemon set it.
   */
  obtainCsrf?: () => Promise<void>;
}

/** Reads one cookie from a `document.cookie` string. */
export function readCookie(cookies: string, name: string): string | null {
  for (const part of cookies.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      const v = part.slice(eq + 1).trim();
      try {
        return decodeURIComponent(v);
      } catch {
        return v;
      }
    }
  }
  return null;
}

/** The `ApiError` for a non-2xx answer. */
export async function errorFromResponse(res: Response): Promise<ApiError> {
  let text = '';
  try {
    text = await res.text();
  } catch {
    // no body
  }
  if (text) {
    try {
      const body = JSON.parse(text) as { error?: unknown; field?: unknown };
      if (body && typeof body.error === 'string') {
        return new ApiError(body.error, res.status, typeof body.field === 'string' ? body.field : null);
      }
    } catch {
      // not JSON: use the text
    }
  }
  const message = text.trim() || res.statusText || `HTTP ${res.status}`;
  return new ApiError(message.length > 300 ? message.slice(0, 300) + '…' : message, res.status);
}

interface Stream {
  source: EventSourceLike;
  listeners: Listeners<StoredEvent>;
}

export function createHttpBackend(transport: HttpTransport): Backend {
  const base = transport.baseUrl ?? '';
  const notices = new Listeners<StreamNotice>();
  const streams = new Map<string, Stream>();
  let csrfAsked: Promise<void> | null = null;

  async function csrfToken(): Promise<string | null> {
    let token = readCookie(transport.cookies(), CSRF_COOKIE);
    if (token === null && transport.obtainCsrf) {
      csrfAsked ??= transport.obtainCsrf().catch(() => {});
      await csrfAsked;
      token = readCookie(transport.cookies(), CSRF_COOKIE);
    }
    return token;
  }

  async function call<C extends Cmd>(cmd: C, ...rest: ArgsParam<C>): Promise<ResultOf<C>> {
    const args = rest[0];
    const body: { cmd: C; args?: unknown } = { cmd };
    if (args !== undefined) body.args = args;
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      Accept: 'application/json',
    };
    const token = await csrfToken();
    if (token !== null) headers[CSRF_HEADER] = token;
    let res: Response;
    try {
      res = await transport.fetch(`${base}/api/v1/rpc`, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
        credentials: 'same-origin',
      });
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new ApiError(`Cannot reach the sekia daemon (${why})`, 0);
    }
    if (!res.ok) throw await errorFromResponse(res);
    const text = await res.text();
    if (!text) return {} as ResultOf<C>;
    try {
      return JSON.parse(text) as ResultOf<C>;
    } catch {
      throw new ApiError(`The daemon sent an answer that is not JSON for "${cmd}"`, res.status);
    }
  }

  function openStream(key: string, filter: EventFilter | undefined): Stream {
    const source = new transport.EventSource(`${base}/api/v1/events/stream${streamQueryString(filter)}`);
    const stream: Stream = { source, listeners: new Listeners<StoredEvent>() };
    source.addEventListener('event', (e) => {
      let ev: StoredEvent;
      try {
        ev = JSON.parse(String(e.data)) as StoredEvent;
      } catch {
        return;
      }
      // The server filters already; this keeps the rule identical if it filters less.
      if (matchesFilter(ev, filter)) stream.listeners.emit(ev);
    });
    source.addEventListener('lagged', (e) => {
      const n = Number.parseInt(String(e.data), 10);
      notices.emit({ kind: 'lagged', skipped: Number.isFinite(n) ? n : 0 });
    });
    source.onopen = () => notices.emit({ kind: 'stream', state: 'open' });
    source.onerror = () => notices.emit({ kind: 'stream', state: 'error' });
    streams.set(key, stream);
    return stream;
  }

  function onEvent(cb: (e: StoredEvent) => void, filter?: EventFilter): () => void {
    const key = filterKey(filter);
    const stream = streams.get(key) ?? openStream(key, filter);
    const remove = stream.listeners.add(cb);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      remove();
      if (stream.listeners.size === 0) {
        stream.source.close();
        if (streams.get(key) === stream) streams.delete(key);
      }
    };
  }

  return {
    kind: 'http',
    call,
    onEvent,
    onNotice: (cb) => notices.add(cb),
    async openUrl(url: string) {
      if (!/^https?:\/\//i.test(url)) throw new ApiError(`not a web address: ${url}`, 0, 'url');
      (transport.open ?? (() => undefined))(url);
    },
  };
}

/** The transport of a page served by the daemon (or by `vite dev` with its proxy). */
export function browserHttpTransport(): HttpTransport {
  return {
    fetch: (input, init) => window.fetch(input, init),
    EventSource: window.EventSource,
    cookies: () => document.cookie,
    // noopener: the sign-in page gets no handle on the dashboard.
    open: (url) => void window.open(url, '_blank', 'noopener,noreferrer'),
    // Under `vite dev` the page does not come from the daemon, so no cookie was set: ask the
    // daemon for its page once through the dev proxy (`/__sekia/page` → `/`), which sets it.
    obtainCsrf: import.meta.env.DEV
      ? async () => {
          await window.fetch('/__sekia/page', { credentials: 'same-origin' });
        }
      : undefined,
  };
}
