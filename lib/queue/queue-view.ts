// GET /queues/{queue} (an extension, docs/api.md "Extensions"): a queue's pause state
// and its job counts by status. Counting scans the job table's typed arrays once
// (O(jobs), no disk reads); expired terminal jobs are not counted, as they are invisible.

import type { JobTable } from "../storage/job-table.ts";
import { STATUS_NAME, isExpired } from "./job.ts";
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
  const n = [0, 0, 0, 0, 0];
  const { queue, status } = t;
  for (let slot = 0; slot < t.capacity; slot++) {
    if (queue[slot] !== q) continue;
    const s = status[slot];
    if (s < n.length && !(s >= 3 && isExpired(t, slot, nowMs))) n[s]++;
  }
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
