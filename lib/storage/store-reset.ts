// Store.reset: delete every job and blob with one RESET record, memory cleared only once
// it is written. Compaction is paused meanwhile; the reset epoch tells writes in flight
// across it that their jobs are gone.

import { frameRecord } from "./codec.ts";
import type { CompactionLoop } from "./compaction-loop.ts";
import { RECORD_RESET } from "./format.ts";
import { appendGroup } from "./_append.ts";
import { reserveForAll } from "./_reserve.ts";
import { type StoreState, assertOpen } from "./_store-state.ts";

/**
 * Delete every job and blob, once the RESET record is written: a reset the disk refuses
 * changes nothing (it used to clear memory first, so a refused reset emptied the served
 * state, and the next checkpoint made that permanent). `applied` runs at that moment,
 * synchronously: batches settle in append order, so every write appended before the
 * reset has been applied to memory by then, and none appended after it yet.
 * Writes planned from the old state must not be appended while the reset is in flight:
 * they would land after the RESET record and bring their jobs back on a restart. The
 * store pauses its compaction meanwhile; Requires: the caller keeps rewrites of existing
 * jobs (batch folds and seals) out too (Queue.reset holds the enqueue lock).
 */
export async function reset(state: StoreState, compaction: CompactionLoop, sync: boolean, applied: () => void): Promise<void> {
  assertOpen(state);
  // Compaction copies jobs and blobs as memory holds them: paused until memory is cleared.
  const resumeCompaction = await compaction.pause();
  try {
    await appendGroup(state, [frameRecord(RECORD_RESET, Buffer.alloc(0))], sync).done;
  } finally {
    resumeCompaction();
  }
  state.epoch++;
  // Inserts appended after the reset keep the reserve they added; only the cleared jobs' goes.
  state.writer.reservedBytes -= reserveForAll(state.table);
  state.table.clear();
  state.blobs.clear();
  state.pendingPayloads.clear();
  applied();
}
