import { describe, expect, it } from 'vitest';

import { href, parseHash } from './route';

describe('hash routes', () => {
  it('parses pages, params and queries', () => {
    expect(parseHash('')).toEqual({ page: 'overview', param: null, query: {} });
    expect(parseHash('#/')).toEqual({ page: 'overview', param: null, query: {} });
    expect(parseHash('#/events')).toEqual({ page: 'events', param: null, query: {} });
    expect(parseHash('#/events/evt_123')).toEqual({ page: 'events', param: 'evt_123', query: {} });
    expect(parseHash('#/workflows/auto-label.lua?test=evt_1')).toEqual({
      page: 'workflows',
      param: 'auto-label.lua',
      query: { test: 'evt_1' },
    });
    expect(parseHash('#/settings')).toMatchObject({ page: 'settings' });
    expect(parseHash('#/logs')).toMatchObject({ page: 'logs' });
    expect(parseHash('#/accounts')).toMatchObject({ page: 'accounts' });
  });
  it('sends unknown pages to the overview', () => {
    expect(parseHash('#/nope/x')).toEqual({ page: 'overview', param: null, query: {} });
  });
  it('round-trips through href, encoding params', () => {
    const h = href('workflows', 'my flow.lua', { test: 'evt_1', empty: '', none: null });
    expect(h).toBe('#/workflows/my%20flow.lua?test=evt_1');
    expect(parseHash(h)).toEqual({ page: 'workflows', param: 'my flow.lua', query: { test: 'evt_1' } });
    expect(href('events')).toBe('#/events');
  });
});
