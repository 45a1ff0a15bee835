// The one place that picks the host. The rest of the UI imports `backend` from here and never
// `@tauri-apps/*` (a test enforces it).

import { browserHttpTransport, createHttpBackend } from './http';
import { createTauriBackend, isTauri } from './tauri';
import type { Backend } from './types';

export type { Backend, EventFilter, StreamNotice, UpdateChannel, UpdateInfo, UpdateStatus } from './types';
export { isTauri };

/** The backend for the page this code runs in. */
export function createBackend(): Backend {
  return isTauri() ? createTauriBackend() : createHttpBackend(browserHttpTransport());
}

let current: Backend | null = null;

/** The app-wide backend (created on first use; tests may replace it with `setBackend`). */
export function backend(): Backend {
  current ??= createBackend();
  return current;
}

export function setBackend(b: Backend): void {
  current = b;
}
