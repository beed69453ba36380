// A job's new state applied to memory ahead of its write (update, fail, a fold's
// rewrite): the table and the completion reserve move at once, the write is counted as
// in flight until it settles (compaction puts off copying the job meanwhile), and an
// undo reverts it if the write fails. Synchronous, called between append and await.

import { type JobMeta, jobOptionsBytes } from "./codec.ts";
import { RECORD_HEADER_BYTES } from "./format.ts";
import { reserveForRecord, reserveOf } from "./_reserve.ts";
import type { StoreState } from "./_store-state.ts";

/**
 * Apply a new state now, `frame` being its record; returns an undo that reverts it if
 * nothing moved since.
 */
export function applyMeta(state: StoreState, slot: number, meta: JobMeta, frame: Buffer): () => void {
  const before = state.table.meta(slot);
  // The completion reserve depends on the names and the options: a move to another
  // queue or type, or a change of options (PATCH, budget binding, batch fold), must
  // move it too, or the remove() that subtracts the new size drifts it (issue 12).
  const was = reserveOf(state.table, slot);
  const wasOptionsBytes = state.table.extras.get(slot)?.optionsBytes;
  const drift = reserveForRecord(frame) - was;
  state.writer.reservedBytes += drift;
  state.table.unindex(slot);
  state.table.update(slot, meta, jobOptionsBytes(frame, RECORD_HEADER_BYTES));
  state.table.index(slot);
  state.statesInFlight.set(slot, (state.statesInFlight.get(slot) ?? 0) + 1);
  const gen = state.table.gen[slot];
  return () => {
    if (state.table.gen[slot] !== gen) return;
    state.writer.reservedBytes -= drift;
    state.table.unindex(slot);
    state.table.update(slot, before, wasOptionsBytes);
    state.table.index(slot);
  };
}

/** A write applyMeta counted has settled (landed or failed, its undo already run). */
export function stateLanded(state: StoreState, slot: number): void {
  const n = state.statesInFlight.get(slot)!;
  if (n > 1) state.statesInFlight.set(slot, n - 1);
  else state.statesInFlight.delete(slot);
}
