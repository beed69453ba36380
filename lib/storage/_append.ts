// Appending records as atomic groups: one record alone, or a TXN holding several, so a
// crash keeps all of a group or none of it; long runs of records that need no atomicity
// split into groups that fit a segment. Also the refusal of writes no reserve covers
// while the disk is full. Synchronous: the append is queued before anything awaits.

import { sealRecord } from "./codec.ts";
import { RECORD_HEADER_BYTES, RECORD_TXN, SEGMENT_HEADER_BYTES } from "./format.ts";
import type { Location } from "./log-writer.ts";
import { reserveGrowth } from "./_reserve.ts";
import type { StoreState } from "./_store-state.ts";

const NO_SLOTS: readonly number[] = [];

/** Bytes `frames` take appended as one group (appendGroup: a TXN header when more than one). */
export function groupBytes(frames: readonly Buffer[]): number {
  let n = frames.length > 1 ? RECORD_HEADER_BYTES : 0;
  for (const f of frames) n += f.length;
  return n;
}

/** Group records into one atomic append: a single record, or a TXN holding them. */
export function appendGroup(state: StoreState, frames: Buffer[], sync: boolean): { locations: Location[]; done: Promise<void> } {
  if (frames.length === 1) {
    const { location, done } = state.writer.append(frames[0], sync);
    return { locations: [location], done };
  }
  // One buffer: the frames copied once, after the TXN header (not concat, then frame).
  let bytes = RECORD_HEADER_BYTES;
  for (const f of frames) bytes += f.length;
  const txn = Buffer.allocUnsafe(bytes);
  for (let i = 0, at = RECORD_HEADER_BYTES; i < frames.length; at += frames[i++].length) frames[i].copy(txn, at);
  sealRecord(txn, RECORD_TXN);
  const { location, done } = state.writer.append(txn, sync);
  const locations: Location[] = [];
  let offset = location.offset + RECORD_HEADER_BYTES;
  for (const f of frames) {
    locations.push({ segment: location.segment, offset });
    offset += f.length;
  }
  return { locations, done };
}

/**
 * Append records that need no atomicity across them (compaction copies, requeue
 * records), in order, as atomic groups of at most a quarter segment: one group could
 * outgrow a segment and fail with too_large for good. No reserve covers them, so on a
 * full disk they are refused (refuseIfFull) before any is appended.
 */
export function appendInGroups(state: StoreState, frames: readonly Buffer[], sync: boolean): { locations: Location[]; done: Promise<void> } {
  refuseIfFull(state, frames);
  const budget = Math.floor((state.segments.startBytes - SEGMENT_HEADER_BYTES) / 4);
  const locations: Location[] = [];
  const writes: Promise<void>[] = [];
  for (let i = 0; i < frames.length;) {
    let end = i + 1;
    let bytes = RECORD_HEADER_BYTES + frames[i].length;
    while (end < frames.length && bytes + frames[end].length <= budget) bytes += frames[end++].length;
    const group = appendGroup(state, frames.slice(i, end), sync);
    locations.push(...group.locations);
    writes.push(group.done);
    i = end;
  }
  return { locations, done: Promise.all(writes).then(() => undefined) };
}

/**
 * Throws the `full` StorageError when `frames`, plus what the reserve of `slots` (the
 * jobs they rewrite, in order) grows by, would eat the room kept for acks on a full disk
 * (LogWriter.refusalFor). For every write no reserve covers: its room was not kept.
 */
export function refuseIfFull(state: StoreState, frames: readonly Buffer[], slots: readonly number[] = NO_SLOTS): void {
  const growth = slots.length === 0 ? 0 : Math.max(0, reserveGrowth(state.table, slots, frames));
  const refusal = state.writer.refusalFor(groupBytes(frames) + growth);
  if (refusal) throw refusal;
}
