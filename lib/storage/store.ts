// openStore(dir): lock the dir, recover every segment, rebuild the in-memory indexes,
// then hand back a Store that is ready to serve. The Store turns job-state changes
// into records (one group per call, so each call is atomic on disk) and keeps the
// job table in step with the log.
//
// Ordering rule: inserts are applied to memory after their write completes (a job is
// never visible before it is durable); updates and deletes are applied at once (so
// concurrent callers see them) and rolled back if their write fails.
//
// Each write path has a file of its own (store-insert.ts, store-update.ts, store-fail.ts,
// store-remove.ts, store-reset.ts, store-blobs.ts): a function over the state the paths
// share (_store-state.ts), to which the method here delegates.

import path from "node:path";
import { type JobMeta, decodeErrorRecord } from "./codec.ts";
import { CHECKPOINT_FILE, pointsOnlyInto, writeCheckpoint } from "./checkpoint.ts";
import { CheckpointPacer } from "./checkpoint-pacer.ts";
import { liveBytes } from "./compaction.ts";
import { CompactionLoop } from "./compaction-loop.ts";
import { readOrCreateMeta } from "./dir-meta.ts";
import { StorageError } from "./errors.ts";
import { DEFAULT_SEGMENT_BYTES, RECORD_HEADER_BYTES } from "./format.ts";
import { type FsPort, nodeFs } from "./fs-port.ts";
import type { JobTable } from "./job-table.ts";
import { type DirLock, lockDir } from "./lock.ts";
import { type Location, LogWriter } from "./log-writer.ts";
import { LogSync } from "./log-sync.ts";
import { PayloadReader } from "./payload-reader.ts";
import type { Damage } from "./recover.ts";
import { type Recovery, recoverLog, replayedBytes } from "./recover-log.ts";
import type { BlobEntry } from "./replay.ts";
import { SegmentSet } from "./segment-set.ts";
import { blobsIn, deleteBlob } from "./store-blobs.ts";
import { fail } from "./store-fail.ts";
import { insert } from "./store-insert.ts";
import { deleteChunk, remove } from "./store-remove.ts";
import { reset } from "./store-reset.ts";
import { recordMeta, update } from "./store-update.ts";
import { appendGroup, appendInGroups } from "./_append.ts";
import { reserveForAll } from "./_reserve.ts";
import { StoreState } from "./_store-state.ts";

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
  readonly damage: Damage[];
  readonly segments: SegmentSet;
  readonly writer: LogWriter;
  private readonly reader: PayloadReader;
  private readonly lock: DirLock;
  /** What the write paths share: the state ahead of the log, the reset epoch (_store-state.ts). */
  private readonly state: StoreState;
  private readonly compaction: CompactionLoop;
  /** The fs port the store was opened with (snapshot.ts reads segments through it). */
  fs: FsPort = nodeFs;
  /** Compaction work since open, for /metrics: segments retired, records copied forward. */
  readonly compactionStats = { segments: 0, jobs: 0, errors: 0, blobs: 0 };
  /** How open() rebuilt the table, and the log it replayed (recover-log.ts). */
  recovery: Recovery = { from: "scan" };
  private readonly checkpoints: CheckpointPacer;
  private readonly logSync = new LogSync(this);
  /** Size of the checkpoint file (it counts towards disk use, compaction.ts). */
  checkpointBytes = 0;
  /** Where background failures (compaction) are reported; the store keeps serving. */
  onBackgroundError: (err: unknown) => void = () => {};

  private constructor(
    dir: string, table: JobTable, lock: DirLock, segments: SegmentSet, writer: LogWriter, reader: PayloadReader, damage: Damage[],
    checkpoints: boolean, checkpointEveryMs: number,
  ) {
    this.state = new StoreState(table, writer, segments, this.blobs);
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

  // ---- writes (one file per operation: store-insert.ts, store-update.ts, ...) ------

  /**
   * Write new jobs, plus payload rewrites of existing jobs (batch folds) and blobs (a cron
   * group's advanced schedule, so a crash cannot separate a firing from it), as one atomic
   * group; resolves with the new jobs' slots once durable. Rewrites are visible at once
   * (their payload is served from memory until written); new jobs and blobs once durable.
   * `idWords`, when given, holds each new job's id as four words (JobTable.add), in order.
   */
  insert(
    jobs: readonly NewJob[], sync: boolean, rewrites: readonly Rewrite[] = [], blobs: readonly BlobWrite[] = [], idWords?: Uint32Array,
  ): Promise<number[]> {
    return insert(this.state, jobs, sync, rewrites, blobs, idWords);
  }

  /**
   * Persist new states for existing jobs (META records), applied to memory at once, with
   * `extra.blobs` in the same atomic group; blobs are visible once durable. Refused with a
   * `full` StorageError on a full disk unless `extra.reserved` (store-update.ts says why).
   */
  update(
    slots: readonly number[], metas: readonly JobMeta[], sync: boolean,
    extra: { blobs?: readonly BlobWrite[]; reserved?: boolean } = {},
  ): Promise<void> {
    return update(this.state, slots, metas, sync, extra);
  }

  /** A write of the blob (its key in `blobs`) still in flight, if any (see StoreState.blobWrites). */
  blobWriteInFlight(key: string): Promise<void> | undefined {
    return this.state.blobWrites.get(key);
  }

  /**
   * Write the jobs' state as the table holds it, changing nothing (jobs a dropped take
   * stream put back to ready), so that a restart or a scan finds it; refused on a full
   * disk as update() is (store-update.ts).
   */
  recordMeta(slots: readonly number[], sync: boolean): Promise<void> {
    return recordMeta(this.state, slots, sync);
  }

  /** Replace a job's payload and state (a batch fold): a new JOB record. */
  rewrite(slot: number, meta: JobMeta, payload: Buffer, sync: boolean): Promise<void> {
    return this.insert([], sync, [{ slot, meta, payload }]).then(() => undefined);
  }

  /**
   * Record a failure: the job's new state and its error record, atomically. `accepted`
   * runs synchronously once the write is taken, before the new state is applied; a
   * refused write rejects without calling it and changes nothing (store-fail.ts).
   */
  fail(
    slot: number, meta: JobMeta, attempt: number, record: unknown, sync: boolean,
    extra: { accepted?: () => void; reserved?: boolean } = {},
  ): Promise<void> {
    return fail(this.state, slot, meta, attempt, record, sync, extra);
  }

  /**
   * Delete jobs, removed from memory at once. Ids go in DELETE records of at most
   * `deleteChunk` ids; each record is atomic, so a crash mid-way leaves every job either
   * deleted or intact.
   */
  remove(slots: readonly number[], sync: boolean): Promise<void> {
    return remove(this.state, slots, sync);
  }

  /** Ids per DELETE record: at most 8192, and at most half a segment. */
  deleteChunk(): number {
    return deleteChunk(this.state);
  }

  /**
   * Delete every job and blob, once the RESET record is written; `applied` runs at that
   * moment, synchronously. Requires: the caller keeps rewrites of existing jobs out while
   * it is in flight (store-reset.ts).
   */
  reset(sync: boolean, applied: () => void = () => {}): Promise<void> {
    return reset(this.state, this.compaction, sync, applied);
  }

  /**
   * A blob alone: insert's path, so it waits for room as records do, and a reset written
   * after it keeps it out of memory as it is out of the log.
   */
  async putBlob(namespace: number, key: string, value: Buffer, sync: boolean): Promise<void> {
    await this.insert([], sync, [], [{ namespace, key, value }]);
  }

  /** Remove a blob once its delete is written (store-blobs.ts). */
  deleteBlob(namespace: number, key: string, sync: boolean): Promise<void> {
    return deleteBlob(this.state, namespace, key, sync);
  }

  blobsIn(namespace: number): Map<string, Buffer> {
    return blobsIn(this.state, namespace);
  }

  // ---- reads --------------------------------------------------------------------

  /** The payload's compact JSON bytes. */
  payload(slot: number): Buffer {
    const pending = this.state.pendingPayloads.get(slot);
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
   * Make the log written so far durable, bytes and segment names, up to the head as it is
   * now (log-sync.ts says why each). Checkpoints call it before they are written,
   * compaction before it deletes a segment.
   * Requires: every append the caller's state may reflect has landed (writer.flush).
   */
  syncLog(): Promise<void> {
    return this.logSync.sync();
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
    return this.state.closed;
  }

  /** Bumped by reset() (a checkpoint that saw one is retried). */
  get resetEpoch(): number {
    return this.state.epoch;
  }

  async close(): Promise<void> {
    if (this.state.closed) return;
    this.state.closed = true;
    this.checkpoints.stop();
    await this.compaction.running;
    await this.writer.idle();
    await this.checkpoints.running;
    // The next start reads this instead of every segment. A failure only costs that
    // start a full scan.
    if (this.checkpoints.enabled) await writeCheckpoint(this, true).catch(() => false);
    // A sync that failed (that checkpoint's, say) is repaired before the files close: the
    // next process would find those pages in the page cache, marked clean though maybe
    // never written, and count them durable at its first sync (log-writer.ts, repair).
    await this.writer.repairPending().catch((err: unknown) => this.onBackgroundError(err));
    await this.segments.close();
    this.reader.clear();
    this.lock.release();
  }

  // ---- internals ----------------------------------------------------------------

  /**
   * Append records that need no atomicity across them (compaction copies, requeue
   * records), in order, as atomic groups of at most a quarter segment; refused on a full
   * disk before any is appended (_append.ts).
   */
  appendInGroups(frames: readonly Buffer[], sync: boolean): { locations: Location[]; done: Promise<void> } {
    return appendInGroups(this.state, frames, sync);
  }

  /** Group records into one atomic append: a single record, or a TXN holding them. */
  appendGroup(frames: Buffer[], sync: boolean): { locations: Location[]; done: Promise<void> } {
    return appendGroup(this.state, frames, sync);
  }

  /**
   * Is a state of this slot applied in memory but not yet written? (A slot freed and
   * reused meanwhile answers yes until that write settles: only a copy is put off.)
   */
  stateInFlight(slot: number): boolean {
    return this.state.statesInFlight.has(slot);
  }
}

export const openStore = (options: StoreOptions): Promise<Store> => Store.open(options);
