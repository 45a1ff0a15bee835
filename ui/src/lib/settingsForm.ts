// The Settings form: its editable values, validation, and the change to send (only what
// differs from the saved settings). Pure, tested.

import type { Settings, SettingsPatch } from './api';
import { parseGoDuration } from './format';

export interface SettingsForm {
  ai_provider: string;
  ai_model: string;
  ai_base_url: string;
  /** A new key to store ('' = leave as is, unless `ai_remove_key`). Write-only. */
  ai_api_key: string;
  ai_remove_key: boolean;
  handler_timeout: string;
  memory_limit: string;
  max_events: string;
  max_age: string;
  listen: string;
}

export function formFrom(s: Settings): SettingsForm {
  return {
    ai_provider: s.ai.provider,
    ai_model: s.ai.model,
    ai_base_url: s.ai.base_url,
    ai_api_key: '',
    ai_remove_key: false,
    handler_timeout: s.workflows.handler_timeout,
    memory_limit: s.workflows.memory_limit,
    max_events: String(s.store.max_events),
    max_age: s.store.max_age,
    listen: s.web.listen,
  };
}

export type FieldErrors = Partial<Record<keyof SettingsForm, string>>;

const SIZE = /^\d+(\.\d+)?\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?$/i;
const LISTEN = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]*):\d{1,5}$/i;

export function validate(f: SettingsForm): FieldErrors {
  const e: FieldErrors = {};
  const t = parseGoDuration(f.handler_timeout);
  if (t === null || t <= 0) e.handler_timeout = 'A duration such as 30s or 1m.';
  if (!SIZE.test(f.memory_limit.trim())) e.memory_limit = 'A size such as 64MiB.';
  const n = Number(f.max_events.trim());
  if (f.max_events.trim() === '' || !Number.isInteger(n) || n < 1) e.max_events = 'A whole number of events, at least 1.';
  const a = parseGoDuration(f.max_age);
  if (a === null || a <= 0) e.max_age = 'A duration such as 720h (30 days).';
  const l = f.listen.trim();
  if (l !== '') {
    const port = Number(l.slice(l.lastIndexOf(':') + 1));
    if (!LISTEN.test(l) || !(port > 0 && port < 65536)) e.listen = 'host:port, e.g. 127.0.0.1:7777 (empty turns the dashboard off).';
  }
  if (f.ai_base_url.trim() !== '' && !/^https?:\/\/\S+$/i.test(f.ai_base_url.trim())) {
    e.ai_base_url = 'A URL starting with http:// or https://.';
  }
  return e;
}

/** The change to save: the sections and fields that differ from `saved`; null when none. */
export function changeFrom(saved: Settings, f: SettingsForm): SettingsPatch | null {
  const change: SettingsPatch = {};
  const ai: NonNullable<SettingsPatch['ai']> = {};
  if (f.ai_provider.trim() !== saved.ai.provider) ai.provider = f.ai_provider.trim();
  if (f.ai_model.trim() !== saved.ai.model) ai.model = f.ai_model.trim();
  if (f.ai_base_url.trim() !== saved.ai.base_url) ai.base_url = f.ai_base_url.trim();
  if (f.ai_api_key.trim() !== '') ai.api_key = f.ai_api_key.trim();
  else if (f.ai_remove_key && saved.ai.api_key_set) ai.api_key = '';
  if (Object.keys(ai).length) change.ai = ai;

  const wf: NonNullable<SettingsPatch['workflows']> = {};
  if (f.handler_timeout.trim() !== saved.workflows.handler_timeout) wf.handler_timeout = f.handler_timeout.trim();
  if (f.memory_limit.trim() !== saved.workflows.memory_limit) wf.memory_limit = f.memory_limit.trim();
  if (Object.keys(wf).length) change.workflows = wf;

  const maxEvents = Number(f.max_events.trim());
  const maxAgeChanged = f.max_age.trim() !== saved.store.max_age;
  if (maxEvents !== saved.store.max_events || maxAgeChanged) {
    // `max_events` is not optional in the generated StoreChange: always send it.
    change.store = maxAgeChanged ? { max_events: maxEvents, max_age: f.max_age.trim() } : { max_events: maxEvents };
  }

  if (f.listen.trim() !== saved.web.listen) change.web = { listen: f.listen.trim() };

  return Object.keys(change).length ? change : null;
}

/** Which form field an API error's `field` names (`store.max_age`, `max_age`, `ai.api_key`…). */
export function fieldFor(apiField: string | null): keyof SettingsForm | null {
  if (!apiField) return null;
  const f = apiField.replace(/^(settings\.)/, '');
  const map: Record<string, keyof SettingsForm> = {
    'ai.provider': 'ai_provider',
    'ai.model': 'ai_model',
    'ai.base_url': 'ai_base_url',
    'ai.api_key': 'ai_api_key',
    'workflows.handler_timeout': 'handler_timeout',
    'workflows.memory_limit': 'memory_limit',
    'store.max_events': 'max_events',
    'store.max_age': 'max_age',
    'web.listen': 'listen',
  };
  if (map[f]) return map[f];
  const tail = f.split('.').pop() ?? f;
  for (const [k, v] of Object.entries(map)) if (k.endsWith('.' + tail)) return v;
  return null;
}
