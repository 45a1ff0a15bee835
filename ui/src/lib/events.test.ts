import { describe, expect, it } from 'vitest';

import { parseEventJson, SAMPLE_EVENT, storedToEvent, workflowFile, workflowFileName, eventToJson } from './events';

const stored = {
  seq: 3,
  subject: 'sekia.events.github',
  id: 'evt_1',
  type: 'github.issue.opened',
  source: 'github',
  timestamp: 1700000000,
  payload: '{"title":"Crash"}',
  truncated: false,
  received_at_ms: 1700000000123,
  replayed_from: null,
};

describe('storedToEvent', () => {
  it('parses the payload text back into the wire event', () => {
    expect(storedToEvent(stored)).toEqual({
      ok: true,
      value: { id: 'evt_1', type: 'github.issue.opened', source: 'github', timestamp: 1700000000, payload: { title: 'Crash' } },
    });
    expect(storedToEvent({ ...stored, payload: 'null' })).toMatchObject({ ok: true, value: { payload: {} } });
  });
  it('refuses truncated, invalid and non-object payloads', () => {
    expect(storedToEvent({ ...stored, truncated: true }).ok).toBe(false);
    expect(storedToEvent({ ...stored, payload: '{"a":' }).ok).toBe(false);
    expect(storedToEvent({ ...stored, payload: '[1]' }).ok).toBe(false);
  });
});

describe('parseEventJson', () => {
  it('accepts the sample and fills id and timestamp', () => {
    const p = parseEventJson(SAMPLE_EVENT, 42);
    expect(p.ok).toBe(true);
    if (p.ok) {
      expect(p.value.id).toBe('evt_dry_run');
      expect(p.value.timestamp).toBe(42);
      expect(p.value.source).toBe('github');
    }
  });
  it('round-trips eventToJson', () => {
    const ev = { id: 'x', type: 't', source: 's', timestamp: 5, payload: { a: 1 } };
    expect(parseEventJson(eventToJson(ev), 0)).toEqual({ ok: true, value: { ...ev, id: 'evt_dry_run' } });
  });
  it('explains what is wrong', () => {
    expect(parseEventJson('{')).toMatchObject({ ok: false, error: expect.stringContaining('Not valid JSON') });
    expect(parseEventJson('[]')).toMatchObject({ ok: false });
    expect(parseEventJson('{"source":"s"}')).toMatchObject({ ok: false, error: expect.stringContaining('"type"') });
    expect(parseEventJson('{"type":"t"}')).toMatchObject({ ok: false, error: expect.stringContaining('"source"') });
    expect(parseEventJson('{"type":"t","source":"s","payload":[]}')).toMatchObject({ ok: false, error: expect.stringContaining('payload') });
    expect(parseEventJson('{"type":"t","source":"s","timestamp":1.5}')).toMatchObject({ ok: false });
    expect(parseEventJson('{"type":"t","source":"s"}', 7)).toMatchObject({ ok: true, value: { payload: {}, timestamp: 7 } });
  });
});

describe('workflow file names', () => {
  it('adds .lua and refuses paths and odd characters', () => {
    expect(workflowFileName('auto-label')).toEqual({ ok: true, value: 'auto-label.lua' });
    expect(workflowFileName(' triage.lua ')).toEqual({ ok: true, value: 'triage.lua' });
    expect(workflowFileName('').ok).toBe(false);
    expect(workflowFileName('.lua').ok).toBe(false);
    expect(workflowFileName('../x').ok).toBe(false);
    expect(workflowFileName('a/b.lua').ok).toBe(false);
    expect(workflowFileName('.hidden').ok).toBe(false);
    expect(workflowFileName('with space').ok).toBe(false);
  });
  it('workflowFile takes the base name of file_path', () => {
    expect(workflowFile({ name: 'x', file_path: '/home/u/.config/sekia/workflows/x.lua' })).toBe('x.lua');
    expect(workflowFile({ name: 'x', file_path: '' })).toBe('x.lua');
  });
});
