// App-wide state: notices (toasts), the daemon's status (shared by the sidebar and the
// overview), and small cross-page requests (focus the events search, test a workflow with an
// event).

import { errorMessage, type Attention, type StatusInfo, type StoredEvent } from './api';
import { backend, type StreamNotice } from './backend';
import { throttle } from './resource.svelte';
import { href } from './route';

export type NoticeKind = 'info' | 'success' | 'error' | 'warn';
export interface Notice {
  id: number;
  kind: NoticeKind;
  text: string;
  link?: { href: string; label: string };
}

class Notices {
  items = $state<Notice[]>([]);
  private next = 1;

  push(text: string, kind: NoticeKind = 'info', link?: Notice['link']): number {
    // The same message twice in a row: keep one.
    const last = this.items[this.items.length - 1];
    if (last && last.text === text && last.kind === kind) return last.id;
    const id = this.next++;
    this.items.push({ id, kind, text, link });
    if (this.items.length > 5) this.items.shift();
    if (kind !== 'error') setTimeout(() => this.dismiss(id), kind === 'warn' ? 9000 : 5000);
    return id;
  }

  error(e: unknown, prefix?: string): void {
    const m = errorMessage(e);
    this.push(prefix ? `${prefix}: ${m}` : m, 'error');
  }

  dismiss(id: number): void {
    this.items = this.items.filter((n) => n.id !== id);
  }
}

export const notices = new Notices();

/** The embedded daemon's state, as the desktop shell reports it (`sekia:state`). */
export type ShellState =
  | { state: 'starting' }
  | { state: 'running'; socket?: string }
  | { state: 'failed'; error: string }
  | { state: 'stopped' };

class Daemon {
  status = $state.raw<StatusInfo | null>(null);
  /** Why there is no status: the daemon is starting, failed, or unreachable. */
  error = $state<string | null>(null);
  loading = $state(true);
  /** The live stream's connection (HTTP); the desktop's is always up. */
  stream = $state<'open' | 'error' | 'unknown'>('unknown');
  /** Incremented on each live event (pages that show counters refresh on it). */
  liveTick = $state(0);
  lastEvent = $state.raw<StoredEvent | null>(null);
  private token = 0;

  async refresh(): Promise<void> {
    const mine = ++this.token;
    try {
      const s = await backend().call('status');
      if (mine !== this.token) return;
      this.status = s;
      this.error = null;
    } catch (e) {
      if (mine !== this.token) return;
      this.status = null;
      this.error = errorMessage(e);
    } finally {
      if (mine === this.token) this.loading = false;
    }
  }

  setPaused(paused: boolean): void {
    if (this.status) this.status = { ...this.status, paused };
  }

  /** Polls every 5 s and on every live event or shell state change. Returns the stop function. */
  start(): () => void {
    const b = backend();
    void this.refresh();
    const soon = throttle(() => void this.refresh(), 1000);
    const timer = setInterval(() => void this.refresh(), 5000);
    const offEvent = b.onEvent((ev) => {
      this.lastEvent = ev;
      this.liveTick++;
      soon();
    });
    const offState = b.onState?.((s) => {
      const st = s as ShellState;
      if (st && st.state === 'failed') {
        this.status = null;
        this.error = st.error;
      }
      soon();
    });
    // The desktop pushes each new status and each new problem; the poll stays for the rest
    // (uptime) and for a daemon too old to push.
    const offStatus = b.onStatus?.((s) => {
      this.token++;
      this.status = s;
      this.error = null;
      this.loading = false;
    });
    const offAttention = b.onAttention?.((a) => notices.push(a.text, 'warn', ATTENTION_LINK[a.kind]));
    const offNotice = b.onNotice((n: StreamNotice) => {
      if (n.kind === 'stream') this.stream = n.state;
      else if (n.kind === 'lagged') {
        notices.push(`The live stream skipped ${n.skipped} events (the window was too slow). Refresh to see them all.`, 'warn');
      }
    });
    if (b.kind === 'tauri') this.stream = 'open';
    return () => {
      clearInterval(timer);
      soon.cancel();
      offEvent();
      offState?.();
      offStatus?.();
      offAttention?.();
      offNotice();
    };
  }
}

export const daemon = new Daemon();

/** Where the user fixes each kind of problem. */
const ATTENTION_LINK: Record<Attention['kind'], Notice['link']> = {
  workflow_error: { href: href('workflows'), label: 'Workflows' },
  agent_offline: { href: href('overview'), label: 'Overview' },
  account_reconnect: { href: href('accounts'), label: 'Accounts' },
  unavailable: { href: href('logs'), label: 'Logs' },
};

class UiRequests {
  /** Incremented to ask the Events page to focus its search box. */
  focusSearch = $state(0);
  /** The event "Test a workflow with this event" carries to the dry-run panel. */
  dryRunEvent = $state.raw<StoredEvent | null>(null);
}

export const ui = new UiRequests();

/** Whether a keyboard event comes from a place where typing means text. */
export function isTyping(e: KeyboardEvent): boolean {
  const path = e.composedPath?.() ?? [];
  const t = (path[0] ?? e.target) as HTMLElement | null;
  if (!t || !(t instanceof HTMLElement)) return false;
  const tag = t.tagName;
  return tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || t.isContentEditable;
}
