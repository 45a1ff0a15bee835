// Event and command filters: the same rules on the client (live events) as in the store
// (history), so a filter shows the same rows whether an event arrived live or was searched.

import type { CommandQuery, EventQuery } from './api';

/** What the Events page filters on. Empty strings mean "any". */
export interface EventFilter {
  source?: string;
  type?: string;
}

/** Whether a type filter uses the store's glob characters. */
export function isGlob(pattern: string): boolean {
  return /[*?]/.test(pattern);
}

const globCache = new Map<string, RegExp>();

/**
 * The store's type glob: `*` matches any run of characters (dots included), `?` exactly one;
 * everything else is literal; matching is case-sensitive and anchored.
 */
export function globToRegExp(glob: string): RegExp {
  let re = globCache.get(glob);
  if (re) return re;
  let src = '^';
  for (const ch of glob) {
    if (ch === '*') src += '.*';
    else if (ch === '?') src += '.';
    else src += ch.replace(/[.+^${}()|[\]\\/-]/g, '\\$&');
  }
  re = new RegExp(src + '$', 's');
  if (globCache.size > 200) globCache.clear();
  globCache.set(glob, re);
  return re;
}

export function matchesGlob(value: string, glob: string): boolean {
  return isGlob(glob) ? globToRegExp(glob).test(value) : value === glob;
}

/** Trims and drops empty fields. */
export function normalizeFilter(f: EventFilter | undefined): EventFilter {
  const out: EventFilter = {};
  const source = f?.source?.trim();
  const type = f?.type?.trim();
  if (source) out.source = source;
  if (type) out.type = type;
  return out;
}

export function isEmptyFilter(f: EventFilter | undefined): boolean {
  const n = normalizeFilter(f);
  return n.source === undefined && n.type === undefined;
}

/** Whether an event (stored or live) passes a filter: exact source, type glob. */
export function matchesFilter(ev: { source: string; type: string }, f: EventFilter | undefined): boolean {
  const n = normalizeFilter(f);
  if (n.source !== undefined && ev.source !== n.source) return false;
  if (n.type !== undefined && !matchesGlob(ev.type, n.type)) return false;
  return true;
}

/** The `events` query for a filter and search text, with only the fields that are set. */
export function buildEventQuery(
  f: EventFilter | undefined,
  q?: string,
  extra: { limit?: number; cursor?: string | null; since?: number; until?: number } = {},
): EventQuery {
  const n = normalizeFilter(f);
  const query: EventQuery = {};
  if (n.source !== undefined) query.source = n.source;
  if (n.type !== undefined) query.event_type = n.type;
  const text = q?.trim();
  if (text) query.q = text;
  if (extra.since !== undefined) query.since = extra.since;
  if (extra.until !== undefined) query.until = extra.until;
  if (extra.limit !== undefined) query.limit = extra.limit;
  if (extra.cursor) query.cursor = extra.cursor;
  return query;
}

/** The `commands` query that lists what happened after an event. */
export function commandsAfterEvent(timestamp: number, limit = 20): CommandQuery {
  return { since: timestamp, limit };
}

/** The query string of the live stream (`/api/v1/events/stream?…`), empty for no filter. */
export function streamQueryString(f: EventFilter | undefined): string {
  const n = normalizeFilter(f);
  const p = new URLSearchParams();
  if (n.source !== undefined) p.set('source', n.source);
  if (n.type !== undefined) p.set('type', n.type);
  const s = p.toString();
  return s ? '?' + s : '';
}

/** A stable key for a filter, e.g. to share one stream between subscribers. */
export function filterKey(f: EventFilter | undefined): string {
  const n = normalizeFilter(f);
  return JSON.stringify([n.source ?? null, n.type ?? null]);
}

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

/** Whether a log line's level is at or above a minimum level (error > warn > info > debug). */
export function levelAtLeast(level: string, min: LogLevelName | '' | undefined): boolean {
  if (!min) return true;
  const rank = (l: string) => {
    const i = LOG_LEVELS.indexOf(l.toLowerCase() as LogLevelName);
    return i < 0 ? LOG_LEVELS.indexOf('info') : i;
  };
  return rank(level) <= rank(min);
}

/** Case-insensitive "all words appear" filter over some fields (used for client-side search). */
export function matchesWords(haystack: string[], query: string): boolean {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return true;
  const text = haystack.join('\n').toLowerCase();
  return words.every((w) => text.includes(w));
}

/**
 * NATS subject matching, as the workflow engine routes events to handlers: tokens are split on
 * `.`, `*` matches exactly one token, `>` (last) matches one or more.
 */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return i === p.length - 1 && s.length > i;
    if (i >= s.length) return false;
    if (p[i] !== '*' && p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}
