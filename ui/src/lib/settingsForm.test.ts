import { describe, expect, it } from 'vitest';

import type { Settings } from './api';
import { changeFrom, fieldFor, formFrom, validate } from './settingsForm';

const saved: Settings = {
  ai: { provider: 'anthropic', model: 'claude', base_url: '', api_key_set: true },
  workflows: { handler_timeout: '30s', memory_limit: '64MiB' },
  store: { max_events: 100000, max_age: '720h' },
  web: { listen: '127.0.0.1:7777' },
  config_path: '/home/u/.config/sekia/sekia.toml',
  restart_required: [],
};

describe('settings form', () => {
  it('an untouched form is valid and changes nothing', () => {
    const f = formFrom(saved);
    expect(validate(f)).toEqual({});
    expect(changeFrom(saved, f)).toBeNull();
  });

  it('sends only what changed; the key is write-only', () => {
    const f = { ...formFrom(saved), ai_model: 'other', listen: '' };
    expect(changeFrom(saved, f)).toEqual({ ai: { model: 'other' }, web: { listen: '' } });
    expect(changeFrom(saved, { ...formFrom(saved), ai_api_key: ' sk-new ' })).toEqual({ ai: { api_key: 'sk-new' } });
    expect(changeFrom(saved, { ...formFrom(saved), ai_remove_key: true })).toEqual({ ai: { api_key: '' } });
  });

  it('always sends max_events with a store change', () => {
    expect(changeFrom(saved, { ...formFrom(saved), max_age: '24h' })).toEqual({ store: { max_events: 100000, max_age: '24h' } });
    expect(changeFrom(saved, { ...formFrom(saved), max_events: '5' })).toEqual({ store: { max_events: 5 } });
  });

  it('validates durations, sizes, counts, addresses and URLs', () => {
    const bad = {
      ...formFrom(saved),
      handler_timeout: '30',
      memory_limit: 'lots',
      max_events: '-1',
      max_age: '30 days',
      listen: 'localhost',
      ai_base_url: 'ftp://x',
    };
    expect(Object.keys(validate(bad)).sort()).toEqual(
      ['ai_base_url', 'handler_timeout', 'listen', 'max_age', 'max_events', 'memory_limit'].sort(),
    );
    expect(validate({ ...formFrom(saved), listen: '[::1]:8080', memory_limit: '128 MB' })).toEqual({});
    // The store needs both limits: no empty age, no zero count (the daemon refuses them too).
    expect(Object.keys(validate({ ...formFrom(saved), max_age: '', max_events: '0' })).sort()).toEqual(['max_age', 'max_events']);
    // What the daemon shows is what it reads back.
    expect(validate({ ...formFrom(saved), max_age: '720h0m0s', handler_timeout: '30s' })).toEqual({});
    expect(validate({ ...formFrom(saved), listen: '0.0.0.0:70000' })).toHaveProperty('listen');
  });

  it('maps API error fields to form fields', () => {
    expect(fieldFor('store.max_age')).toBe('max_age');
    expect(fieldFor('max_events')).toBe('max_events');
    expect(fieldFor('settings.web.listen')).toBe('listen');
    expect(fieldFor('unknown')).toBeNull();
    expect(fieldFor(null)).toBeNull();
  });
});
