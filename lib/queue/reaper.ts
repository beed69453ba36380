// The reaper (API.md §4.2): deletes completed/dead jobs whose purge_at has passed, in
// batches of 1,000, yielding between batches. Expired jobs are already invisible to
// reads; this reclaims their memory (and, through compaction, their disk).

import { STATUS_FREE } from "../storage/format.ts";
import type { Store } from "../storage/store.ts";
import { yieldToLoop } from "../storage/time-slice.ts";

const BATCH = 1000;

export async function reap(store: Store, nowMs: number, sync: boolean): Promise<number> {
  const t = store.table;
  const expired: string[] = [];
  // Only jobs with a purge_at have extras, so this skips the bulk of live jobs.
  for (const [slot, extras] of t.extras) {
    if (extras.purgeAtMs !== undefined && extras.purgeAtMs <= nowMs && t.status[slot] !== STATUS_FREE) expired.push(t.idOf(slot));
  }
  let removed = 0;
  for (let i = 0; i < expired.length; i += BATCH) {
    const slots = expired.slice(i, i + BATCH).map((id) => t.slotById.get(id)).filter((s): s is number => s !== undefined);
    await store.remove(slots, sync);
    removed += slots.length;
    await yieldToLoop();
  }
  return removed;
}
