// Reclaims disk by retiring the oldest segment: everything live whose newest copy is
// there (job snapshots, error records, blobs) is appended again at the head in small
// slices, synced, and only then is the old file deleted.
//
// Why only the oldest: its tombstones and RESETs can be dropped because no older
// segment remains for them to cancel. Compacting a middle segment would resurrect
// whatever its dropped tombstones had deleted.
// Crash safety: until the unlink, both copies exist and replay's last-writer-wins
// makes them one; before it, the copies and the rest of the log up to the head are synced.

import { encodeJobRecord } from "./codec.ts";
import { RECORD_JOB, SEGMENT_HEADER_BYTES, STATUS_FREE } from "./format.ts";
import type { ErrorLocation } from "./job-table.ts";
import type { Store } from "./store.ts";
import { TimeSlice, yieldToLoop } from "./time-slice.ts";

/** Jobs per slice: small enough that one slice stays well under a few ms of CPU. */
const SLICE = 256;
/** Tries, per pass, of the jobs skipped for a write in flight (each after a flush). */
const SKIPPED_RETRIES = 16;
/** Slots scanned between checks of the time budget. */
const SCAN_STEP = 1 << 13;

export interface CompactionResult {
  segment: number;
  jobs: number;
  errors: number;
  blobs: number;
}

/** Bytes of live records: what the data would take after a full compaction. */
export function liveBytes(store: Store): number {
  const t = store.table;
  let bytes = t.liveRecordBytes;
  for (const extras of t.extras.values()) for (const e of extras.errors ?? []) bytes += e.length;
  for (const b of store.blobs.values()) bytes += b.length;
  return bytes;
}

/** Slack over twice the live data: 16 MiB, or four segments of a test-sized store. */
export function compactionSlack(store: Store): number {
  return Math.min(16 * 1024 * 1024, 4 * store.segments.maxBytes);
}

/** Bytes on disk: every segment and spare file, and the checkpoint. */
export function diskBytes(store: Store): number {
  let bytes = store.checkpointBytes;
  for (const no of store.segments.numbers()) bytes += store.segments.get(no)!.bytes;
  for (const c of store.segments.spareCapacities()) bytes += c + SEGMENT_HEADER_BYTES;
  return bytes;
}

/**
 * Disk use (segments, head and spares) may reach twice the live data plus the slack.
 * Segments are sized at an eighth of the live data (segment-set.ts), so the head and
 * its spares fit in that bound and a run that gets there always has garbage to drop.
 */
export function shouldCompact(store: Store): boolean {
  const numbers = store.segments.numbers();
  if (numbers.length < 2 || numbers[0] >= store.writer.head.segment) return false;
  return diskBytes(store) > 2 * liveBytes(store) + compactionSlack(store);
}

/** Retire the oldest sealed segment; undefined when there is none. */
export async function compactOldest(store: Store): Promise<CompactionResult | undefined> {
  // Let every append aimed at older segments land (and be applied) before we look.
  await store.flush();
  await yieldToLoop();
  const numbers = store.segments.numbers();
  const oldest = numbers[0];
  if (numbers.length < 2 || oldest >= store.writer.head.segment) return undefined;
  const result: CompactionResult = { segment: oldest, jobs: 0, errors: 0, blobs: 0 };
  const t = store.table;

  for (let pass = 0; pass < 3; pass++) {
    const slots = await slotsIn(store, oldest);
    const errors: { id: string; attempt: number }[] = [];
    for (const [slot, extras] of t.extras) {
      for (const e of extras.errors ?? []) if (e.segment === oldest) errors.push({ id: t.idOf(slot), attempt: e.attempt });
    }
    const blobs = [...store.blobs].filter(([, b]) => b.segment === oldest).map(([k]) => k);
    if (slots.length === 0 && errors.length === 0 && blobs.length === 0) break;

    const slice = new TimeSlice();
    // Jobs skipped because a state write of theirs was in flight (copyJobs): tried again
    // on their own, each try after a flush that lets that write land, rather than left to
    // the next pass (a whole scan): with a few writes always in flight, three passes in a
    // row could each find one and the segment was never retired (a power-loss test run).
    let skipped: number[] = [];
    result.jobs += await copyAllJobs(store, oldest, slots, slice, skipped);
    for (let retry = 0; retry < SKIPPED_RETRIES && skipped.length > 0; retry++) {
      const again = skipped;
      skipped = [];
      result.jobs += await copyAllJobs(store, oldest, again, slice, skipped);
    }
    for (let i = 0; i < errors.length; i += SLICE) {
      result.errors += await copyErrors(store, oldest, errors.slice(i, i + SLICE));
      await yieldToLoop();
    }
    result.blobs += await copyBlobs(store, oldest, blobs);
  }
  await store.flush();
  // Never delete a file something still points into (a write that failed late can put a
  // job back at its old location): leave the segment for the next run instead.
  if (pointsInto(store, oldest)) return undefined;
  // Nothing lives in it any more, in memory; on disk that holds only once the records
  // that emptied it are durable too: a DELETE, a RESET, a job's newer JOB record, a
  // blob's newer BLOB or BLOB_DELETE, anywhere after it in the log. Copies are synced as
  // they are written, those records are not (buffered mode). Without this, a power cut
  // could keep the unlink and lose them: a reset, then a compaction with nothing to
  // copy, left a job whose older records were in the deleted segment half there (its
  // error history without the errors that segment held; before the reset its last
  // checkpoint held them all), and a job rewritten since its last checkpoint was gone.
  // So the log up to the head, bytes and names, is synced first (Store.syncLog: usually one
  // fdatasync of the head, which the copies' sync just made cheap). Off the write path,
  // once per segment retired; the flush first so the writes that emptied it have landed.
  // Invariant: a segment is deleted only after the log that made it dead is durable.
  await store.flush();
  await store.syncLog();
  if (pointsInto(store, oldest)) return undefined;
  await store.segments.retire(oldest);
  store.forgetSegment(oldest);
  await store.segments.releaseSpares(store.writer.surplusSpares());
  const stats = store.compactionStats;
  stats.segments++;
  stats.jobs += result.jobs;
  stats.errors += result.errors;
  stats.blobs += result.blobs;
  return result;
}

/** copyJobs over all of `slots`, a time slice at a time; returns the jobs copied. */
async function copyAllJobs(store: Store, oldest: number, slots: number[], slice: TimeSlice, skipped: number[]): Promise<number> {
  let total = 0;
  for (let i = 0; i < slots.length;) {
    const { consumed, copied } = await copyJobs(store, oldest, slots.slice(i, i + SLICE), slice, skipped);
    total += copied;
    i += consumed;
    await slice.yield();
  }
  return total;
}

/**
 * Copy a prefix of `slots`, as many as fit in one time slice (at least one): 256 jobs
 * were ~7 ms when the code still ran interpreted, on top of what else ran in that turn.
 */
async function copyJobs(
  store: Store, oldest: number, slots: number[], slice: TimeSlice, skipped: number[],
): Promise<{ consumed: number; copied: number }> {
  // Updates are applied to memory at once and rolled back if their write fails. A copy
  // snapshots memory, so it must not pick up a state whose write is still in flight: the
  // copy would land in a later batch, survive that write's failure, and bring the
  // rejected state back after a restart; and on a power cut a sync of the copy's segment
  // could keep it while that write, in an older segment, was lost (a nack's attempts
  // without its error record). The flush lets the writes so far settle, but a state
  // applied while it waited is queued behind them: those slots go to `skipped`, to be
  // tried again after the next flush (Store.stateInFlight). Anything applied from here
  // on is in our batch or later.
  await store.flush();
  slice.restart();
  const t = store.table;
  // Per job only numbers in packed arrays: what a slice holds across its synced write
  // outlives young-generation GCs, and an object per job there fed old-space GCs.
  const live: number[] = [];
  const recOffs: number[] = [];
  const payLens: number[] = [];
  // Each JOB copy is followed by copies of all its ERROR records, wherever they live.
  // Replay drops an ERROR whose job it has not seen yet, so an ERROR in a newer segment
  // than the old JOB record, but older than its copy, would be lost after a restart.
  // Invariant: a job's ERROR records come after its newest JOB record in log order.
  const frames: Buffer[] = [];
  const jobFrame: number[] = [];
  const errorCopies: { loc: ErrorLocation; segment: number; offset: number; frame: number }[] = [];
  let consumed = 0;
  while (consumed < slots.length && !(consumed % 16 === 0 && consumed > 0 && slice.spent)) {
    const s = slots[consumed++];
    if (t.paySeg[s] !== oldest || t.status[s] === STATUS_FREE) continue;
    if (store.stateInFlight(s)) {
      skipped.push(s);
      continue;
    }
    const payload = store.payload(s); // encodeJobRecord copies it: no copy of our own
    live.push(s);
    recOffs.push(t.recOff[s]);
    payLens.push(payload.length);
    jobFrame.push(frames.length);
    frames.push(encodeJobRecord(RECORD_JOB, t.meta(s), payload));
    for (const loc of t.extras.get(s)?.errors ?? []) {
      errorCopies.push({ loc, segment: loc.segment, offset: loc.offset, frame: frames.length });
      frames.push(Buffer.from(store.readRecord(loc.segment, loc.offset, loc.length)));
    }
  }
  if (live.length === 0) return { consumed, copied: 0 };
  const { locations, done } = store.appendInGroups(frames, true);
  await done;
  let copied = 0;
  live.forEach((s, i) => {
    // Only move the pointer if the job still lives where we copied it from.
    if (t.status[s] === STATUS_FREE || t.paySeg[s] !== oldest || t.recOff[s] !== recOffs[i]) return;
    const at = locations[jobFrame[i]];
    const frame = frames[jobFrame[i]];
    t.setLocation(s, {
      segment: at.segment, offset: at.offset + frame.length - payLens[i], length: payLens[i],
      recordOffset: at.offset, recordLength: frame.length,
    });
    copied++;
  });
  for (const c of errorCopies) {
    // The same bytes now live at the head too; point there unless the entry moved since.
    if (c.loc.segment !== c.segment || c.loc.offset !== c.offset) continue;
    c.loc.segment = locations[c.frame].segment;
    c.loc.offset = locations[c.frame].offset;
  }
  return { consumed, copied };
}

async function copyErrors(store: Store, oldest: number, errors: { id: string; attempt: number }[]): Promise<number> {
  const t = store.table;
  const found = errors.flatMap(({ id, attempt }) => {
    const slot = t.slotById.get(id);
    const loc = slot === undefined ? undefined : t.extras.get(slot)?.errors?.find((e) => e.attempt === attempt);
    return loc && loc.segment === oldest ? [{ loc, bytes: Buffer.from(store.readRecord(loc.segment, loc.offset, loc.length)) }] : [];
  });
  if (found.length === 0) return 0;
  const { locations, done } = store.appendInGroups(found.map((f) => f.bytes), true);
  await done;
  found.forEach((f, i) => {
    if (f.loc.segment !== oldest) return;
    f.loc.segment = locations[i].segment;
    f.loc.offset = locations[i].offset;
  });
  return found.length;
}

async function copyBlobs(store: Store, oldest: number, keys: string[]): Promise<number> {
  let copied = 0;
  for (const key of keys) {
    // A put or delete of this blob in flight is not in memory yet: a copy of the old state
    // would land after it and win on a restart. Wait for it, then read and append with no
    // await between, so any later write of the blob lands after the copy.
    for (let inFlight = store.blobWriteInFlight(key); inFlight; inFlight = store.blobWriteInFlight(key)) await inFlight;
    const entry = store.blobs.get(key);
    if (!entry || entry.segment !== oldest) continue;
    const bytes = Buffer.from(store.readRecord(entry.segment, entry.offset, entry.length));
    const { locations, done } = store.appendInGroups([bytes], true);
    await done;
    if (store.blobs.get(key) === entry) {
      entry.segment = locations[0].segment;
      entry.offset = locations[0].offset;
    }
    copied++;
  }
  return copied;
}

/**
 * The live jobs in `segment`, found by a plain loop over the columns (the id index's
 * generator cost ~100 ns a cell) in time slices, and stopped once the table's count of
 * them is reached. At 10M jobs a whole pass is ~40 ms warm and far more the first time
 * (interpreted): one synchronous pass stalled the loop that long per segment retired.
 * A job found here may move or go before it is copied; copyJobs checks again. None can
 * move in: appends go to the head.
 */
async function slotsIn(store: Store, segment: number): Promise<number[]> {
  const t = store.table;
  const slots: number[] = [];
  const slice = new TimeSlice();
  for (let from = 0; from < t.slotLimit && slots.length < t.liveIn(segment); from += SCAN_STEP) {
    const { paySeg, status } = t;
    const end = Math.min(t.slotLimit, from + SCAN_STEP);
    for (let s = from; s < end; s++) if (paySeg[s] === segment && status[s] !== STATUS_FREE) slots.push(s);
    await slice.pace();
  }
  return slots;
}

/** Does any live job, error record or blob still live in `segment`? */
function pointsInto(store: Store, segment: number): boolean {
  const t = store.table;
  if (t.liveIn(segment) > 0) return true;
  for (const extras of t.extras.values()) for (const e of extras.errors ?? []) if (e.segment === segment) return true;
  for (const b of store.blobs.values()) if (b.segment === segment) return true;
  return false;
}
