// openStore(dir): lock the dir, recover every segment, rebuild the in-memory indexes,
// then hand back a Store that is ready to serve. The Store turns job-state changes
// into records (one group per call, so each call is atomic on disk) and keeps the
// job table in step with the log.
//
// Ordering rule: inserts are applied to memory after their write completes (a job is
// never visible before it is durable); updates and deletes are applied at once (so
// concurrent callers see them) and rolled back if their write fails.

import path from "node:path";
import {
  type JobMeta, decodeErrorRecord, encodeBlobBody, encodeErrorBody, encodeJobGroup, encodeJobRecord, frameRecord, jobOptionsBytes, sealRecord,
} from "./codec.ts";
import { liveBytes } from "./compaction.ts";
import { CompactionLoop } from "./compaction-loop.ts";
import { CheckpointPacer } from "./checkpoint-pacer.ts";
import { StorageError } from "./errors.ts";
import {
  DEFAULT_SEGMENT_BYTES, RECORD_BLOB, RECORD_BLOB_DELETE, RECORD_DELETE, RECORD_ERROR, RECORD_HEADER_BYTES, RECORD_JOB, RECORD_META, RECORD_RESET,
  RECORD_TXN, SEGMENT_HEADER_BYTES,
} from "./format.ts";
import { type FsPort, nodeFs } from "./fs-port.ts";
import type { JobTable, PayloadLocation } from "./job-table.ts";
import { type DirLock, lockDir } from "./lock.ts";
import { type Location, LogWriter } from "./log-writer.ts";
import { PayloadReader } from "./payload-reader.ts";
import type { Damage } from "./recover.ts";
import { CHECKPOINT_FILE, pointsOnlyInto, writeCheckpoint } from "./checkpoint.ts";
import { type BlobEntry, addErrorLocation, blobKey } from "./replay.ts";
import { readOrCreateMeta } from "./dir-meta.ts";
import { type Recovery, recoverLog, replayedBytes } from "./recover-log.ts";
import { reserveForAll, reserveForRecord, reserveForRecordAt, reserveGrowth, reserveOf } from "./_reserve.ts";
import { writeIdAscii } from "./id-index.ts";
import { SegmentSet } from "./segment-set.ts";

export interface StoreOptions {
  /** The data dir; created if missing. */
  dir: string;
  /** Largest segment for a new dir (an existing dir keeps its own). @default 64 MiB */
  segmentBytes?: number;
  /** Payload block cache bound. @default 64 MiB */
  cacheBytes?: number;
  /** fsync directories on segment create/delete (the fsync commit mode). @default false */
  syncDirs?: boolean;
  fs?: FsPort;
  /**
   * Start from the checkpoint file when it is intact and matches the log, and write one
   * at close and after segments seal (checkpoint.ts). Off: always scan every segment,
   * and write none. @default true
   */
  checkpoint?: boolean;
  /** Wall clock, used only for recovery promotion and segment headers. */
  now?: () => number;
  /**
   * At open from a checkpoint, the log before it is verified on a worker thread when it
   * holds at least this many bytes (and the store uses the real filesystem), else in
   * this thread (verify-thread.ts). @default 256 MiB
   */
  verifyThreadBytes?: number;
  /**
   * Background checkpoints are checked for this often and spaced at least this far
   * apart (and ten times as long as the last one took). @default 5,000 ms
   */
  checkpointEveryMs?: number;
}

export interface Rewrite {
  slot: number;
  meta: JobMeta;
  payload: Buffer;
  /** The job's table generation when the caller planned this rewrite (see insert). */
  gen?: number;
}

export interface NewJob {
  meta: JobMeta;
  /** Compact JSON text of the payload. */
  payload: Buffer;
}

const NO_BLOBS: readonly BlobWrite[] = [];
const NO_FRAMES: readonly Buffer[] = [];
const NO_SLOTS: readonly number[] = [];

/** Bytes `frames` take appended as one group (appendGroup: a TXN header when more than one). */
function groupBytes(frames: readonly Buffer[]): number {
  let n = frames.length > 1 ? RECORD_HEADER_BYTES : 0;
  for (const f of frames) n += f.length;
  return n;
}

/** A blob written in the same transaction as jobs (insert, update): a cron group's new schedule, a new budget. */
export interface BlobWrite {
  namespace: number;
  key: string;
  value: Buffer;
}

export class Store {
  readonly dir: string;
  readonly table: JobTable;
  readonly blobs = new Map<string, BlobEntry>();
  /**
   * Blob writes (puts, deletes) appended and not yet settled, by blob key. Memory shows a
   * blob's new state only once its write lands, so a compaction copy planned meanwhile
   * would copy the old state and land after the new one: a restart would bring back the
   * old value, or a deleted budget or cron group. copyBlobs waits for these first.
   */
  private readonly blobWrites = new Map<string, Promise<void>>();
  readonly damage: Damage[];
  readonly segments: SegmentSet;
  readonly writer: LogWriter;
  private readonly reader: PayloadReader;
  private readonly lock: DirLock;
  /** Payloads appended but not yet written (folds), served from memory until then. */
  private readonly pendingPayloads = new Map<number, Buffer>();
  /**
   * Slots whose state was applied to memory while its write is still on its way (update,
   * fail, a fold's rewrite), with how many such writes. Compaction must not snapshot
   * them (stateInFlight): its copy would carry a state the log may never get.
   */
  private readonly statesInFlight = new Map<number, number>();
  /** Bumped by reset(): an insert appended before a reset must not be applied after it. */
  private epoch = 0;
  private closed = false;
  private readonly compaction: CompactionLoop;
  /** The fs port the store was opened with (snapshot.ts reads segments through it). */
  fs: FsPort = nodeFs;
  /** Compaction work since open, for /metrics: segments retired, records copied forward. */
  readonly compactionStats = { segments: 0, jobs: 0, errors: 0, blobs: 0 };
  /** How open() rebuilt the table, and the log it replayed (recover-log.ts). */
  recovery: Recovery = { from: "scan" };
  private readonly checkpoints: CheckpointPacer;
  /**
   * Segments below this one were synced by syncLog in this process. 0 at open: a killed
   * process may have left the page cache ahead of the disk.
   */
  private logSyncedFrom = 0;
  /** Size of the checkpoint file (it counts towards disk use, compaction.ts). */
  checkpointBytes = 0;
  /** Where background failures (compaction) are reported; the store keeps serving. */
  onBackgroundError: (err: unknown) => void = () => {};

  private constructor(
    dir: string, table: JobTable, lock: DirLock, segments: SegmentSet, writer: LogWriter, reader: PayloadReader, damage: Damage[],
    checkpoints: boolean, checkpointEveryMs: number,
  ) {
    this.checkpoints = new CheckpointPacer(this, checkpoints, checkpointEveryMs);
    this.compaction = new CompactionLoop(this, () => this.checkpoints.markStale());
    this.dir = dir;
    this.table = table;
    this.lock = lock;
    this.segments = segments;
    this.writer = writer;
    this.reader = reader;
    this.damage = damage;
  }

  static async open(options: StoreOptions): Promise<Store> {
    const fs = options.fs ?? nodeFs;
    const now = options.now ?? Date.now;
    const dir = path.resolve(options.dir);
    const segDir = path.join(dir, "segments");
    await fs.mkdir(segDir).catch((err: NodeJS.ErrnoException) => {
      // A raw "ENOTDIR: not a directory, mkdir …/segments" did not say which path was wrong.
      const what = err.code === "ENOTDIR" || err.code === "EEXIST" ? `${dir} is not a directory of zizq data` : `cannot create ${segDir}`;
      throw new StorageError("io", `${what}: ${err.message}`);
    });
    const lock = lockDir(dir);
    // Files opened so far, closed again if the open fails (a failed open leaked them).
    let opened: SegmentSet | undefined;
    try {
      const segmentBytes = await readOrCreateMeta(fs, dir, options.segmentBytes ?? DEFAULT_SEGMENT_BYTES, now());
      for (const name of await fs.readdir(segDir)) {
        // Half-preallocated spares from a crash: cheaper to redo than to trust.
        if (name.startsWith("spare-")) await fs.unlink(path.join(segDir, name));
      }
      // A checkpoint cut short by a crash (up to ~600 MB at 10M jobs) would sit on the
      // disk until the next checkpoint overwrites it. Never read: only a renamed file is.
      await fs.unlink(path.join(dir, `${CHECKPOINT_FILE}.tmp`)).catch(() => {});
      const segments = new SegmentSet(fs, segDir, segmentBytes, options.syncDirs ?? false, now);
      opened = segments;
      const writer = new LogWriter(segments, fs, now);
      const reader = new PayloadReader(fs, segments, options.cacheBytes ?? 64 * 1024 * 1024, (s) => writer.writtenEnd(s));
      const useCheckpoint = options.checkpoint ?? true;
      const verifyThreadBytes = options.verifyThreadBytes ?? 256 * 1024 * 1024;
      let { table, blobs, scan, recovery, at } = await recoverLog(fs, dir, segDir, segmentBytes, useCheckpoint, now, verifyThreadBytes);
      if (recovery.from === "checkpoint" && !pointsOnlyInto(table, blobs, new Set(scan.segments.map((s) => s.no)))) {
        for (const s of scan.segments) await fs.close(s.fd).catch(() => {});
        ({ table, blobs, scan } = await recoverLog(fs, dir, segDir, segmentBytes, false, now));
        recovery = { from: "scan", reason: "the checkpoint points into a segment that is gone" };
        at = undefined;
      }
      for (const s of scan.segments) segments.adopt(s);
      const torn = scan.damage.find((d) => d.kind === "torn");
      if (torn) {
        // Zero the torn bytes now, so new records never sit in front of stale ones.
        const seg = segments.get(torn.segment)!;
        await fs.writev(seg.fd, [Buffer.alloc(torn.bytes)], torn.offset);
      }
      writer.init(scan.headNo, scan.cursor);
      const store = new Store(dir, table, lock, segments, writer, reader, scan.damage, useCheckpoint, options.checkpointEveryMs ?? 5_000);
      store.fs = fs;
      store.recovery = { ...recovery, replayedBytes: replayedBytes(scan, at) };
      store.checkpointBytes = await fs.size(path.join(dir, CHECKPOINT_FILE)).catch(() => 0);
      store.creditReplayed(store.recovery.replayedBytes!);
      writer.onSeal = () => {
        segments.nextBytes = segments.sizeFor(liveBytes(store));
        void store.scheduleCompaction();
        store.scheduleCheckpoint();
      };
      for (const [k, v] of blobs) store.blobs.set(k, v);
      writer.reservedBytes += reserveForAll(table);
      segments.nextBytes = segments.sizeFor(liveBytes(store));
      await segments.prepareSpare();
      store.checkpoints.start();
      return store;
    } catch (err) {
      await opened?.close().catch(() => {});
      lock.release();
      throw err;
    }
  }

  // ---- writes -------------------------------------------------------------------

  /**
   * Write new jobs, plus payload rewrites of existing jobs (batch folds) and blobs (a cron
   * group's advanced schedule, so a crash cannot separate a firing from it), as one atomic
   * group; resolves with the new jobs' slots once durable. Rewrites are visible at once
   * (their payload is served from memory until written); new jobs and blobs once durable.
   * `idWords`, when given, holds each new job's id as four words (JobTable.add), in order.
   */
  async insert(
    jobs: readonly NewJob[], sync: boolean, rewrites: readonly Rewrite[] = [], blobs: readonly BlobWrite[] = [], idWords?: Uint32Array,
  ): Promise<number[]> {
    this.assertOpen();
    if (jobs.length === 0 && rewrites.length === 0 && blobs.length === 0) return [];
    if (jobs.length > 1 && rewrites.length === 0 && blobs.length === 0) return this.insertGroup(jobs, sync, idWords);
    const frames = jobs.map((j) => encodeJobRecord(RECORD_JOB, j.meta, j.payload));
    const rewriteFrames = rewrites.map((r) => encodeJobRecord(RECORD_JOB, r.meta, r.payload));
    const blobFrames = blobs.map((b) => frameRecord(RECORD_BLOB, encodeBlobBody(b.namespace, b.key, b.value)));
    let reserve = 0;
    for (const f of frames) reserve += reserveForRecord(f);
    // A fold that grows a job's options grows its reserve too (applyMeta): room for that.
    const growth = rewrites.length === 0 ? 0 : Math.max(0, reserveGrowth(this.table, rewrites.map((r) => r.slot), rewriteFrames));
    const all = [...frames, ...rewriteFrames, ...blobFrames];
    const size = groupBytes(all) + growth;
    for (let wait = this.writer.ensureRoom(size + reserve); wait; wait = this.writer.ensureRoom(size + reserve)) await wait;
    // Waiting for room yielded: a rewrite's job may have changed (been taken, say) since
    // the caller planned it. Applying its old state now would undo that change.
    for (const r of rewrites) {
      if (r.gen !== undefined && this.table.gen[r.slot] !== r.gen) {
        throw new StorageError("stale", `job ${r.meta.id} changed while the write waited for room`);
      }
    }
    const { locations, done } = this.appendGroup(all, sync);
    if (blobs.length > 0) this.trackBlobWrites(blobs, done);
    const finishRewrites = rewrites.map((r, i) => this.beginRewrite(r, rewriteFrames[i]));
    this.writer.reservedBytes += reserve;
    try {
      await done;
    } catch (err) {
      this.writer.reservedBytes -= reserve;
      for (const f of finishRewrites) f(undefined);
      throw err;
    }
    // A reset appended before us was applied before this (batches settle in append
    // order); one appended after us clears these jobs after this.
    finishRewrites.forEach((f, i) => f(locations[frames.length + i]));
    this.noteBlobs(blobs, blobFrames, locations.slice(frames.length + rewriteFrames.length));
    return jobs.map((j, i) => {
      const slot = this.table.add(j.meta, jobLocation(locations[i], frames[i], j.payload.length), jobOptionsBytes(frames[i], RECORD_HEADER_BYTES), idWords, i * 4);
      this.table.index(slot);
      return slot;
    });
  }

  /**
   * insert() of two or more jobs alone (a bulk enqueue): the same TXN record, encoded in
   * place (encodeJobGroup), and the jobs' places read off its offsets, with no buffer a job.
   */
  private async insertGroup(jobs: readonly NewJob[], sync: boolean, idWords: Uint32Array | undefined): Promise<number[]> {
    const starts = new Uint32Array(jobs.length + 1);
    const txn = encodeJobGroup(jobs, starts);
    let reserve = 0;
    for (let i = 0; i < jobs.length; i++) reserve += reserveForRecordAt(txn, starts[i]);
    for (let wait = this.writer.ensureRoom(txn.length + reserve); wait; wait = this.writer.ensureRoom(txn.length + reserve)) await wait;
    const { location, done } = this.writer.append(txn, sync);
    this.writer.reservedBytes += reserve;
    try {
      await done;
    } catch (err) {
      this.writer.reservedBytes -= reserve;
      throw err;
    }
    const slots: number[] = [];
    for (let i = 0; i < jobs.length; i++) {
      const recordOffset = location.offset + starts[i];
      const recordLength = starts[i + 1] - starts[i];
      const payloadLength = jobs[i].payload.length;
      const at = { segment: location.segment, offset: recordOffset + recordLength - payloadLength, length: payloadLength, recordOffset, recordLength };
      const slot = this.table.add(jobs[i].meta, at, jobOptionsBytes(txn, starts[i] + RECORD_HEADER_BYTES), idWords, i * 4);
      this.table.index(slot);
      slots.push(slot);
    }
    return slots;
  }

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
  async update(
    slots: readonly number[], metas: readonly JobMeta[], sync: boolean,
    extra: { blobs?: readonly BlobWrite[]; reserved?: boolean } = {},
  ): Promise<void> {
    const blobs = extra.blobs ?? NO_BLOBS;
    this.assertOpen();
    if (slots.length === 0 && blobs.length === 0) return;
    const frames = metas.map((m) => encodeJobRecord(RECORD_META, m));
    const blobFrames = blobs.length === 0 ? NO_FRAMES : blobs.map((b) => frameRecord(RECORD_BLOB, encodeBlobBody(b.namespace, b.key, b.value)));
    const all = blobFrames.length === 0 ? frames : [...frames, ...blobFrames];
    // Counting what the jobs' reserve grows by (longer names or options: a PATCH, a
    // budget binding), so that growth cannot eat the room kept for acks either.
    if (!extra.reserved) this.refuseIfFull(all, slots);
    // Appended before memory changes: a write too large for a segment throws here, and
    // must leave nothing applied (no await between the two).
    const { locations, done } = this.appendGroup(all, sync);
    if (blobs.length > 0) this.trackBlobWrites(blobs, done);
    const undo = slots.map((slot, i) => this.applyMeta(slot, metas[i], frames[i]));
    try {
      await done;
    } catch (err) {
      for (const u of undo) u();
      throw err;
    } finally {
      for (const slot of slots) this.stateLanded(slot);
    }
    // A reset appended after us clears them after this (batches settle in append order).
    if (blobs.length > 0) this.noteBlobs(blobs, blobFrames, locations.slice(frames.length));
  }

  private trackBlobWrites(blobs: readonly { namespace: number; key: string }[], done: Promise<void>): void {
    const settled = done.then(() => {}, () => {});
    const keys = blobs.map((b) => blobKey(b.namespace, b.key));
    for (const k of keys) this.blobWrites.set(k, settled);
    void settled.then(() => {
      for (const k of keys) if (this.blobWrites.get(k) === settled) this.blobWrites.delete(k);
    });
  }

  /** A write of the blob (its key in `blobs`) still in flight, if any (see blobWrites). */
  blobWriteInFlight(key: string): Promise<void> | undefined {
    return this.blobWrites.get(key);
  }

  /** Blobs just written: in memory, with where they are on disk. */
  private noteBlobs(blobs: readonly BlobWrite[], frames: readonly Buffer[], locations: readonly Location[]): void {
    blobs.forEach((b, i) => this.blobs.set(blobKey(b.namespace, b.key), { value: b.value, ...locations[i], length: frames[i].length }));
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
  async recordMeta(slots: readonly number[], sync: boolean): Promise<void> {
    this.assertOpen();
    if (slots.length === 0) return;
    // Each record stands alone: groups that fit a segment (1,024 in one did not fit 64 KiB).
    await this.appendInGroups(slots.map((slot) => encodeJobRecord(RECORD_META, this.table.meta(slot))), sync).done;
  }

  /** Replace a job's payload and state (a batch fold): a new JOB record. */
  rewrite(slot: number, meta: JobMeta, payload: Buffer, sync: boolean): Promise<void> {
    return this.insert([], sync, [{ slot, meta, payload }]).then(() => undefined);
  }

  /** Apply a rewrite now; the returned function finishes it (location) or undoes it (undefined). */
  private beginRewrite(r: Rewrite, frame: Buffer): (at: Location | undefined) => void {
    const before = this.table.location(r.slot);
    const undo = this.applyMeta(r.slot, r.meta, frame);
    this.pendingPayloads.set(r.slot, r.payload);
    return (at) => {
      this.stateLanded(r.slot);
      if (this.pendingPayloads.get(r.slot) === r.payload) this.pendingPayloads.delete(r.slot);
      if (!this.table.sameJob(r.slot, r.meta.id)) return;
      if (at) {
        this.table.setLocation(r.slot, jobLocation(at, frame, r.payload.length));
      } else {
        undo();
        this.table.setLocation(r.slot, before);
      }
    };
  }

  /**
   * Record a failure: the job's new state and its error record, atomically. `accepted`
   * runs synchronously once the write is taken, before the new state is applied; a
   * refused write rejects without calling it and changes nothing. No reserve covers a
   * failure (a job may fail any number of times; its reserve is for the one completion),
   * so on a full disk it is refused when it would eat the room kept for acks
   * (LogWriter.refusalFor), as update() is: heavy nacking there used to use that room
   * up, and then every write failed, acks included, until space came back. `reserved`:
   * a kill the server itself decides (a poison job's last abandonment), whose dead state
   * takes the place of the completion its reserve was kept for and must not be refused,
   * or the job would be handed out again; its error record is written only if it fits
   * beyond the reserve (it is not covered: a run of kills used the room kept for acks).
   */
  async fail(
    slot: number, meta: JobMeta, attempt: number, record: unknown, sync: boolean,
    extra: { accepted?: () => void; reserved?: boolean } = {},
  ): Promise<void> {
    this.assertOpen();
    let frames = [
      encodeJobRecord(RECORD_META, meta),
      frameRecord(RECORD_ERROR, encodeErrorBody(meta.id, attempt, record)),
    ];
    if (!extra.reserved) {
      this.refuseIfFull(frames, [slot]);
    } else if (this.writer.refusalFor(RECORD_HEADER_BYTES + frames[1].length)) {
      // The reserve covers the dead state (it stands for the completion), not the error
      // record: on a full disk the kill is written without it, its history one record short.
      frames = [frames[0]];
    }
    // Appended before anything changes: a record too large for a segment throws here.
    const { locations, done } = this.appendGroup(frames, sync);
    extra.accepted?.();
    const undo = this.applyMeta(slot, meta, frames[0]);
    try {
      await done;
    } catch (err) {
      undo();
      throw err;
    } finally {
      this.stateLanded(slot);
    }
    if (frames.length > 1 && this.table.sameJob(slot, meta.id)) {
      addErrorLocation(this.table, slot, { attempt, ...locations[1], length: frames[1].length });
    }
  }

  /**
   * Delete jobs, removed from memory at once. Ids go in DELETE records of at most
   * `deleteChunk` ids; each record is atomic, so a crash mid-way leaves every job either
   * deleted or intact.
   */
  async remove(slots: readonly number[], sync: boolean): Promise<void> {
    this.assertOpen();
    const chunk = this.deleteChunk();
    const writes: Promise<void>[] = [];
    for (let i = 0; i < slots.length; i += chunk) writes.push(this.removeChunk(slots.slice(i, i + chunk), sync));
    const results = await Promise.allSettled(writes);
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  /** Ids per DELETE record: at most 8192, and at most half a segment. */
  deleteChunk(): number {
    return Math.max(1, Math.min(8192, Math.floor((this.segments.startBytes - SEGMENT_HEADER_BYTES) / 2 / 25)));
  }

  private async removeChunk(slots: readonly number[], sync: boolean): Promise<void> {
    const t = this.table;
    // Ids straight from the table's words: no per-job id string (bulk deletes of ~1M).
    const frame = Buffer.allocUnsafe(RECORD_HEADER_BYTES + slots.length * 25);
    slots.forEach((s, i) => writeIdAscii(t.idw, s * 4, frame, RECORD_HEADER_BYTES + i * 25));
    // Names are still interned while the slots are held (JobTable.hold).
    let reserved = 0;
    for (const s of slots) reserved += reserveOf(t, s);
    const held = t.hold(slots);
    this.writer.reservedBytes -= reserved;
    const epoch = this.epoch;
    const { done } = this.appendGroup([sealRecord(frame, RECORD_DELETE)], sync);
    try {
      await done;
    } catch (err) {
      // Unless a reset (written before this failed) has removed every job meanwhile.
      if (epoch === this.epoch) {
        t.revive(slots, held);
        this.writer.reservedBytes += reserved;
      } else {
        t.release(slots);
      }
      throw err;
    }
    t.release(slots);
  }


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
  async reset(sync: boolean, applied: () => void = () => {}): Promise<void> {
    this.assertOpen();
    // Compaction copies jobs and blobs as memory holds them: paused until memory is cleared.
    const resumeCompaction = await this.pauseCompaction();
    try {
      await this.appendGroup([frameRecord(RECORD_RESET, Buffer.alloc(0))], sync).done;
    } finally {
      resumeCompaction();
    }
    this.epoch++;
    // Inserts appended after the reset keep the reserve they added; only the cleared jobs' goes.
    this.writer.reservedBytes -= reserveForAll(this.table);
    this.table.clear();
    this.blobs.clear();
    this.pendingPayloads.clear();
    applied();
  }

  /**
   * A blob alone: insert's path, so it waits for room as records do, and a reset written
   * after it keeps it out of memory as it is out of the log.
   */
  async putBlob(namespace: number, key: string, value: Buffer, sync: boolean): Promise<void> {
    await this.insert([], sync, [], [{ namespace, key, value }]);
  }

  /**
   * Remove a blob once its delete is written. Dropped from memory before the write, a
   * refused delete (a 507 for DELETE /budgets/{key}, DELETE /crons/{group}) left the blob
   * out of every later checkpoint and compaction copy while the budget or group was still
   * served, so a restart lost it. A put appended after this delete lands after it.
   */
  async deleteBlob(namespace: number, key: string, sync: boolean): Promise<void> {
    this.assertOpen();
    const { done } = this.appendGroup([frameRecord(RECORD_BLOB_DELETE, encodeBlobBody(namespace, key))], sync);
    this.trackBlobWrites([{ namespace, key }], done);
    await done;
    this.blobs.delete(blobKey(namespace, key));
  }

  blobsIn(namespace: number): Map<string, Buffer> {
    const out = new Map<string, Buffer>();
    const prefix = blobKey(namespace, "");
    for (const [k, v] of this.blobs) if (k.startsWith(prefix)) out.set(k.slice(prefix.length), v.value);
    return out;
  }

  // ---- reads --------------------------------------------------------------------

  /** The payload's compact JSON bytes. */
  payload(slot: number): Buffer {
    const pending = this.pendingPayloads.get(slot);
    if (pending) return pending;
    const t = this.table;
    return this.reader.read(t.paySeg[slot], t.payOff[slot], t.payLen[slot]);
  }

  /** Decoded error records of a job, ascending by attempt. */
  errors(slot: number): unknown[] {
    const locations = this.table.extras.get(slot)?.errors ?? [];
    return locations.map((loc) => {
      const bytes = this.reader.read(loc.segment, loc.offset, loc.length);
      return decodeErrorRecord(bytes, RECORD_HEADER_BYTES, bytes.length);
    });
  }

  /** Raw bytes of a framed record (compaction copies them as they are). */
  readRecord(segment: number, offset: number, length: number): Buffer {
    return this.reader.read(segment, offset, length);
  }

  /** Drop cached reads of a segment that compaction retired. */
  forgetSegment(segment: number): void {
    this.reader.forget(segment);
  }

  /**
   * Compact while disk use exceeds twice the live data (see compaction.ts). Runs in
   * the background after a segment is sealed; one run at a time (compaction-loop.ts).
   */
  scheduleCompaction(): Promise<void> {
    return this.compaction.schedule();
  }

  /** Compact every sealed segment now (POST /compact, `zizq compact`). */
  compactAll(): Promise<void> {
    return this.compaction.all();
  }

  /**
   * Stop compaction (a backup is copying segments) until the returned function is
   * called; resolves once any compaction already running has finished.
   */
  pauseCompaction(): Promise<() => void> {
    return this.compaction.pause();
  }

  /** Resolves once everything appended so far is written. */
  flush(): Promise<void> {
    return this.writer.flush();
  }

  /**
   * Make the log written so far durable, bytes and segment names, before a checkpoint is:
   * the checkpoint points at payloads and error records in it, and a power cut that kept
   * the checkpoint but not those records served payloads of zeros and undecodable error
   * records (test/storage/power-loss.test.ts). A zero-filled end of a sealed segment reads
   * as its end, so the check of the log before P (recover.ts) cannot see what is missing.
   *
   * Up to the head as it is now, not only to P: the chunks are fuzzy, and hold states
   * applied while they were encoded (a job inserted, an error record added) whose records
   * are after P. Replay after P cannot restore those when the power cut lost them; synced
   * only up to P, a buffered-mode cut kept the checkpoint, lost the job's record after P,
   * and the store served the checkpoint's pointer into zeros.
   *
   * Segments from the one the last call synced up to the head:
   * writes only go to the head, and compaction's copies are synced as they are written.
   * Then their names: buffered mode syncs no dir when it activates a segment, so a cut
   * could keep the synced bytes of a segment and lose its rename (open then deletes it as a
   * spare, or finds a gap), and jobs acknowledged long before the checkpoint were gone or
   * deleted ones back (bench/reliability/power-loss.ts, buffered mode). So a completed
   * checkpoint is a point before which nothing is lost, in every mode. Off the write path,
   * once per checkpoint: an fdatasync per segment written since the last one (usually
   * one), one dir sync (none when every name is synced already: the fsync modes).
   * Checkpoints call it before they are written, compaction before it deletes a segment.
   * Requires: every append the caller's state may reflect has landed (writer.flush).
   */
  async syncLog(): Promise<void> {
    const head = this.writer.head.segment;
    for (const no of this.segments.numbers()) {
      const seg = this.segments.get(no);
      if (no < this.logSyncedFrom || no > head || !seg) continue;
      const failed = this.writer.syncFailure(no);
      if (failed) throw failed;
      // Compaction may retire (and close) an old segment meanwhile: then it needs nothing.
      await this.fs.fdatasync(seg.fd).catch((err: unknown) => { if (this.segments.get(no) === seg) throw err; });
    }
    await this.segments.syncNames();
    this.logSyncedFrom = Math.max(this.logSyncedFrom, head);
  }

  /** Write a checkpoint in the background if one is due after a seal (checkpoint-pacer.ts). */
  scheduleCheckpoint(): void {
    this.checkpoints.schedule();
  }

  /** The timer's check: start a background checkpoint once enough log was appended. */
  checkpointIfDue(): void {
    this.checkpoints.ifDue();
  }

  /** Count the log this open replayed as appended since the last checkpoint (CheckpointPacer.creditReplayed). */
  creditReplayed(bytes: number): void {
    this.checkpoints.creditReplayed(bytes);
  }

  /** Write a checkpoint now (tests, benches); false if this attempt was given up. */
  checkpoint(): Promise<boolean> {
    return this.checkpoints.now();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Bumped by reset() (a checkpoint that saw one is retried). */
  get resetEpoch(): number {
    return this.epoch;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.checkpoints.stop();
    await this.compaction.running;
    await this.writer.idle();
    await this.checkpoints.running;
    // The next start reads this instead of every segment. A failure only costs that
    // start a full scan.
    if (this.checkpoints.enabled) await writeCheckpoint(this, true).catch(() => false);
    await this.segments.close();
    this.reader.clear();
    this.lock.release();
  }

  // ---- internals ----------------------------------------------------------------

  /**
   * Append records that need no atomicity across them (compaction copies, requeue
   * records), in order, as atomic groups of at most a quarter segment: one group could
   * outgrow a segment and fail with too_large for good. No reserve covers them, so on a
   * full disk they are refused (refuseIfFull) before any is appended.
   */
  appendInGroups(frames: readonly Buffer[], sync: boolean): { locations: Location[]; done: Promise<void> } {
    this.refuseIfFull(frames);
    const budget = Math.floor((this.segments.startBytes - SEGMENT_HEADER_BYTES) / 4);
    const locations: Location[] = [];
    const writes: Promise<void>[] = [];
    for (let i = 0; i < frames.length;) {
      let end = i + 1;
      let bytes = RECORD_HEADER_BYTES + frames[i].length;
      while (end < frames.length && bytes + frames[end].length <= budget) bytes += frames[end++].length;
      const group = this.appendGroup(frames.slice(i, end), sync);
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
  private refuseIfFull(frames: readonly Buffer[], slots: readonly number[] = NO_SLOTS): void {
    const growth = slots.length === 0 ? 0 : Math.max(0, reserveGrowth(this.table, slots, frames));
    const refusal = this.writer.refusalFor(groupBytes(frames) + growth);
    if (refusal) throw refusal;
  }

  /** Group records into one atomic append: a single record, or a TXN holding them. */
  appendGroup(frames: Buffer[], sync: boolean): { locations: Location[]; done: Promise<void> } {
    if (frames.length === 1) {
      const { location, done } = this.writer.append(frames[0], sync);
      return { locations: [location], done };
    }
    // One buffer: the frames copied once, after the TXN header (not concat, then frame).
    let bytes = RECORD_HEADER_BYTES;
    for (const f of frames) bytes += f.length;
    const txn = Buffer.allocUnsafe(bytes);
    for (let i = 0, at = RECORD_HEADER_BYTES; i < frames.length; at += frames[i++].length) frames[i].copy(txn, at);
    sealRecord(txn, RECORD_TXN);
    const { location, done } = this.writer.append(txn, sync);
    const locations: Location[] = [];
    let offset = location.offset + RECORD_HEADER_BYTES;
    for (const f of frames) {
      locations.push({ segment: location.segment, offset });
      offset += f.length;
    }
    return { locations, done };
  }

  /**
   * Apply a new state now, `frame` being its record; returns an undo that reverts it if
   * nothing moved since.
   */
  private applyMeta(slot: number, meta: JobMeta, frame: Buffer): () => void {
    const before = this.table.meta(slot);
    // The completion reserve depends on the names and the options: a move to another
    // queue or type, or a change of options (PATCH, budget binding, batch fold), must
    // move it too, or the remove() that subtracts the new size drifts it (issue 12).
    const was = reserveOf(this.table, slot);
    const wasOptionsBytes = this.table.extras.get(slot)?.optionsBytes;
    const drift = reserveForRecord(frame) - was;
    this.writer.reservedBytes += drift;
    this.table.unindex(slot);
    this.table.update(slot, meta, jobOptionsBytes(frame, RECORD_HEADER_BYTES));
    this.table.index(slot);
    this.statesInFlight.set(slot, (this.statesInFlight.get(slot) ?? 0) + 1);
    const gen = this.table.gen[slot];
    return () => {
      if (this.table.gen[slot] !== gen) return;
      this.writer.reservedBytes -= drift;
      this.table.unindex(slot);
      this.table.update(slot, before, wasOptionsBytes);
      this.table.index(slot);
    };
  }



  /** A write applyMeta counted has settled (landed or failed, its undo already run). */
  private stateLanded(slot: number): void {
    const n = this.statesInFlight.get(slot)!;
    if (n > 1) this.statesInFlight.set(slot, n - 1);
    else this.statesInFlight.delete(slot);
  }

  /**
   * Is a state of this slot applied in memory but not yet written? (A slot freed and
   * reused meanwhile answers yes until that write settles: only a copy is put off.)
   */
  stateInFlight(slot: number): boolean {
    return this.statesInFlight.has(slot);
  }

  private assertOpen(): void {
    if (this.closed) throw new StorageError("io", "store is closed");
  }
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


export const openStore = (options: StoreOptions): Promise<Store> => Store.open(options);
