// The backend seam: everything the UI asks of sekia goes through one `Backend`. Two hosts
// implement it: the desktop shell over Tauri IPC (`tauri.ts`) and the daemon's dashboard over
// HTTP + Server-Sent Events (`http.ts`). Nothing outside this folder knows which one it is
// talking to, beyond `kind` (to show desktop-only settings).

import type { ArgsParam, Attention, Cmd, ResultOf, StatusInfo, StoredEvent } from '../api';
import type { EventFilter } from '../filters';

export type { EventFilter };

/** Something about the live stream the user should know. */
export type StreamNotice =
  /** The server dropped events because this client was too slow (`lagged` SSE event). */
  | { kind: 'lagged'; skipped: number }
  /** The stream connected, or lost its connection (it reconnects by itself). */
  | { kind: 'stream'; state: 'open' | 'error' };

/** What the desktop app's updater is doing (`sekia:update`; the shell's `UpdateStatus`). */
export type UpdateStatus =
  /** A development build: it does not update itself. */
  | { state: 'unsupported' }
  /** No update known; how the last check went (`checked_at`: Unix seconds). */
  | { state: 'up_to_date'; checked_at: number | null; error: string | null }
  | { state: 'checking' }
  /** A newer release; `error` is why the last install attempt failed. */
  | { state: 'available'; version: string; notes: string | null; error: string | null }
  | { state: 'downloading'; version: string; downloaded: number; total: number | null }
  | { state: 'installing'; version: string };

export type UpdateChannel = 'stable' | 'beta';

/** The updater's status and settings (the shell's `updates` command). */
export interface UpdateInfo {
  status: UpdateStatus;
  current_version: string;
  channel: UpdateChannel;
  check_automatically: boolean;
  /** The release feed asked. */
  feed: string;
}

export interface Backend {
  /** Which host this is. Desktop-only features (start at login) check it. */
  readonly kind: 'tauri' | 'http';
  /** One RPC call, typed by the generated contract. Rejects with an `ApiError`. */
  call<C extends Cmd>(cmd: C, ...args: ArgsParam<C>): Promise<ResultOf<C>>;
  /** Live events, as they are committed to history. Returns the unsubscribe function. */
  onEvent(cb: (e: StoredEvent) => void, filter?: EventFilter): () => void;
  /** The embedded daemon's state (desktop only: Tauri event `sekia:state`). */
  onState?(cb: (s: unknown) => void): () => void;
  /** The daemon's status each time it changes (desktop only: Tauri event `sekia:status`). */
  onStatus?(cb: (s: StatusInfo) => void): () => void;
  /** Each problem as it appears (desktop only: Tauri event `sekia:attention`). */
  onAttention?(cb: (a: Attention) => void): () => void;
  /** Opens a URL in the system browser (sign-in pages, links). */
  openUrl(url: string): Promise<void>;
  /** Notices about the live stream (lag, connection). */
  onNotice(cb: (n: StreamNotice) => void): () => void;
  /**
   * Start at login (desktop only: the shell's own `autostart` / `set_autostart` commands, not
   * daemon calls). Absent in a browser.
   */
  autostart?: {
    get(): Promise<boolean>;
    set(enabled: boolean): Promise<boolean>;
  };
  /**
   * The desktop app's own updates (desktop only: the shell's update commands and the
   * `sekia:update` event). Absent in a browser: the dashboard is served by a sekiad that is
   * updated with the desktop app or its package, not from the page.
   */
  updates?: {
    info(): Promise<UpdateInfo>;
    /** Asks the release feed now; resolves with what it found. */
    check(): Promise<UpdateInfo>;
    /** Downloads, verifies and installs the update found; the app then restarts. */
    install(): Promise<void>;
    configure(channel: UpdateChannel, checkAutomatically: boolean): Promise<UpdateInfo>;
    onStatus(cb: (s: UpdateStatus) => void): () => void;
  };
}
