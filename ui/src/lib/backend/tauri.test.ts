import { describe, expect, it } from 'vitest';

import { ApiError } from '../api';
import { createTauriBackend, isTauri, toApiError, type TauriTransport } from './tauri';

function fakeTauri(answer: (cmd: string, args: unknown) => unknown) {
  const invoked: { cmd: string; args: unknown }[] = [];
  const handlers = new Map<string, ((e: { payload: unknown }) => void)[]>();
  let unlistened = 0;
  const t: TauriTransport = {
    invoke: async <T,>(cmd: string, args?: Record<string, unknown>) => {
      invoked.push({ cmd, args });
      return answer(cmd, args) as T;
    },
    listen: async <T,>(event: string, h: (e: { payload: T }) => void) => {
      const list = handlers.get(event) ?? [];
      list.push(h as (e: { payload: unknown }) => void);
      handlers.set(event, list);
      return () => {
        unlistened++;
        handlers.set(event, (handlers.get(event) ?? []).filter((x) => x !== h));
      };
    },
  };
  const emit = (event: string, payload: unknown) => {
    for (const h of handlers.get(event) ?? []) h({ payload });
  };
  return { t, invoked, emit, unlistened: () => unlistened };
}

const flush = () => new Promise((r) => setTimeout(r, 0));

describe('tauri backend', () => {
  it('opens sign-in pages in the system browser through tauri-plugin-opener', async () => {
    const f = fakeTauri(() => null);
    await createTauriBackend(f.t).openUrl('https://accounts.google.com/o/oauth2/v2/auth?x=1');
    expect(f.invoked).toEqual([{ cmd: 'plugin:opener|open_url', args: { url: 'https://accounts.google.com/o/oauth2/v2/auth?x=1' } }]);
  });

  it('invokes the one `rpc` command with the {cmd, args} envelope', async () => {
    const f = fakeTauri(() => ({ items: [], next_cursor: null }));
    const b = createTauriBackend(f.t);
    expect(b.kind).toBe('tauri');
    const r = await b.call('events', { q: 'crash', limit: 5 });
    expect(r).toEqual({ items: [], next_cursor: null });
    expect(f.invoked).toEqual([{ cmd: 'rpc', args: { call: { cmd: 'events', args: { q: 'crash', limit: 5 } } } }]);
  });

  it('leaves args out of the envelope for calls without them', async () => {
    const f = fakeTauri(() => ({ paused: true }));
    const b = createTauriBackend(f.t);
    await b.call('pause_workflows');
    expect(f.invoked[0]).toEqual({ cmd: 'rpc', args: { call: { cmd: 'pause_workflows' } } });
  });

  it('rejects with an ApiError for string and object errors', async () => {
    const b1 = createTauriBackend(fakeTauri(() => Promise.reject('sekia is starting')).t);
    const e1 = await b1.call('status').catch((e) => e);
    expect(e1).toBeInstanceOf(ApiError);
    expect(e1.message).toBe('sekia is starting');

    const b2 = createTauriBackend(fakeTauri(() => Promise.reject({ error: 'no such workflow', field: 'name' })).t);
    const e2 = await b2.call('workflow_source', { name: 'x.lua' }).catch((e) => e);
    expect(e2).toMatchObject({ message: 'no such workflow', field: 'name', status: 0 });
  });

  it('delivers the pushed status and each new problem (sekia:status, sekia:attention)', async () => {
    const f = fakeTauri(() => null);
    const b = createTauriBackend(f.t);
    const statuses: unknown[] = [];
    const problems: unknown[] = [];
    const offStatus = b.onStatus!((s) => statuses.push(s));
    const offAttention = b.onAttention!((a) => problems.push(a));
    await flush();
    f.emit('sekia:status', { status: 'ok', paused: true, attention: [] });
    f.emit('sekia:attention', { kind: 'workflow_error', text: 'workflow w: boom' });
    expect(statuses).toEqual([{ status: 'ok', paused: true, attention: [] }]);
    expect(problems).toEqual([{ kind: 'workflow_error', text: 'workflow w: boom' }]);
    offStatus();
    offAttention();
    f.emit('sekia:status', { status: 'ok', paused: false, attention: [] });
    expect(statuses).toHaveLength(1);
  });

  it('delivers sekia:event payloads, filtered, until unsubscribed', async () => {
    const f = fakeTauri(() => null);
    const b = createTauriBackend(f.t);
    const got: string[] = [];
    const off = b.onEvent((e) => got.push(e.id), { type: 'github.*' });
    await flush();
    f.emit('sekia:event', { id: 'a', type: 'github.issue.opened', source: 'github' });
    f.emit('sekia:event', { id: 'b', type: 'slack.message', source: 'slack' });
    off();
    f.emit('sekia:event', { id: 'c', type: 'github.push', source: 'github' });
    expect(got).toEqual(['a']);
    expect(f.unlistened()).toBe(1);
  });

  it('unsubscribing before listen resolved still unlistens', async () => {
    const f = fakeTauri(() => null);
    const b = createTauriBackend(f.t);
    const got: unknown[] = [];
    const off = b.onState!((s) => got.push(s));
    off();
    await flush();
    f.emit('sekia:state', { state: 'running' });
    expect(got).toEqual([]);
    expect(f.unlistened()).toBe(1);
  });

  it('forwards sekia:state', async () => {
    const f = fakeTauri(() => null);
    const b = createTauriBackend(f.t);
    const got: unknown[] = [];
    b.onState!((s) => got.push(s));
    await flush();
    f.emit('sekia:state', { state: 'failed', error: 'another sekiad is already running' });
    expect(got).toEqual([{ state: 'failed', error: 'another sekiad is already running' }]);
  });
});

describe('start at login', () => {
  it('uses the shell’s own autostart commands, not rpc', async () => {
    const f = fakeTauri((cmd, args) => (cmd === 'set_autostart' ? (args as { enabled: boolean }).enabled : false));
    const b = createTauriBackend(f.t);
    expect(await b.autostart!.get()).toBe(false);
    expect(await b.autostart!.set(true)).toBe(true);
    expect(f.invoked).toEqual([
      { cmd: 'autostart', args: undefined },
      { cmd: 'set_autostart', args: { enabled: true } },
    ]);
  });

  it('is absent in the browser backend', async () => {
    const { createHttpBackend } = await import('./http');
    const b = createHttpBackend({ fetch: async () => new Response('{}'), EventSource: class {} as never, cookies: () => '' });
    expect(b.autostart).toBeUndefined();
  });
});

describe('updates', () => {
  const info = { status: { state: 'up_to_date', checked_at: null, error: null }, current_version: '0.1.0', channel: 'stable', check_automatically: true, feed: 'f' };

  it('use the shell’s own update commands, not rpc', async () => {
    const f = fakeTauri((cmd) => (cmd === 'install_update' ? null : info));
    const b = createTauriBackend(f.t);
    expect(await b.updates!.info()).toEqual(info);
    await b.updates!.check();
    await b.updates!.install();
    await b.updates!.configure('beta', false);
    expect(f.invoked).toEqual([
      { cmd: 'updates', args: undefined },
      { cmd: 'check_for_updates', args: undefined },
      { cmd: 'install_update', args: undefined },
      { cmd: 'set_update_settings', args: { channel: 'beta', checkAutomatically: false } },
    ]);
  });

  it('forward sekia:update and reject with ApiErrors', async () => {
    const f = fakeTauri(() => Promise.reject('this build of sekia does not update itself'));
    const b = createTauriBackend(f.t);
    const got: unknown[] = [];
    const off = b.updates!.onStatus((s) => got.push(s));
    await flush();
    f.emit('sekia:update', { state: 'downloading', version: '0.2.0', downloaded: 1, total: 2 });
    off();
    f.emit('sekia:update', { state: 'installing', version: '0.2.0' });
    expect(got).toEqual([{ state: 'downloading', version: '0.2.0', downloaded: 1, total: 2 }]);
    const e = await b.updates!.check().catch((x) => x);
    expect(e).toBeInstanceOf(ApiError);
    expect(e.message).toBe('this build of sekia does not update itself');
  });

  it('are absent in the browser backend (the dashboard comes with its sekiad)', async () => {
    const { createHttpBackend } = await import('./http');
    const b = createHttpBackend({ fetch: async () => new Response('{}'), EventSource: class {} as never, cookies: () => '' });
    expect(b.updates).toBeUndefined();
  });
});

describe('host detection', () => {
  it('is Tauri when __TAURI_INTERNALS__ exists', () => {
    expect(isTauri({})).toBe(false);
    expect(isTauri({ __TAURI_INTERNALS__: {} })).toBe(true);
  });
});

describe('toApiError', () => {
  it('keeps ApiErrors and stringifies odd values', () => {
    const e = new ApiError('x', 1, 'f');
    expect(toApiError(e)).toBe(e);
    expect(toApiError(42).message).toBe('42');
    expect(toApiError({ message: 'm' }).message).toBe('m');
  });
});
