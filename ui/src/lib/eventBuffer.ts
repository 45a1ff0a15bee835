// The Events page's in-memory rows, newest first: live events prepended in O(1), older history
// pages appended, duplicates (an event seen live and again in a page) dropped, and a hard cap
// (100,000 rows) so a long-running window cannot grow without bound.

export const MAX_ROWS = 100_000;

interface Keyed {
  id: string;
}

export class EventBuffer<T extends Keyed> {
  /** Live rows in arrival order (oldest first); rows before `head` were trimmed. */
  private live: T[] = [];
  private head = 0;
  /** History rows, newest first (pages appended at the end). */
  private older: T[] = [];
  private ids = new Set<string>();
  /** Incremented on every change (cheap reactivity for a list that is never copied). */
  version = 0;
  /** Set when older rows were dropped by the cap (paging further would leave a gap). */
  trimmedOlder = false;

  constructor(readonly cap: number = MAX_ROWS) {}

  get length(): number {
    return this.live.length - this.head + this.older.length;
  }

  /** Row `i`, 0 = newest. */
  get(i: number): T | undefined {
    const liveLen = this.live.length - this.head;
    if (i < 0) return undefined;
    if (i < liveLen) return this.live[this.live.length - 1 - i];
    return this.older[i - liveLen];
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }

  /** Adds newer rows (in arrival order) at the top; returns how many were new. */
  prepend(...rows: T[]): number {
    let added = 0;
    for (const r of rows) {
      if (this.ids.has(r.id)) continue;
      this.ids.add(r.id);
      this.live.push(r);
      added++;
    }
    if (added) this.afterChange();
    return added;
  }

  /** Adds an older page (newest first) at the bottom; returns how many were new. */
  appendOlder(rows: T[]): number {
    let added = 0;
    for (const r of rows) {
      if (this.ids.has(r.id)) continue;
      this.ids.add(r.id);
      this.older.push(r);
      added++;
    }
    if (added) this.afterChange();
    return added;
  }

  clear(): void {
    this.live = [];
    this.head = 0;
    this.older = [];
    this.ids.clear();
    this.trimmedOlder = false;
    this.version++;
  }

  /** The first `n` rows, newest first (a small copy, for lists that are not virtualized). */
  slice(n: number): T[] {
    const out: T[] = [];
    const len = Math.min(n, this.length);
    for (let i = 0; i < len; i++) out.push(this.get(i)!);
    return out;
  }

  private afterChange(): void {
    let excess = this.length - this.cap;
    if (excess > 0) {
      // Oldest first: the end of the history pages, then the start of the live rows.
      const fromOlder = Math.min(excess, this.older.length);
      if (fromOlder > 0) {
        for (const r of this.older.splice(this.older.length - fromOlder, fromOlder)) this.ids.delete(r.id);
        this.trimmedOlder = true;
        excess -= fromOlder;
      }
      if (excess > 0) {
        for (let k = 0; k < excess; k++) this.ids.delete(this.live[this.head + k]!.id);
        this.head += excess;
        this.trimmedOlder = true;
      }
      // Compact now and then so the trimmed prefix does not keep memory alive.
      if (this.head > 1024 && this.head > this.live.length / 2) {
        this.live = this.live.slice(this.head);
        this.head = 0;
      }
    }
    this.version++;
  }
}
