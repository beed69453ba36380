// GET /queues/{queue} (an extension, docs/api.md "Extensions"): a queue's pause state
// and its job counts by status. Counts come from the table's running counters
// (live-counts.ts: O(1) a queue); expired terminal jobs are not counted, as they are invisible.

import type { JobTable } from "../storage/job-table.ts";
import { STATUS_NAME } from "./job.ts";
import { liveCounts } from "./live-counts.ts";
import type { PauseState } from "./pauses.ts";
import type { JobStatus } from "./types.ts";

export interface QueueView extends PauseState {
  name: string;
  counts: Record<JobStatus, number>;
}

/** Counts by status of the jobs in `name`; undefined when the queue has no job at all. */
export function queueCounts(t: JobTable, name: string, nowMs: number): Record<JobStatus, number> | undefined {
  const q = t.queues.lookup(name);
  if (q === undefined) return undefined;
  const n = liveCounts(t, nowMs, [q]);
  const out = {} as Record<JobStatus, number>;
  STATUS_NAME.forEach((statusName, i) => (out[statusName] = n[i]));
  return out;
}

export function toQueueView(name: string, pause: PauseState | undefined, counts: Record<JobStatus, number> | undefined): QueueView {
  return {
    name,
    paused: pause?.paused ?? false,
    ...(pause?.paused_at === undefined ? {} : { paused_at: pause.paused_at }),
    ...(pause?.resumed_at === undefined ? {} : { resumed_at: pause.resumed_at }),
    counts: counts ?? { scheduled: 0, ready: 0, in_flight: 0, completed: 0, dead: 0 },
  };
}
