import { describe, expect, it } from 'vitest';

import {
  formatBytes,
  formatCompact,
  formatCount,
  formatDurationMs,
  formatGoDuration,
  formatMicros,
  formatRelative,
  formatTime,
  parseGoDuration,
  parseGoTime,
  payloadPreview,
  plural,
  prettyJson,
  truncate,
} from './format';

describe('parseGoTime', () => {
  it('reads RFC3339Nano with any number of fractional digits', () => {
    expect(parseGoTime('2024-03-03T12:00:00Z')).toBe(Date.UTC(2024, 2, 3, 12));
    expect(parseGoTime('2024-03-03T12:00:00.123456789Z')).toBe(Date.UTC(2024, 2, 3, 12, 0, 0, 123));
    expect(parseGoTime('2024-03-03T12:00:00.5Z')).toBe(Date.UTC(2024, 2, 3, 12, 0, 0, 500));
  });
  it('applies offsets', () => {
    expect(parseGoTime('2024-03-03T14:00:00+02:00')).toBe(Date.UTC(2024, 2, 3, 12));
    expect(parseGoTime('2024-03-03T07:30:00.25-04:30')).toBe(Date.UTC(2024, 2, 3, 12, 0, 0, 250));
  });
  it('is null for Go zero time, empty and junk', () => {
    expect(parseGoTime('0001-01-01T00:00:00Z')).toBeNull();
    expect(parseGoTime('')).toBeNull();
    expect(parseGoTime(null)).toBeNull();
    expect(parseGoTime('yesterday')).toBeNull();
  });
});

describe('times', () => {
  const now = new Date(2024, 2, 3, 15, 0, 0).getTime();
  it('formatTime: clock today, month-day this year, full date before', () => {
    expect(formatTime(new Date(2024, 2, 3, 9, 5, 7).getTime(), now)).toBe('09:05:07');
    expect(formatTime(new Date(2024, 0, 14, 9, 5).getTime(), now)).toBe('Jan 14 09:05');
    expect(formatTime(new Date(2023, 11, 31, 23, 59).getTime(), now)).toBe('2023-12-31 23:59');
  });
  it('formatRelative', () => {
    expect(formatRelative(now - 2000, now)).toBe('just now');
    expect(formatRelative(now - 42_000, now)).toBe('42s ago');
    expect(formatRelative(now - 5 * 60_000, now)).toBe('5m ago');
    expect(formatRelative(now - 3 * 3_600_000, now)).toBe('3h ago');
    expect(formatRelative(now - 2 * 86_400_000, now)).toBe('2d ago');
    expect(formatRelative(now + 5 * 60_000, now)).toBe('in 5m');
    expect(formatRelative(null, now)).toBe('never');
  });
});

describe('durations', () => {
  it('formatDurationMs', () => {
    expect(formatDurationMs(850)).toBe('850 ms');
    expect(formatDurationMs(1234)).toBe('1.2 s');
    expect(formatDurationMs(42_000)).toBe('42 s');
    expect(formatDurationMs(184_000)).toBe('3m 4s');
    expect(formatDurationMs(180_000)).toBe('3m');
    expect(formatDurationMs(2 * 3_600_000 + 5 * 60_000)).toBe('2h 5m');
    expect(formatDurationMs(3 * 86_400_000 + 4 * 3_600_000)).toBe('3d 4h');
    expect(formatDurationMs(-1)).toBe('–');
  });
  it('formatMicros', () => {
    expect(formatMicros(120)).toBe('120 µs');
    expect(formatMicros(1300)).toBe('1.3 ms');
    expect(formatMicros(45_000)).toBe('45 ms');
    expect(formatMicros(2_000_000)).toBe('2.0 s');
  });
  it('parseGoDuration follows Go', () => {
    expect(parseGoDuration('1h2m3s')).toBe(3_723_000);
    expect(parseGoDuration('300ms')).toBe(300);
    expect(parseGoDuration('1.5s')).toBe(1500);
    expect(parseGoDuration('720h')).toBe(720 * 3_600_000);
    expect(parseGoDuration('-1m')).toBe(-60_000);
    expect(parseGoDuration('0')).toBe(0);
    expect(parseGoDuration('10µs')).toBeCloseTo(0.01);
    expect(parseGoDuration('1d')).toBeNull();
    expect(parseGoDuration('5')).toBeNull();
    expect(parseGoDuration('')).toBeNull();
    expect(parseGoDuration('1h junk')).toBeNull();
  });
  it('formatGoDuration', () => {
    expect(formatGoDuration('1h2m3s')).toBe('1h 2m');
    expect(formatGoDuration('45s')).toBe('45 s');
    expect(formatGoDuration('weird')).toBe('weird');
  });
});

describe('sizes and counts', () => {
  it('formatBytes', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(3.2 * 1024 * 1024)).toBe('3.2 MiB');
    expect(formatBytes(200 * 1024 * 1024)).toBe('200 MiB');
    expect(formatBytes(1024 ** 3)).toBe('1.0 GiB');
    expect(formatBytes(-5)).toBe('–');
  });
  it('formatCount and formatCompact', () => {
    expect(formatCount(1234567)).toBe('1,234,567');
    expect(formatCount(12)).toBe('12');
    expect(formatCompact(999)).toBe('999');
    expect(formatCompact(1234)).toBe('1.2k');
    expect(formatCompact(12_345)).toBe('12k');
    expect(formatCompact(1_500_000)).toBe('1.5M');
  });
  it('plural', () => {
    expect(plural(1, 'event')).toBe('1 event');
    expect(plural(2000, 'event')).toBe('2,000 events');
  });
});

describe('payloads', () => {
  it('payloadPreview compacts JSON, keeps raw text that does not parse, and cuts', () => {
    expect(payloadPreview('{ "a": 1,\n "b": "x" }')).toBe('{"a":1,"b":"x"}');
    expect(payloadPreview('{}')).toBe('');
    expect(payloadPreview('{"title":"cut', 100)).toBe('{"title":"cut');
    expect(payloadPreview(JSON.stringify({ s: 'x'.repeat(500) }), 20)).toHaveLength(20);
    expect(truncate('abcdef', 4)).toBe('abc…');
  });
  it('prettyJson', () => {
    expect(prettyJson('{"a":[1]}')).toEqual({ text: '{\n  "a": [\n    1\n  ]\n}', valid: true });
    expect(prettyJson('{oops')).toEqual({ text: '{oops', valid: false });
  });
});
