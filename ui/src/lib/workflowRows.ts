// One row per workflow file, from the `workflows` report: a loaded workflow, a file that did not
// load, or both (the engine keeps the previous version running when a reload is refused, so a
// file can be loaded and failing at once). Pure, tested.

import type { LoadFailure, WorkflowStatus, WorkflowsReport } from './api';
import { workflowFile } from './events';

export interface WorkflowRow {
  /** The file name, e.g. `auto-label.lua` (what `workflow_source` takes). */
  file: string;
  /** The running version, if any. */
  workflow: WorkflowStatus | null;
  /** Why the file (or its latest version) did not load, if it did not. */
  failure: LoadFailure | null;
  /** `failed`: nothing runs; `stale`: an older version runs; `error`: runs, last handler failed. */
  health: 'ok' | 'error' | 'stale' | 'failed';
}

export function workflowRows(report: Pick<WorkflowsReport, 'workflows' | 'load_errors'> | undefined): WorkflowRow[] {
  if (!report) return [];
  const rows = new Map<string, WorkflowRow>();
  for (const w of report.workflows) {
    const file = workflowFile(w);
    rows.set(file, { file, workflow: w, failure: null, health: w.last_error ? 'error' : 'ok' });
  }
  for (const f of report.load_errors) {
    const row = rows.get(f.file);
    if (row) {
      row.failure = f;
      row.health = 'stale';
    } else rows.set(f.file, { file: f.file, workflow: null, failure: f, health: 'failed' });
  }
  const rank = { failed: 0, stale: 1, error: 2, ok: 3 } as const;
  return [...rows.values()].sort((a, b) => rank[a.health] - rank[b.health] || a.file.localeCompare(b.file));
}
