// Windowing math of the virtual list (fixed row height): which rows to put in the DOM for a
// scroll position, and where to scroll to keep things in view. Pure, so it is unit-tested.

export interface WindowInput {
  /** The scroller's scrollTop, px. */
  scrollTop: number;
  /** The scroller's client height, px. */
  viewport: number;
  /** Height of every row, px (> 0). */
  rowHeight: number;
  /** Number of rows. */
  count: number;
  /** Extra rows rendered above and below the visible ones. */
  overscan?: number;
}

export interface VirtualWindow {
  /** First rendered row (inclusive). */
  start: number;
  /** Last rendered row (exclusive). */
  end: number;
  /** Top offset of the first rendered row, px. */
  offset: number;
  /** Height of the whole list, px. */
  total: number;
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/** The rows to render. `end - start` is bounded by the viewport, never by `count`. */
export function computeWindow({ scrollTop, viewport, rowHeight, count, overscan = 6 }: WindowInput): VirtualWindow {
  const h = rowHeight > 0 ? rowHeight : 1;
  const n = Math.max(0, Math.floor(count));
  const total = n * h;
  const maxTop = Math.max(0, total - Math.max(0, viewport));
  const top = clamp(Number.isFinite(scrollTop) ? scrollTop : 0, 0, maxTop);
  const first = Math.floor(top / h);
  const last = Math.ceil((top + Math.max(0, viewport)) / h);
  const start = clamp(first - overscan, 0, n);
  const end = clamp(last + overscan, start, n);
  return { start, end, offset: start * h, total };
}

/** The scrollTop that brings row `index` fully into view, moving as little as possible. */
export function scrollTopFor(index: number, rowHeight: number, scrollTop: number, viewport: number): number {
  const top = index * rowHeight;
  const bottom = top + rowHeight;
  if (top < scrollTop) return top;
  if (bottom > scrollTop + viewport) return Math.max(0, bottom - viewport);
  return scrollTop;
}

/**
 * After `added` rows were inserted above the current position, the scrollTop that keeps the rows
 * the reader is looking at in place. At the very top the list follows the newest rows instead.
 */
export function anchoredScrollTop(scrollTop: number, added: number, rowHeight: number): number {
  if (scrollTop <= 0 || added <= 0) return scrollTop;
  return scrollTop + added * rowHeight;
}

/** Whether the scroller is within `threshold` px of the end (time to load the next page). */
export function nearEnd(scrollTop: number, viewport: number, total: number, threshold = 400): boolean {
  return total > 0 && scrollTop + viewport >= total - threshold;
}

/** The row index to select after moving by `delta` (arrow keys, page keys), clamped. */
export function moveSelection(current: number, delta: number, count: number): number {
  if (count <= 0) return -1;
  if (current < 0) return delta >= 0 ? 0 : count - 1;
  return clamp(current + delta, 0, count - 1);
}
