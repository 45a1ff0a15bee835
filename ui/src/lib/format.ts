// Formatting of times, durations, sizes and payloads. Pure functions; `now` is passed in where
// the result depends on it, so tests need no clock.

/** Go's zero `time.Time`, which sekia sends for "never". */
export const GO_ZERO_TIME = '0001-01-01T00:00:00Z';

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?$/;

/**
 * Parses Go's RFC3339Nano text (any number of fractional digits, `Z` or an offset) into Unix
 * milliseconds. Returns null for Go's zero time, before 1970-01-02, or anything unparsable.
 */
export function parseGoTime(text: string | null | undefined): number | null {
  if (!text) return null;
  const m = RFC3339.exec(text.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac, z, sign, oh, om] = m;
  const ms = frac ? Number((frac + '00').slice(0, 3)) : 0;
  let t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  if (!z && sign) {
    const off = (Number(oh) * 60 + Number(om)) * 60_000;
    t += sign === '+' ? -off : off;
  }
  if (!Number.isFinite(t) || t < 86_400_000) return null;
  return t;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** `14:03:22` (local time). */
export function formatClock(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `14:03:22` today, `Mar 3 14:03` this year, `2023-03-03 14:03` otherwise (local time). */
export function formatTime(ms: number, now: number = Date.now()): string {
  const d = new Date(ms);
  const n = new Date(now);
  if (d.getFullYear() === n.getFullYear() && d.getMonth() === n.getMonth() && d.getDate() === n.getDate()) {
    return formatClock(ms);
  }
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  if (d.getFullYear() === n.getFullYear()) return `${MONTHS[d.getMonth()]} ${d.getDate()} ${hm}`;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hm}`;
}

/** `2024-03-03 14:03:22.125` (local time), for detail views and tooltips. */
export function formatDateTime(ms: number): string {
  const d = new Date(ms);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`
  );
}

/** `just now`, `42s ago`, `5m ago`, `3h ago`, `2d ago`, `in 5m`; `never` for null. */
export function formatRelative(ms: number | null, now: number = Date.now()): string {
  if (ms === null) return 'never';
  const diff = now - ms;
  const future = diff < 0;
  const s = Math.abs(diff) / 1000;
  if (s < 5) return 'just now';
  let text: string;
  if (s < 60) text = `${Math.floor(s)}s`;
  else if (s < 3600) text = `${Math.floor(s / 60)}m`;
  else if (s < 86400) text = `${Math.floor(s / 3600)}h`;
  else if (s < 86400 * 365) text = `${Math.floor(s / 86400)}d`;
  else text = `${Math.floor(s / (86400 * 365))}y`;
  return future ? `in ${text}` : `${text} ago`;
}

/** `850 ms`, `1.2 s`, `3m 4s`, `2h 5m`, `3d 4h`. */
export function formatDurationMs(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  const total = Math.floor(ms / 1000);
  if (total < 60) return `${total} s`;
  const d = Math.floor(total / 86400);
  const h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (d > 0) return h ? `${d}d ${h}h` : `${d}d`;
  if (h > 0) return m ? `${h}h ${m}m` : `${h}h`;
  return s ? `${m}m ${s}s` : `${m}m`;
}

/** Microseconds: `120 µs`, `1.3 ms`, `2.0 s`. */
export function formatMicros(us: number): string {
  if (!Number.isFinite(us) || us < 0) return '–';
  if (us < 1000) return `${Math.round(us)} µs`;
  if (us < 1_000_000) return `${(us / 1000).toFixed(us < 10_000 ? 1 : 0)} ms`;
  return `${(us / 1_000_000).toFixed(1)} s`;
}

const GO_UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3,
  'μs': 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Parses a Go duration (`1h2m3.5s`, `300ms`, `-1m`, `0s`) into milliseconds; null if invalid. */
export function parseGoDuration(text: string | null | undefined): number | null {
  if (text === null || text === undefined) return null;
  let s = text.trim();
  if (s === '') return null;
  let sign = 1;
  if (s[0] === '-' || s[0] === '+') {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * (GO_UNITS[m[2]!] ?? 0);
    consumed = re.lastIndex;
  }
  if (consumed === 0 || consumed !== s.length) return null;
  return sign * total;
}

/** A Go duration shown for people: `1h2m3s` → `1h 2m 3s` (unparsable text is returned as is). */
export function formatGoDuration(text: string): string {
  const ms = parseGoDuration(text);
  if (ms === null) return text;
  return formatDurationMs(ms);
}

/** `0 B`, `512 B`, `1.5 KiB`, `3.2 MiB`, `1.0 GiB`. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '–';
  if (n < 1024) return `${Math.round(n)} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = -1;
  do {
    v /= 1024;
    i++;
  } while (v >= 1024 && i < units.length - 1);
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** `1,234,567` */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return '–';
  return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** `999`, `1.2k`, `12k`, `1.5M`. */
export function formatCompact(n: number): string {
  if (!Number.isFinite(n)) return '–';
  const a = Math.abs(n);
  if (a < 1000) return String(Math.round(n));
  if (a < 1_000_000) return `${(n / 1000).toFixed(a < 10_000 ? 1 : 0)}k`;
  return `${(n / 1_000_000).toFixed(a < 10_000_000 ? 1 : 0)}M`;
}

/** Cuts text to `max` characters with an ellipsis. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  return text.slice(0, Math.max(0, max - 1)) + '…';
}

/**
 * A one-line preview of a JSON payload text: compact JSON without the outer braces noise,
 * falling back to the raw text (e.g. a truncated payload). Cut to `max` characters.
 */
export function payloadPreview(payload: string, max = 240): string {
  let text = payload;
  if (payload.length < 200_000) {
    try {
      text = JSON.stringify(JSON.parse(payload));
    } catch {
      // not JSON (truncated): show as stored
    }
  }
  if (text === '{}' || text === 'null') return '';
  return truncate(text.replace(/\s+/g, ' '), max);
}

/** Pretty-printed JSON text for a payload string; the raw text when it does not parse. */
export function prettyJson(payload: string): { text: string; valid: boolean } {
  try {
    return { text: JSON.stringify(JSON.parse(payload), null, 2), valid: true };
  } catch {
    return { text: payload, valid: false };
  }
}

/** `1 event`, `2 events`. */
export function plural(n: number, one: string, many = one + 's'): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}
