// A value loaded from the backend: data, error and a loading flag, with stale answers ignored
// (only the latest `load` may set the result).

import { errorMessage } from './api';

export class Resource<T> {
  data = $state.raw<T | undefined>(undefined);
  error = $state<string | null>(null);
  loading = $state(false);
  /** Whether a first answer (data or error) arrived. */
  settled = $state(false);
  private token = 0;

  constructor(private fetcher: () => Promise<T>) {}

  /** Loads; `quiet` keeps the current data on screen (background refresh) without a spinner. */
  async load(opts: { quiet?: boolean } = {}): Promise<T | undefined> {
    const mine = ++this.token;
    if (!opts.quiet) this.loading = true;
    try {
      const v = await this.fetcher();
      if (mine === this.token) {
        this.data = v;
        this.error = null;
      }
      return v;
    } catch (e) {
      if (mine === this.token) this.error = errorMessage(e);
      return undefined;
    } finally {
      if (mine === this.token) {
        this.loading = false;
        this.settled = true;
      }
    }
  }

  set(v: T): void {
    this.token++;
    this.data = v;
    this.error = null;
    this.loading = false;
    this.settled = true;
  }
}

/** Calls `f` at most once per `ms` (trailing call guaranteed). */
export function throttle(f: () => void, ms: number): { (): void; cancel(): void } {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let last = 0;
  const run = () => {
    timer = null;
    last = Date.now();
    f();
  };
  const t = () => {
    if (timer) return;
    const wait = Math.max(0, last + ms - Date.now());
    timer = setTimeout(run, wait);
  };
  t.cancel = () => {
    if (timer) clearTimeout(timer);
    timer = null;
  };
  return t;
}
