// Store.update and Store.recordMeta: new states of existing jobs as META records. An
// update is applied to memory at once (so concurrent callers see it) and rolled back if
// its write fails; recordMeta writes the state the table already holds.

import { type JobMeta, encodeBlobBody, encodeJobRecord, frameRecord } from "./codec.ts";
import { RECORD_BLOB, RECORD_META } from "./format.ts";
import type { BlobWrite } from "./store.ts";
import { noteBlobs, trackBlobWrites } from "./store-blobs.ts";
import { appendGroup, appendInGroups, refuseIfFull } from "./_append.ts";
import { applyMeta, stateLanded } from "./_apply-meta.ts";
import { type StoreState, assertOpen } from "./_store-state.ts";

const NO_BLOBS: readonly BlobWrite[] = [];
const NO_FRAMES: readonly Buffer[] = [];

/**
 * Persist new states for existing jobs (META records), applied to memory at once, with
 * `extra.blobs` in the same atomic group (budgets a job's new bindings create, so a
 * crash cannot keep one without the other); blobs are visible once durable. Why no
 * wait for room, as insert has: the caller planned the metas on the table as it is
 * now, and a wait would let a job change under them. Instead, unless `extra.reserved`
 * (a completion, whose room was reserved at enqueue: acks of jobs kept as completed),
 * the write is refused with a `full` StorageError while the disk is full and it would
 * eat that reserve (LogWriter.refusalFor): before this, PATCHes and budget binds on a
 * full disk used up the room kept for acks, and then a write landed in a segment that
 * could not be made, which failed every write after it, acks included, until space
 * came back.
 */
export async function update(
  state: StoreState, slots: readonly number[], metas: readonly JobMeta[], sync: boolean,
  extra: { blobs?: readonly BlobWrite[]; reserved?: boolean },
): Promise<void> {
  const blobs = extra.blobs ?? NO_BLOBS;
  assertOpen(state);
  if (slots.length === 0 && blobs.length === 0) return;
  const frames = metas.map((m) => encodeJobRecord(RECORD_META, m));
  const blobFrames = blobs.length === 0 ? NO_FRAMES : blobs.map((b) => frameRecord(RECORD_BLOB, encodeBlobBody(b.namespace, b.key, b.value)));
  const all = blobFrames.length === 0 ? frames : [...frames, ...blobFrames];
  // Counting what the jobs' reserve grows by (longer names or options: a PATCH, a
  // budget binding), so that growth cannot eat the room kept for acks either.
  if (!extra.reserved) refuseIfFull(state, all, slots);
  // Appended before memory changes: a write too large for a segment throws here, and
  // must leave nothing applied (no await between the two).
  const { locations, done } = appendGroup(state, all, sync);
  if (blobs.length > 0) trackBlobWrites(state, blobs, done);
  const undo = slots.map((slot, i) => applyMeta(state, slot, metas[i], frames[i]));
  try {
    await done;
  } catch (err) {
    for (const u of undo) u();
    throw err;
  } finally {
    for (const slot of slots) stateLanded(state, slot);
  }
  // A reset appended after us clears them after this (batches settle in append order).
  if (blobs.length > 0) noteBlobs(state, blobs, blobFrames, locations.slice(frames.length));
}

/**
 * Write the jobs' state as the table holds it, changing nothing: for state changed in
 * memory only (jobs a dropped take stream put back to ready), so that a restart or a
 * scan finds it. Nothing to undo if the write fails: the table is already right.
 * No reserve covers it (the jobs' reserve is for their completion, still to come), so
 * on a full disk it is refused as update() refuses (LogWriter.refusalFor) rather than
 * eat the room kept for acks; what is then missing from the log is only `dequeued_at`
 * (the log's status for these jobs is already not in flight: taking writes nothing).
 */
export async function recordMeta(state: StoreState, slots: readonly number[], sync: boolean): Promise<void> {
  assertOpen(state);
  if (slots.length === 0) return;
  // Each record stands alone: groups that fit a segment (1,024 in one did not fit 64 KiB).
  await appendInGroups(state, slots.map((slot) => encodeJobRecord(RECORD_META, state.table.meta(slot))), sync).done;
}
