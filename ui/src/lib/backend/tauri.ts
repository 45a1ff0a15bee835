// The desktop window's backend: one Tauri command, `rpc`, taking the `{cmd, args}` envelope;
// live events from the Tauri event `sekia:event` (payload: a StoredEvent), the embedded
// daemon's state from `sekia:state`, its status on each change from `sekia:status` and each
// new problem from `sekia:attention`. Plus what only a desktop has: the `autostart` and
// `set_autostart` commands (start at login), and the app's updates (`updates`,
// `check_for_updates`, `install_update`, `set_update_settings`; progress as `sekia:update`).

import { invoke as tauriInvoke } from '@tauri-apps/api/core';
import { listen as tauriListen } from '@tauri-apps/api/event';

import { ApiError, type ArgsParam, type Attention, type Cmd, type ResultOf, type StatusInfo, type StoredEvent } from '../api';
import { matchesFilter, type EventFilter } from '../filters';
import { Listeners } from './listeners';
import type { Backend, StreamNotice, UpdateChannel, UpdateInfo, UpdateStatus } from './types';

export const RPC_COMMAND = 'rpc';
export const EVENT_CHANNEL = 'sekia:event';
export const STATE_CHANNEL = 'sekia:state';
export const STATUS_CHANNEL = 'sekia:status';
export const ATTENTION_CHANNEL = 'sekia:attention';
export const UPDATE_CHANNEL = 'sekia:update';

/** What the Tauri backend uses from `@tauri-apps/api`, injectable for tests. */
export interface TauriTransport {
  invoke: <T>(cmd: string, args?: Record<string, unknown>) => Promise<T>;
  listen: <T>(event: string, handler: (e: { payload: T }) => void) => Promise<() => void>;
}

/** Whether this page runs in the Tauri webview. */
export function isTauri(w: object = globalThis): boolean {
  return '__TAURI_INTERNALS__' in w;
}

/** A Tauri command error (a string, or `{error, field}`) as an `ApiError`. */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (typeof e === 'string') return new ApiError(e);
  if (e && typeof e === 'object') {
    const o = e as { error?: unknown; message?: unknown; field?: unknown; status?: unknown };
    const message = typeof o.error === 'string' ? o.error : typeof o.message === 'string' ? o.message : JSON.stringify(e);
    return new ApiError(
      message,
      typeof o.status === 'number' ? o.status : 0,
      typeof o.field === 'string' ? o.field : null,
    );
  }
  return new ApiError(String(e));
}

/** Subscribes to a Tauri event; the returned function also works before `listen` resolved. */
function subscribe<T>(transport: TauriTransport, channel: string, handler: (payload: T) => void): () => void {
  let unlisten: (() => void) | null = null;
  let cancelled = false;
  transport
    .listen<T>(channel, (e) => {
      if (!cancelled) handler(e.payload);
    })
    .then(
      (u) => {
        if (cancelled) u();
        else unlisten = u;
      },
      (err) => console.error(`listen ${channel}:`, err),
    );
  return () => {
    if (cancelled) return;
    cancelled = true;
    unlisten?.();
    unlisten = null;
  };
}

export function createTauriBackend(
  transport: TauriTransport = { invoke: tauriInvoke, listen: tauriListen },
): Backend {
  const notices = new Listeners<StreamNotice>();

  async function call<C extends Cmd>(cmd: C, ...rest: ArgsParam<C>): Promise<ResultOf<C>> {
    const args = rest[0];
    const envelope: { cmd: C; args?: unknown } = { cmd };
    if (args !== undefined) envelope.args = args;
    try {
      return await transport.invoke<ResultOf<C>>(RPC_COMMAND, { call: envelope });
    } catch (e) {
      throw toApiError(e);
    }
  }

  /** One of the shell's own commands (not a daemon call), errors as `ApiError`s. */
  async function command<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
    try {
      return await transport.invoke<T>(cmd, args);
    } catch (e) {
      throw toApiError(e);
    }
  }

  return {
    kind: 'tauri',
    call,
    onEvent(cb: (e: StoredEvent) => void, filter?: EventFilter) {
      return subscribe<StoredEvent>(transport, EVENT_CHANNEL, (ev) => {
        if (matchesFilter(ev, filter)) cb(ev);
      });
    },
    onState(cb: (s: unknown) => void) {
      return subscribe<unknown>(transport, STATE_CHANNEL, cb);
    },
    onStatus(cb: (s: StatusInfo) => void) {
      return subscribe<StatusInfo>(transport, STATUS_CHANNEL, cb);
    },
    onAttention(cb: (a: Attention) => void) {
      return subscribe<Attention>(transport, ATTENTION_CHANNEL, cb);
    },
    onNotice: (cb) => notices.add(cb),
    async openUrl(url: string) {
      // tauri-plugin-opener: the system browser, never a webview (RFC 8252 §8.12).
      try {
        await transport.invoke('plugin:opener|open_url', { url });
      } catch (e) {
        throw toApiError(e);
      }
    },
    autostart: {
      async get() {
        try {
          return Boolean(await transport.invoke<boolean>('autostart'));
        } catch (e) {
          throw toApiError(e);
        }
      },
      async set(enabled: boolean) {
        try {
          return Boolean(await transport.invoke<boolean>('set_autostart', { enabled }));
        } catch (e) {
          throw toApiError(e);
        }
      },
    },
    updates: {
      info: () => command<UpdateInfo>('updates'),
      check: () => command<UpdateInfo>('check_for_updates'),
      install: () => command<void>('install_update'),
      // Tauri maps camelCase argument names to the command's snake_case parameters.
      configure: (channel: UpdateChannel, checkAutomatically: boolean) =>
        command<UpdateInfo>('set_update_settings', { channel, checkAutomatically }),
      onStatus: (cb: (s: UpdateStatus) => void) => subscribe<UpdateStatus>(transport, UPDATE_CHANNEL, cb),
    },
  };
}
