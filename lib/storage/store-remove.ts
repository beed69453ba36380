// Store.remove: delete jobs, taken out of memory at once and put back if their write
// fails. Ids go in DELETE records of a bounded size, each atomic, so a crash mid-way
// leaves every job either deleted or intact. The jobs' completion reserve is released.

import { sealRecord } from "./codec.ts";
import { RECORD_DELETE, RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES } from "./format.ts";
import { writeIdAscii } from "./id-index.ts";
import { appendGroup } from "./_append.ts";
import { reserveOf } from "./_reserve.ts";
import { type StoreState, assertOpen } from "./_store-state.ts";

/**
 * Delete jobs, removed from memory at once. Ids go in DELETE records of at most
 * `deleteChunk` ids; each record is atomic, so a crash mid-way leaves every job either
 * deleted or intact.
 */
export async function remove(state: StoreState, slots: readonly number[], sync: boolean): Promise<void> {
  assertOpen(state);
  const chunk = deleteChunk(state);
  const writes: Promise<void>[] = [];
  for (let i = 0; i < slots.length; i += chunk) writes.push(removeChunk(state, slots.slice(i, i + chunk), sync));
  const results = await Promise.allSettled(writes);
  const failed = results.find((r) => r.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
}

/** Ids per DELETE record: at most 8192, and at most half a segment. */
export function deleteChunk(state: StoreState): number {
  return Math.max(1, Math.min(8192, Math.floor((state.segments.startBytes - SEGMENT_HEADER_BYTES) / 2 / 25)));
}

async function removeChunk(state: StoreState, slots: readonly number[], sync: boolean): Promise<void> {
  const t = state.table;
  // Ids straight from the table's words: no per-job id string (bulk deletes of ~1M).
  const frame = Buffer.allocUnsafe(RECORD_HEADER_BYTES + slots.length * 25);
  slots.forEach((s, i) => writeIdAscii(t.idw, s * 4, frame, RECORD_HEADER_BYTES + i * 25));
  // Names are still interned while the slots are held (JobTable.hold).
  let reserved = 0;
  for (const s of slots) reserved += reserveOf(t, s);
  const held = t.hold(slots);
  state.writer.reservedBytes -= reserved;
  const epoch = state.epoch;
  const { done } = appendGroup(state, [sealRecord(frame, RECORD_DELETE)], sync);
  try {
    await done;
  } catch (err) {
    // Unless a reset (written before this failed) has removed every job meanwhile.
    if (epoch === state.epoch) {
      t.revive(slots, held);
      state.writer.reservedBytes += reserved;
    } else {
      t.release(slots);
    }
    throw err;
  }
  t.release(slots);
}
