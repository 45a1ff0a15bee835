// Conversions between stored events, wire events and what a user pastes. Pure, tested.

import type { JsonValue, StoredEvent, WireEvent } from './api';

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

type Payload = WireEvent['payload'];

function isObject(v: unknown): v is Record<string, JsonValue> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The wire event of a stored one; fails for a truncated or non-object payload. */
export function storedToEvent(se: StoredEvent): Parsed<WireEvent> {
  if (se.truncated) return { ok: false, error: 'This event’s payload was truncated by the store, so it cannot be replayed in a dry run.' };
  let payload: unknown;
  try {
    payload = JSON.parse(se.payload);
  } catch {
    return { ok: false, error: 'This event’s payload is not valid JSON.' };
  }
  if (payload === null) payload = {};
  if (!isObject(payload)) return { ok: false, error: 'This event’s payload is not a JSON object.' };
  return {
    ok: true,
    value: { id: se.id, type: se.type, source: se.source, timestamp: se.timestamp, payload: payload as Payload },
  };
}

/** An example to paste over. */
export const SAMPLE_EVENT = JSON.stringify(
  {
    type: 'github.issue.opened',
    source: 'github',
    payload: {
      owner: 'octo',
      repo: 'hello',
      number: 42,
      title: 'Crash when saving',
      body: 'The app crashes with an exception.',
      author: 'mona',
      labels: [],
    },
  },
  null,
  2,
);

/**
 * A wire event from pasted JSON: `type` and `source` are required; `payload` defaults to `{}`,
 * `id` to a dry-run id and `timestamp` to `nowSecs`.
 */
export function parseEventJson(text: string, nowSecs: number = Math.floor(Date.now() / 1000)): Parsed<WireEvent> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return { ok: false, error: `Not valid JSON: ${e instanceof Error ? e.message : String(e)}` };
  }
  if (!isObject(v)) return { ok: false, error: 'The event must be a JSON object with "type", "source" and "payload".' };
  const type = v.type;
  const source = v.source;
  if (typeof type !== 'string' || type.trim() === '') return { ok: false, error: 'The event needs a "type" (a string such as "github.issue.opened").' };
  if (typeof source !== 'string' || source.trim() === '') return { ok: false, error: 'The event needs a "source" (a string such as "github").' };
  const payload = v.payload ?? {};
  if (!isObject(payload)) return { ok: false, error: '"payload" must be a JSON object.' };
  const ts = v.timestamp;
  if (ts !== undefined && (typeof ts !== 'number' || !Number.isInteger(ts))) {
    return { ok: false, error: '"timestamp" must be whole Unix seconds.' };
  }
  const id = typeof v.id === 'string' && v.id ? v.id : 'evt_dry_run';
  return { ok: true, value: { id, type, source, timestamp: ts ?? nowSecs, payload: payload as Payload } };
}

/** The JSON text of a wire event, for the paste box. */
export function eventToJson(ev: WireEvent): string {
  return JSON.stringify({ type: ev.type, source: ev.source, timestamp: ev.timestamp, payload: ev.payload }, null, 2);
}

/** `auto-label` → `auto-label.lua`; rejects names with a path or odd characters. */
export function workflowFileName(input: string): Parsed<string> {
  let name = input.trim();
  if (!name) return { ok: false, error: 'Give the workflow a file name.' };
  if (!name.toLowerCase().endsWith('.lua')) name += '.lua';
  const stem = name.slice(0, -4);
  if (!stem) return { ok: false, error: 'Give the workflow a file name.' };
  if (/[\\/]/.test(name) || name.startsWith('.')) return { ok: false, error: 'Just a file name, without a folder.' };
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(stem)) {
    return { ok: false, error: 'Use letters, digits, dots, dashes and underscores.' };
  }
  return { ok: true, value: name };
}

/** The file name of a loaded workflow (`file_path`'s base name, or `<name>.lua`). */
export function workflowFile(w: { name: string; file_path?: string }): string {
  const p = w.file_path ?? '';
  const base = p.split(/[\\/]/).pop() ?? '';
  return base || `${w.name}.lua`;
}
