import { describe, expect, it } from 'vitest';

import { EventBuffer, MAX_ROWS } from './eventBuffer';

const ev = (id: string | number) => ({ id: String(id) });
const ids = (b: EventBuffer<{ id: string }>) => b.slice(b.length).map((e) => e.id);

describe('EventBuffer', () => {
  it('is newest first: live rows on top (latest first), then history pages', () => {
    const b = new EventBuffer<{ id: string }>(100);
    b.appendOlder([ev(10), ev(9)]);
    b.appendOlder([ev(8)]);
    b.prepend(ev(11));
    b.prepend(ev(12), ev(13));
    expect(ids(b)).toEqual(['13', '12', '11', '10', '9', '8']);
    expect(b.get(0)!.id).toBe('13');
    expect(b.get(5)!.id).toBe('8');
    expect(b.get(6)).toBeUndefined();
    expect(b.get(-1)).toBeUndefined();
  });

  it('drops duplicates (seen live, then in a page)', () => {
    const b = new EventBuffer<{ id: string }>(100);
    expect(b.prepend(ev(1), ev(2))).toBe(2);
    expect(b.appendOlder([ev(2), ev(1), ev(0)])).toBe(1);
    expect(b.prepend(ev(2))).toBe(0);
    expect(ids(b)).toEqual(['2', '1', '0']);
  });

  it('caps the rows, dropping the oldest first', () => {
    const b = new EventBuffer<{ id: string }>(5);
    b.appendOlder([ev('h3'), ev('h2'), ev('h1')]);
    b.prepend(ev('l1'), ev('l2'), ev('l3'));
    expect(b.length).toBe(5);
    expect(ids(b)).toEqual(['l3', 'l2', 'l1', 'h3', 'h2']);
    expect(b.trimmedOlder).toBe(true);
    b.prepend(ev('l4'), ev('l5'), ev('l6'), ev('l7'));
    expect(ids(b)).toEqual(['l7', 'l6', 'l5', 'l4', 'l3']);
    // Trimmed ids may come back.
    expect(b.has('h1')).toBe(false);
    expect(b.has('l3')).toBe(true);
  });

  it('holds 100,000 live rows and stays at the cap past it', () => {
    const b = new EventBuffer<{ id: string }>();
    expect(b.cap).toBe(MAX_ROWS);
    for (let i = 0; i < MAX_ROWS + 5000; i++) b.prepend(ev(i));
    expect(b.length).toBe(MAX_ROWS);
    expect(b.get(0)!.id).toBe(String(MAX_ROWS + 4999));
    expect(b.get(MAX_ROWS - 1)!.id).toBe('5000');
  });

  it('bumps its version on change only, and clears', () => {
    const b = new EventBuffer<{ id: string }>(10);
    const v0 = b.version;
    b.prepend(ev(1));
    expect(b.version).toBe(v0 + 1);
    b.prepend(ev(1));
    expect(b.version).toBe(v0 + 1);
    b.clear();
    expect(b.length).toBe(0);
    expect(b.has('1')).toBe(false);
    expect(b.trimmedOlder).toBe(false);
  });
});
