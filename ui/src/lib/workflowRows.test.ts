import { describe, expect, it } from 'vitest';

import type { LoadFailure, WorkflowStatus } from './api';
import { workflowRows } from './workflowRows';

const wf = (name: string, over: Partial<WorkflowStatus> = {}): WorkflowStatus => ({
  last_error: null,
  handler_p50_us: 0,
  handler_p99_us: 0,
  dropped: 0,
  name,
  file_path: `/w/${name}.lua`,
  handlers: 1,
  patterns: [],
  loaded_at: '2024-01-01T00:00:00Z',
  events: 0,
  errors: 0,
  ...over,
});
const fail = (file: string): LoadFailure => ({ at: '2024-01-01T00:00:00Z', kind: 'syntax', file, line: 3, message: 'x' });

describe('workflowRows', () => {
  it('merges a refused reload into the running workflow’s row', () => {
    const rows = workflowRows({
      workflows: [wf('b'), wf('a', { last_error: { message: 'm', line: 1, at: '' } }), wf('c')],
      load_errors: [fail('c.lua'), fail('z.lua')],
    });
    expect(rows.map((r) => [r.file, r.health])).toEqual([
      ['z.lua', 'failed'],
      ['c.lua', 'stale'],
      ['a.lua', 'error'],
      ['b.lua', 'ok'],
    ]);
    expect(rows[1]!.workflow?.name).toBe('c');
    expect(rows[1]!.failure?.line).toBe(3);
    expect(rows[0]!.workflow).toBeNull();
  });

  it('is empty without a report', () => {
    expect(workflowRows(undefined)).toEqual([]);
  });
});
