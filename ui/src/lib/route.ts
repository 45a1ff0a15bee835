// Hash routes: #/overview, #/events, #/events/<id>, #/workflows, #/workflows/<name>, #/accounts,
// #/settings, #/logs, with an optional query (#/workflows/a.lua?test=<event id>). Pure, tested.

export const PAGES = ['overview', 'events', 'workflows', 'accounts', 'settings', 'logs'] as const;
export type Page = (typeof PAGES)[number];

export interface Route {
  page: Page;
  /** The path segment after the page (an event id, a workflow file name), decoded. */
  param: string | null;
  query: Record<string, string>;
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Parses `location.hash`. Anything unknown is the overview. */
export function parseHash(hash: string): Route {
  let h = hash.startsWith('#') ? hash.slice(1) : hash;
  let queryText = '';
  const qi = h.indexOf('?');
  if (qi >= 0) {
    queryText = h.slice(qi + 1);
    h = h.slice(0, qi);
  }
  const parts = h.split('/').filter((p) => p !== '');
  const first = parts[0] ?? 'overview';
  const page = (PAGES as readonly string[]).includes(first) ? (first as Page) : 'overview';
  const param = page === first && parts.length > 1 ? decode(parts.slice(1).join('/')) : null;
  const query: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(queryText)) query[k] = v;
  return { page, param, query };
}

/** The hash of a route: `href('events', id)` → `#/events/<id>`. */
export function href(page: Page, param?: string | null, query?: Record<string, string | undefined | null>): string {
  let h = `#/${page}`;
  if (param) h += `/${encodeURIComponent(param)}`;
  if (query) {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') p.set(k, v);
    const s = p.toString();
    if (s) h += `?${s}`;
  }
  return h;
}
