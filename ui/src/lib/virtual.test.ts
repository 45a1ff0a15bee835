import { describe, expect, it } from 'vitest';

import { anchoredScrollTop, computeWindow, moveSelection, nearEnd, scrollTopFor } from './virtual';

describe('computeWindow', () => {
  it('renders the visible rows plus overscan', () => {
    const w = computeWindow({ scrollTop: 0, viewport: 320, rowHeight: 32, count: 100_000, overscan: 5 });
    expect(w).toEqual({ start: 0, end: 15, offset: 0, total: 3_200_000 });
  });

  it('stays small anywhere in 100,000 rows', () => {
    for (const top of [0, 1234, 1_600_000, 3_199_680, 10_000_000]) {
      const w = computeWindow({ scrollTop: top, viewport: 600, rowHeight: 32, count: 100_000, overscan: 8 });
      expect(w.end - w.start).toBeLessThanOrEqual(Math.ceil(600 / 32) + 1 + 16);
      expect(w.start).toBeGreaterThanOrEqual(0);
      expect(w.end).toBeLessThanOrEqual(100_000);
      expect(w.offset).toBe(w.start * 32);
    }
  });

  it('in the middle: first visible row minus overscan', () => {
    const w = computeWindow({ scrollTop: 3200, viewport: 320, rowHeight: 32, count: 1000, overscan: 2 });
    expect(w.start).toBe(98);
    expect(w.end).toBe(112);
    expect(w.offset).toBe(98 * 32);
  });

  it('clamps a scrollTop past the end (rows removed under the reader)', () => {
    const w = computeWindow({ scrollTop: 99_999, viewport: 320, rowHeight: 32, count: 20, overscan: 2 });
    expect(w.end).toBe(20);
    expect(w.start).toBeLessThan(20);
    expect(w.total).toBe(640);
  });

  it('handles empty and degenerate input', () => {
    expect(computeWindow({ scrollTop: 0, viewport: 500, rowHeight: 32, count: 0 })).toEqual({ start: 0, end: 0, offset: 0, total: 0 });
    const w = computeWindow({ scrollTop: Number.NaN, viewport: 0, rowHeight: 0, count: 10, overscan: 0 });
    expect(w.start).toBe(0);
    expect(w.end).toBeLessThanOrEqual(10);
  });
});

describe('scrolling helpers', () => {
  it('scrollTopFor scrolls the least to show a row', () => {
    expect(scrollTopFor(0, 32, 100, 320)).toBe(0); // above: align top
    expect(scrollTopFor(20, 32, 0, 320)).toBe(21 * 32 - 320); // below: align bottom
    expect(scrollTopFor(5, 32, 64, 320)).toBe(64); // visible: stay
  });
  it('anchoredScrollTop keeps rows in place unless at the very top', () => {
    expect(anchoredScrollTop(0, 10, 32)).toBe(0);
    expect(anchoredScrollTop(640, 10, 32)).toBe(960);
    expect(anchoredScrollTop(640, 0, 32)).toBe(640);
  });
  it('nearEnd', () => {
    expect(nearEnd(0, 500, 3200, 400)).toBe(false);
    expect(nearEnd(2400, 500, 3200, 400)).toBe(true);
    expect(nearEnd(0, 500, 0)).toBe(false);
  });
  it('moveSelection clamps and starts from the ends', () => {
    expect(moveSelection(-1, 1, 10)).toBe(0);
    expect(moveSelection(-1, -1, 10)).toBe(9);
    expect(moveSelection(5, 10, 10)).toBe(9);
    expect(moveSelection(5, -10, 10)).toBe(0);
    expect(moveSelection(0, 1, 0)).toBe(-1);
  });
});
