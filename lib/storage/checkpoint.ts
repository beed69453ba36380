// A checkpoint of the job table and blobs, so a restart replays only the log written
// after it instead of every segment (docs/format.md, "Checkpoint"). Written at close and
// in the background after segments seal; used on open only when it is intact and
// matches the log, and even then the log after its position is replayed on top.
//
// Why it may be fuzzy: chunks are encoded one event-loop turn at a time while the
// store keeps serving. Its position P is the head when it starts; encoding waits until
// every write before P has landed and been applied, so everything before P is in the
// table (a writer that is never idle under load gives no cleaner moment); a change made while the
// chunks are encoded is either in a chunk or in a record after P, and replaying a
// record over a state that already has it is a no-op (last writer wins). The one
// thing replay cannot undo is a state whose write later failed: a checkpoint during
// which any write failed is thrown away.

import path from "node:path";
import { crc32 } from "node:zlib";
import {
  CHECKPOINT_HEADER_BYTES, CHUNK_BLOBS, CHUNK_END, CHUNK_JOBS, type CheckpointHeader, applyBlobsChunk,
  applyJobsChunk, checkChunk, decodeHeader, encodeBlobsChunk, encodeEnd, encodeHeader, encodeJobsChunk,
} from "./checkpoint-codec.ts";
import { RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES, STATUS_FREE } from "./format.ts";
import type { FsPort } from "./fs-port.ts";
import type { JobTable } from "./job-table.ts";
import type { BlobEntry } from "./replay.ts";
import { segmentFileName } from "./segment-set.ts";
import { ReadAhead } from "./read-ahead.ts";
import type { Store } from "./store.ts";
import { TimeSlice, yieldToLoop } from "./time-slice.ts";

export const CHECKPOINT_FILE = "checkpoint";
/**
 * Jobs per chunk: one chunk is encoded per event-loop turn. 8,192 was ~2.5 ms of CPU on
 * one VM but 8–10 ms on another (profiled inside loop stalls; fresh buffers there cost a
 * page fault each ~10 µs), and with a bulk delete's slice in the same turn the loop
 * stalled 16–20 ms. With 2,048 no stall over 15 ms named the encoder any more.
 */
const CHUNK = 2048;
const TAIL_BYTES = 64;

/** Read `length` bytes at `position` of a file by path (undefined if it is missing or short). */
async function readAt(fs: FsPort, file: string, position: number, length: number): Promise<Buffer | undefined> {
  let fd: number;
  try {
    fd = await fs.open(file, "r");
  } catch {
    return undefined;
  }
  try {
    const buf = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = await fs.read(fd, buf, done, length - done, position + done);
      if (n === 0) return undefined;
      done += n;
    }
    return buf;
  } finally {
    await fs.close(fd).catch(() => {});
  }
}

/** The header fields that tie a checkpoint to the log at (segment, offset). */
async function logMark(fs: FsPort, segDir: string, segment: number, offset: number): Promise<Omit<CheckpointHeader, "createdAtMs"> | undefined> {
  const file = path.join(segDir, segmentFileName(segment));
  const header = await readAt(fs, file, 0, SEGMENT_HEADER_BYTES);
  const tailBytes = Math.min(TAIL_BYTES, offset - SEGMENT_HEADER_BYTES);
  const tail = tailBytes > 0 ? await readAt(fs, file, offset - tailBytes, tailBytes) : Buffer.alloc(0);
  if (!header || !tail) return undefined;
  return { segment, offset, segmentCrc: header.readUInt32LE(28), tailCrc: crc32(tail), tailBytes };
}

export interface LoadedCheckpoint {
  segment: number;
  offset: number;
}

/**
 * Load the dir's checkpoint into an empty table and blob map. Returns its position, or
 * a reason it was not used (missing, damaged, not this log); the table is then partly
 * filled and must be thrown away. `onPosition` hears the position as soon as the header
 * matches the log, before the chunks are read.
 */
export async function loadCheckpoint(
  fs: FsPort, dir: string, table: JobTable, blobs: Map<string, BlobEntry>,
  onPosition?: (position: LoadedCheckpoint) => void,
): Promise<LoadedCheckpoint | string> {
  const file = path.join(dir, CHECKPOINT_FILE);
  let fd: number;
  let size: number;
  try {
    size = await fs.size(file);
    fd = await fs.open(file, "r");
  } catch {
    return "no checkpoint";
  }
  // Read in large blocks, the next one while this one is applied (read-ahead.ts); at 10M
  // jobs the file is ~600 MB, and holding it whole at start would be most of the memory
  // budget.
  const reader = new ReadAhead(fs, fd, size);
  try {
    const head = await reader.take(0, CHECKPOINT_HEADER_BYTES);
    const header = head ? decodeHeader(head) : "no checkpoint header";
    if (typeof header === "string") return header;
    const mark = await logMark(fs, path.join(dir, "segments"), header.segment, header.offset);
    if (!mark || mark.segmentCrc !== header.segmentCrc || mark.tailCrc !== header.tailCrc || mark.tailBytes !== header.tailBytes) {
      return `the log does not match the checkpoint at segment ${header.segment} offset ${header.offset}`;
    }
    // The caller may start reading the log before the chunks are in (recover-log.ts, recoverLog).
    onPosition?.({ segment: header.segment, offset: header.offset });
    // About one job per 60 bytes: size the table and its id index once, instead of
    // growing them (a copy of every column each step) on the way.
    table.reserve(Math.floor(size / 60));
    table.slotById.reserve(Math.floor(size / 60));
    let jobs = 0;
    let chunks = 0;
    for (let pos = CHECKPOINT_HEADER_BYTES; ;) {
      const frameHead = await reader.take(pos, RECORD_HEADER_BYTES);
      const framed = frameHead && await reader.take(pos, RECORD_HEADER_BYTES + frameHead.readUInt32LE(0));
      const chunk = framed && checkChunk(framed, 0);
      if (!chunk) return `damaged chunk at byte ${pos}`;
      pos += chunk.end;
      if (chunk.kind === CHUNK_END) {
        if (chunk.body.length !== 12 || chunk.body.readDoubleLE(0) !== jobs || chunk.body.readUInt32LE(8) !== chunks) {
          return "the end chunk does not match the chunks before it";
        }
        table.indexRestored();
        if (table.slotById.size !== jobs) return "a job is in the checkpoint twice";
        return { segment: header.segment, offset: header.offset };
      }
      let ok = false;
      try {
        if (chunk.kind === CHUNK_JOBS) {
          const before = table.size;
          ok = applyJobsChunk(table, chunk.body);
          jobs += table.size - before;
        } else if (chunk.kind === CHUNK_BLOBS) {
          ok = applyBlobsChunk(blobs, chunk.body);
        }
      } catch {
        ok = false;
      }
      if (!ok) return `undecodable chunk at byte ${pos}`;
      chunks++;
    }
  } finally {
    await reader.settle();
    await fs.close(fd).catch(() => {});
  }
}

/**
 * After replaying the log on top of a checkpoint: does every live job, error record and
 * blob point into a segment that exists? (A segment compacted away after the checkpoint
 * was written leaves pointers into it only if the copies were lost; then scan instead.)
 */
export function pointsOnlyInto(table: JobTable, blobs: Map<string, BlobEntry>, segments: Set<number>): boolean {
  for (const no of table.segmentsWithJobs()) if (!segments.has(no)) return false;
  for (const x of table.extras.values()) for (const e of x.errors ?? []) if (!segments.has(e.segment)) return false;
  for (const b of blobs.values()) if (!segments.has(b.segment)) return false;
  return true;
}

/** Entries copied between checks of the time budget (256 KiB). */
const COPY_STEP = 1 << 16;

/**
 * A copy of the table's id order (freed slots included: the encoder skips them), made in
 * time slices. In one step, the 40 MB copy at 10M jobs was a 15–100 ms loop stall,
 * mostly first-touch page faults. Entries may not move while it copies (an insert in the
 * middle, a compaction of the order): if they do, it starts again, and after three moves
 * copies the whole order in one step. Appends after the start are jobs newer than P: not
 * needed. A table that grows copies the order unchanged into its new buffer, so the
 * first view stays right.
 * Fuzzy like the rest: a slot freed and reused meanwhile holds a job newer than P, which
 * replay after P applies again (last writer wins).
 */
export async function copyIdOrder(table: JobTable, step = COPY_STEP, budgetMs?: number): Promise<Int32Array> {
  const slice = new TimeSlice(budgetMs);
  for (let attempt = 0; attempt < 3; attempt++) {
    const view = table.idOrderView();
    const moves = table.orderMoves;
    const copy = new Int32Array(view.length);
    let moved = false;
    for (let i = 0; i < copy.length && !moved; i += step) {
      copy.set(view.subarray(i, Math.min(copy.length, i + step)), i);
      if (slice.spent) {
        await slice.yield();
        moved = table.orderMoves !== moves;
      }
    }
    if (!moved) return copy;
  }
  return table.idOrderView().slice();
}

/**
 * Write a checkpoint of `store` in the background. Resolves true when a new checkpoint
 * file is in place, false when this attempt was given up (a write failed meanwhile, a
 * reset, the store closed); throws on file errors.
 */
export async function writeCheckpoint(store: Store, final = false): Promise<boolean> {
  const fs = store.fs;
  const writer = store.writer;
  // P: the head now. Once every append before it has landed (flush) and its waiter has
  // applied it to memory (continuations run in resolution order, before flush's), the
  // table holds everything before P. Appends made from here on are after P. (One turn
  // first: a seal calls us from inside the append that moves to a new head.)
  await yieldToLoop();
  const { segment, offset } = writer.head;
  const failures = writer.failures;
  const epoch = store.resetEpoch;
  await writer.flush();
  await yieldToLoop();
  if (writer.failures !== failures || !store.segments.get(segment)) return false;
  const order = await copyIdOrder(store.table);
  const mark = await logMark(fs, store.segments.dir, segment, offset);
  if (!mark) return false;
  const file = path.join(store.dir, CHECKPOINT_FILE);
  const tmp = `${file}.tmp`;
  const fd = await fs.open(tmp, "w");
  let pos = 0;
  const put = async (bytes: Buffer): Promise<void> => {
    const n = await fs.writev(fd, [bytes], pos);
    if (n !== bytes.length) throw Object.assign(new Error("short write of the checkpoint"), { code: "EIO" });
    pos += n;
  };
  let done = false;
  try {
    await put(encodeHeader({ ...mark, createdAtMs: Date.now() }));
    let jobs = 0;
    let chunks = 0;
    for (let i = 0; i < order.length; i += CHUNK) {
      if (writer.failures !== failures || (store.isClosed && !final)) return false;
      const t = store.table;
      const slots = order.subarray(i, i + CHUNK);
      for (const s of slots) if (t.status[s] !== STATUS_FREE) jobs++;
      await put(encodeJobsChunk(t, slots));
      chunks++;
    }
    await put(encodeBlobsChunk(store.blobs));
    chunks++;
    await put(encodeEnd(jobs, chunks));
    // A state applied while the chunks were encoded may still be on its way to disk:
    // only once it has landed do we know it was not rejected.
    await writer.flush();
    if (writer.failures !== failures) return false;
    // A reset clears slots that order still lists; the count would not match. Its
    // record is after P, so the checkpoint is right, but simpler to try again later.
    if (store.resetEpoch !== epoch) return false;
    // The log it points into made durable first (Store.syncLog says why).
    await store.syncLog();
    await fs.fdatasync(fd);
    done = true;
  } finally {
    await fs.close(fd).catch(() => {});
    if (!done) await fs.unlink(tmp).catch(() => {});
  }
  await fs.rename(tmp, file);
  store.checkpointBytes = pos;
  // The rename made durable too. Without it a power cut may bring back the previous
  // checkpoint (or none): never wrong, since the log before each checkpoint was made
  // durable before it (above) and the log after it is replayed, but after a compaction
  // the previous one points into a deleted segment, and the start scans every segment
  // (~40 s instead of ~4 at 10M jobs). One dir sync per checkpoint, off the write path.
  await fs.syncDir(store.dir);
  return true;
}
