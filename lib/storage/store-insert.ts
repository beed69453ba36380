// Store.insert: new jobs, with payload rewrites of existing jobs (batch folds) and blobs,
// as one atomic group. Waits for room (the new jobs' completion reserve included), then
// appends; new jobs enter the table once durable, rewrites at once.
//
// Ordering rule: inserts are applied to memory after their write completes (a job is
// never visible before it is durable).

import { encodeBlobBody, encodeJobGroup, encodeJobRecord, frameRecord, jobOptionsBytes } from "./codec.ts";
import { StorageError } from "./errors.ts";
import { RECORD_BLOB, RECORD_HEADER_BYTES, RECORD_JOB } from "./format.ts";
import type { PayloadLocation } from "./job-table.ts";
import type { Location } from "./log-writer.ts";
import type { BlobWrite, NewJob, Rewrite } from "./store.ts";
import { noteBlobs, trackBlobWrites } from "./store-blobs.ts";
import { appendGroup, groupBytes } from "./_append.ts";
import { applyMeta, stateLanded } from "./_apply-meta.ts";
import { reserveForRecord, reserveForRecordAt, reserveGrowth } from "./_reserve.ts";
import { type StoreState, assertOpen } from "./_store-state.ts";

/**
 * Write new jobs, plus payload rewrites of existing jobs (batch folds) and blobs (a cron
 * group's advanced schedule, so a crash cannot separate a firing from it), as one atomic
 * group; resolves with the new jobs' slots once durable. Rewrites are visible at once
 * (their payload is served from memory until written); new jobs and blobs once durable.
 * `idWords`, when given, holds each new job's id as four words (JobTable.add), in order.
 */
export async function insert(
  state: StoreState, jobs: readonly NewJob[], sync: boolean, rewrites: readonly Rewrite[], blobs: readonly BlobWrite[], idWords: Uint32Array | undefined,
): Promise<number[]> {
  assertOpen(state);
  if (jobs.length === 0 && rewrites.length === 0 && blobs.length === 0) return [];
  if (jobs.length > 1 && rewrites.length === 0 && blobs.length === 0) return insertGroup(state, jobs, sync, idWords);
  const frames = jobs.map((j) => encodeJobRecord(RECORD_JOB, j.meta, j.payload));
  const rewriteFrames = rewrites.map((r) => encodeJobRecord(RECORD_JOB, r.meta, r.payload));
  const blobFrames = blobs.map((b) => frameRecord(RECORD_BLOB, encodeBlobBody(b.namespace, b.key, b.value)));
  let reserve = 0;
  for (const f of frames) reserve += reserveForRecord(f);
  // A fold that grows a job's options grows its reserve too (applyMeta): room for that.
  const growth = rewrites.length === 0 ? 0 : Math.max(0, reserveGrowth(state.table, rewrites.map((r) => r.slot), rewriteFrames));
  const all = [...frames, ...rewriteFrames, ...blobFrames];
  const size = groupBytes(all) + growth;
  for (let wait = state.writer.ensureRoom(size + reserve); wait; wait = state.writer.ensureRoom(size + reserve)) await wait;
  // Waiting for room yielded: a rewrite's job may have changed (been taken, say) since
  // the caller planned it. Applying its old state now would undo that change.
  for (const r of rewrites) {
    if (r.gen !== undefined && state.table.gen[r.slot] !== r.gen) {
      throw new StorageError("stale", `job ${r.meta.id} changed while the write waited for room`);
    }
  }
  const { locations, done } = appendGroup(state, all, sync);
  if (blobs.length > 0) trackBlobWrites(state, blobs, done);
  const finishRewrites = rewrites.map((r, i) => beginRewrite(state, r, rewriteFrames[i]));
  state.writer.reservedBytes += reserve;
  try {
    await done;
  } catch (err) {
    state.writer.reservedBytes -= reserve;
    for (const f of finishRewrites) f(undefined);
    throw err;
  }
  // A reset appended before us was applied before this (batches settle in append
  // order); one appended after us clears these jobs after this.
  finishRewrites.forEach((f, i) => f(locations[frames.length + i]));
  noteBlobs(state, blobs, blobFrames, locations.slice(frames.length + rewriteFrames.length));
  return jobs.map((j, i) => {
    const slot = state.table.add(j.meta, jobLocation(locations[i], frames[i], j.payload.length), jobOptionsBytes(frames[i], RECORD_HEADER_BYTES), idWords, i * 4);
    state.table.index(slot);
    return slot;
  });
}

/**
 * insert() of two or more jobs alone (a bulk enqueue): the same TXN record, encoded in
 * place (encodeJobGroup), and the jobs' places read off its offsets, with no buffer a job.
 */
async function insertGroup(state: StoreState, jobs: readonly NewJob[], sync: boolean, idWords: Uint32Array | undefined): Promise<number[]> {
  const starts = new Uint32Array(jobs.length + 1);
  const txn = encodeJobGroup(jobs, starts);
  let reserve = 0;
  for (let i = 0; i < jobs.length; i++) reserve += reserveForRecordAt(txn, starts[i]);
  for (let wait = state.writer.ensureRoom(txn.length + reserve); wait; wait = state.writer.ensureRoom(txn.length + reserve)) await wait;
  const { location, done } = state.writer.append(txn, sync);
  state.writer.reservedBytes += reserve;
  try {
    await done;
  } catch (err) {
    state.writer.reservedBytes -= reserve;
    throw err;
  }
  const slots: number[] = [];
  for (let i = 0; i < jobs.length; i++) {
    const recordOffset = location.offset + starts[i];
    const recordLength = starts[i + 1] - starts[i];
    const payloadLength = jobs[i].payload.length;
    const at = { segment: location.segment, offset: recordOffset + recordLength - payloadLength, length: payloadLength, recordOffset, recordLength };
    const slot = state.table.add(jobs[i].meta, at, jobOptionsBytes(txn, starts[i] + RECORD_HEADER_BYTES), idWords, i * 4);
    state.table.index(slot);
    slots.push(slot);
  }
  return slots;
}

/** Apply a rewrite now; the returned function finishes it (location) or undoes it (undefined). */
function beginRewrite(state: StoreState, r: Rewrite, frame: Buffer): (at: Location | undefined) => void {
  const before = state.table.location(r.slot);
  const undo = applyMeta(state, r.slot, r.meta, frame);
  state.pendingPayloads.set(r.slot, r.payload);
  return (at) => {
    stateLanded(state, r.slot);
    if (state.pendingPayloads.get(r.slot) === r.payload) state.pendingPayloads.delete(r.slot);
    if (!state.table.sameJob(r.slot, r.meta.id)) return;
    if (at) {
      state.table.setLocation(r.slot, jobLocation(at, frame, r.payload.length));
    } else {
      undo();
      state.table.setLocation(r.slot, before);
    }
  };
}

function jobLocation(at: Location, frame: Buffer, payloadLength: number): PayloadLocation {
  return {
    segment: at.segment,
    offset: at.offset + frame.length - payloadLength,
    length: payloadLength,
    recordOffset: at.offset,
    recordLength: frame.length,
  };
}
