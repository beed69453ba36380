// The append path: group commit over the segment set. Every append in one event-loop
// turn joins one batch, written with one positional writev per segment (and one
// fdatasync per batch when any caller asked for it). A caller's promise resolves only
// after its bytes are written (buffered) or synced (fsync).
//
// Invariant: a location handed out by append() is final: later batches never reuse it.
// A failed batch leaves a hole that the next batch covers with PAD records first.

import { frameRecord } from "./codec.ts";
import { StorageError, fromFsError } from "./errors.ts";
import { RECORD_HEADER_BYTES, RECORD_PAD, SEGMENT_HEADER_BYTES } from "./format.ts";
import type { FsPort } from "./fs-port.ts";
import { Histogram } from "./histogram.ts";
import type { Segment, SegmentSet } from "./segment-set.ts";

export interface Location {
  segment: number;
  offset: number;
}

interface Pending {
  segment: number;
  offset: number;
  bytes: Buffer;
}

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
  sync: boolean;
}

interface Hole {
  segment: number;
  offset: number;
  length: number;
}

const BATCH_BOUNDS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096];
const FSYNC_BOUNDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
/** Buffered mode: the head is synced in the background after this many bytes (syncInBackground). */
const BACKGROUND_SYNC_BYTES = 8 * 1024 * 1024;
/** A repair after a failed fdatasync reads back and rewrites this much at a time. */
const REPAIR_CHUNK_BYTES = 1024 * 1024;

export class LogWriter {
  private readonly set: SegmentSet;
  private readonly fs: FsPort;
  private readonly now: () => number;
  private headNo = 1;
  private cursor = SEGMENT_HEADER_BYTES;
  /** Size of the head segment; 0 until a fresh log's first record claims one. */
  private headBytes = 0;
  private pending: Pending[] = [];
  private waiters: Waiter[] = [];
  private holes: Hole[] = [];
  private flushing: Promise<void> | undefined;
  /** End of completed writes per segment, for segments that may still receive bytes. */
  private readonly written = new Map<number, number>();
  /** Segments written to since their last fdatasync by this writer (syncOlderThan). */
  private readonly unsynced = new Set<number>();
  /** Every segment before this one has a durable name (syncOlderThan); 0 after open, where none is taken as durable. */
  private namedBefore = 0;
  /** Buffered mode: bytes written into `syncSegment` since its last background sync began. */
  private bytesSinceSync = 0;
  private syncSegment = 0;
  /** The background sync in flight (one at a time), and the segment it syncs. */
  private backgroundSync: { segment: number; done: Promise<void> } | undefined;
  /** Per segment: every byte below this was covered by an fdatasync that succeeded. */
  private readonly syncedTo = new Map<number, number>();
  /**
   * Segments an fdatasync failed on, with the end of the bytes in doubt and the error.
   * Why kept: Linux marks the pages a failed write-back covered clean, maybe never
   * written, and reports the error to one fdatasync only, so the next one succeeds over
   * them: a roll, or a checkpoint, would count lost records durable ("fsyncgate"). They
   * are repaired instead (repair(): read back from the page cache, rewritten, synced)
   * by the flush loop, before anything else is written and before a roll or a checkpoint
   * counts the segment synced.
   */
  private readonly needsRepair = new Map<number, { from: number; upTo: number; error: Error }>();
  /** Segments repaired after a failed fdatasync (for tests and reports). */
  repairs = 0;
  /** Where the cursor stood when a segment was sealed: written up to there = complete. */
  private readonly sealedAt = new Map<number, number>();
  private scheduled = false;
  /** The newest append's promise: batches settle in append order, so when it settles, all earlier ones have. */
  private newest: Promise<void> | undefined;
  /** Bytes promised to future completion/delete records of live jobs (see ensureRoom). */
  reservedBytes = 0;
  /** Records per commit batch and fdatasync seconds, for /metrics (allocation-free). */
  readonly stats = { batchRecords: new Histogram(BATCH_BOUNDS), fsyncSeconds: new Histogram(FSYNC_BOUNDS), bytes: 0 };
  /** Bytes appended since open (checkpoints are written when it has moved on). */
  appendedBytes = 0;
  /** Batches that failed so far (a checkpoint taken meanwhile is thrown away). */
  failures = 0;
  /** Buffered mode: the head is synced in the background after this many bytes (tests lower it). */
  backgroundSyncBytes = BACKGROUND_SYNC_BYTES;
  /** Called after a segment is sealed (the head moved past it). */
  onSeal: (no: number) => void = () => {};

  constructor(set: SegmentSet, fs: FsPort, now: () => number) {
    this.set = set;
    this.fs = fs;
    this.now = now;
  }

  /** Continue the log at `cursor` in segment `headNo` (from recovery). */
  init(headNo: number, cursor: number): void {
    this.headNo = headNo;
    this.cursor = cursor;
    this.headBytes = this.set.get(headNo)?.bytes ?? 0;
    this.written.set(headNo, cursor);
  }

  /** Offset below which every byte of `segment` has been written (see payload-reader.ts). */
  writtenEnd(segment: number): number {
    const w = this.written.get(segment);
    if (w === undefined) return segment < this.headNo ? this.set.get(segment)?.bytes ?? 0 : 0;
    return w;
  }

  get head(): Location {
    return { segment: this.headNo, offset: this.cursor };
  }

  /** Record bytes a segment of the size the next spare gets can hold. */
  private get slack(): number {
    return this.set.nextBytes - SEGMENT_HEADER_BYTES;
  }

  /** Bytes that can be appended without preallocating another segment. */
  room(): number {
    const headLeft = this.headBytes > 0 && this.set.isPreallocated(this.headNo) ? this.headBytes - this.cursor : 0;
    return headLeft + this.set.spareRecordBytes() - this.reservedBytes;
  }

  /** Can a `bytes` record be placed in preallocated space (the head's rest, or a spare)? */
  private fits(bytes: number): boolean {
    const headLeft = this.headBytes > 0 && this.set.isPreallocated(this.headNo) ? this.headBytes - this.cursor : 0;
    return headLeft >= bytes || this.set.hasSpareFor(bytes);
  }

  /**
   * Make sure `bytes` (plus what is already reserved) fit in preallocated space, so that
   * a record we accept now, and the completion records we promised, never meet a full
   * disk. Returns undefined on the fast path; otherwise a promise that rejects with a
   * `full` StorageError if no spare could be preallocated.
   */
  ensureRoom(bytes: number): Promise<void> | undefined {
    if (bytes > this.set.maxBytes - SEGMENT_HEADER_BYTES) {
      return Promise.reject(new StorageError("too_large", `a ${bytes}-byte write does not fit in a ${this.set.maxBytes}-byte segment`));
    }
    // Keep a segment of slack (or the write's size, if larger) so the head can roll
    // even when the last record is large.
    const slack = Math.max(this.slack, bytes);
    const left = this.room() - bytes;
    if (left >= slack && this.fits(bytes)) {
      // Less than two segments left: start the next spare now, off the write path. Waiting
      // until the slack was gone made the insert that crossed the line wait for a whole
      // segment of zeros (with 64 MiB segments: 8 inserts of a 1M-job load stalled 30-280 ms each).
      if (left < 2 * slack) this.set.prepareSpare().catch(() => {});
      return undefined;
    }
    return (async () => {
      while (this.room() - bytes < slack || !this.fits(bytes)) await this.set.prepareSpare(this.fits(bytes) ? 0 : bytes);
    })();
  }

  /**
   * For a write that no reserve was kept for (a change to an existing job other than its
   * completion, a compaction copy): undefined when `bytes` may be appended now, else the
   * storage error to refuse it with. Such a write may not eat the room kept for
   * completion records (ensureRoom's fast path), unless no preallocation has failed for
   * want of space: then the spare it needs is merely still being made, and it goes on as
   * any append does. Not awaited (the caller planned its state from the table as it is
   * now); the spare is prepared in the background, and once one is made the disk is no
   * longer taken for full.
   */
  refusalFor(bytes: number): StorageError | undefined {
    const wait = this.ensureRoom(bytes);
    if (wait === undefined) return undefined;
    wait.catch(() => {});
    return this.set.refusal;
  }

  /**
   * Spares that can go while ensureRoom's slack stays, plus one more kept so the next
   * inserts do not preallocate again at once. The reserve shrinks as jobs finish, but a
   * spare made for it would otherwise stay until the next restart: a drained backlog of
   * 10M jobs left ~2 GB of zeros on disk.
   */
  surplusSpares(): number {
    let room = this.room();
    let n = 0;
    for (const c of this.set.spareCapacities().reverse()) {
      if (room - c < 2 * this.slack) break;
      room -= c;
      n++;
    }
    return n;
  }

  /** Queue one framed record; the returned location is where it will be. */
  append(record: Buffer, sync: boolean): { location: Location; done: Promise<void> } {
    if (record.length > this.set.maxBytes - SEGMENT_HEADER_BYTES) {
      throw new StorageError("too_large", `a ${record.length}-byte record does not fit in a segment`);
    }
    // A fresh log's first segment is claimed by its first record.
    if (this.headBytes === 0) this.headBytes = this.set.claim(this.headNo, record.length);
    if (this.cursor + record.length > this.headBytes) {
      const sealed = this.headNo;
      this.sealedAt.set(sealed, this.cursor);
      if ((this.written.get(sealed) ?? 0) >= this.cursor) this.finishSegment(sealed);
      this.headNo += 1;
      this.cursor = SEGMENT_HEADER_BYTES;
      this.headBytes = this.set.claim(this.headNo, record.length);
      this.onSeal(sealed);
      // Start preallocating the next spare now, off the write path.
      if (this.set.spareCount === 0) this.set.prepareSpare().catch(() => {});
    }
    const location = { segment: this.headNo, offset: this.cursor };
    this.cursor += record.length;
    this.appendedBytes += record.length;
    this.pending.push({ segment: location.segment, offset: location.offset, bytes: record });
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject, sync }));
    this.newest = done;
    this.schedule();
    return { location, done };
  }

  private schedule(): void {
    if (this.scheduled || this.flushing) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flushing = this.flushLoop().finally(() => {
        this.flushing = undefined;
        // An append that arrived after the loop's last check but before this callback
        // saw `flushing` set and did not schedule itself: pick it up now.
        if (this.pending.length > 0) this.schedule();
      });
    });
  }

  private async flushLoop(): Promise<void> {
    let padSync = false;
    while (this.pending.length > 0) {
      const batch = this.pending;
      const waiters = this.waiters;
      this.pending = [];
      this.waiters = [];
      const sync = waiters.some((w) => w.sync);
      this.stats.batchRecords.observe(batch.length);
      try {
        await this.writeBatch(batch, sync);
        for (const w of waiters) w.resolve();
      } catch (err) {
        for (const p of batch) this.holes.push({ segment: p.segment, offset: p.offset, length: p.bytes.length });
        padSync ||= sync;
        this.failures++;
        const error = fromFsError(err, "writing to the log");
        for (const w of waiters) w.reject(error);
      }
    }
    if (this.needsRepair.size > 0) await this.repairAll().catch(() => {});
    // Cover a failed batch now, not only in front of the next one: if no next batch
    // comes before a restart (a clean close, or a kill), a batch that was fully written
    // but whose fdatasync failed would be replayed although every caller in it was told
    // it failed. One attempt; if it fails too, the next batch retries first.
    if (this.holes.length > 0) await this.writeBatch([], padSync).catch(() => {});
  }

  /**
   * Write `batch` (after padding the holes of failed batches), and fdatasync it if `sync`.
   * Invariant: a hole stays in `holes` until its pad is written and this batch succeeded.
   * A pad whose batch failed is padded again by the next one: a failed fdatasync leaves
   * its pages marked clean but maybe never written (Linux reports it once), so no later
   * fdatasync makes them durable, and a power cut could leave zeros there with synced,
   * acknowledged records after them, which recovery then dropped as a torn tail (the
   * storage power-loss harness with faults: ENOSPC, then EIO on the pad's sync).
   */
  private async writeBatch(batch: Pending[], sync: boolean): Promise<void> {
    const padding = this.holes;
    this.holes = [];
    try {
      if (this.needsRepair.size > 0) await this.repairAll();
      await this.writeRecords(padding, batch, sync);
    } catch (err) {
      this.holes = [...padding, ...this.holes];
      throw err;
    }
  }

  private async writeRecords(padding: readonly Hole[], batch: Pending[], sync: boolean): Promise<void> {
    const touched = new Set<number>();
    // Cover failed writes first: a later record must never follow half-written bytes.
    for (const hole of padding) {
      await this.writeRun(hole.segment, hole.offset, [padRecord(hole.length)]);
      touched.add(hole.segment);
      this.unsynced.add(hole.segment);
    }
    /** Where this batch's own records start in each segment (a failed sync's repair stops there). */
    const firstRecord = sync ? new Map<number, number>() : undefined;
    let start = 0;
    while (start < batch.length) {
      let end = start + 1;
      while (end < batch.length && batch[end].segment === batch[start].segment
        && batch[end].offset === batch[end - 1].offset + batch[end - 1].bytes.length) end++;
      const run = batch.slice(start, end);
      if (firstRecord && !firstRecord.has(run[0].segment)) firstRecord.set(run[0].segment, run[0].offset);
      await this.syncOlderThan(run[0].segment);
      const bytes = await this.writeRun(run[0].segment, run[0].offset, run.map((p) => p.bytes));
      touched.add(run[0].segment);
      this.unsynced.add(run[0].segment);
      if (!sync) this.syncInBackground(run[0].segment, bytes);
      start = end;
    }
    if (sync) {
      for (const no of touched) {
        const segment = this.set.get(no);
        this.unsynced.delete(no);
        if (!segment) continue;
        const started = performance.now();
        // On failure this batch's records become holes (padded, never repaired: their
        // callers are told it failed); what was written before them (buffered writes,
        // pads) is in doubt with them.
        await this.trackedSync(no, segment, firstRecord!.get(no));
        this.stats.fsyncSeconds.observe((performance.now() - started) / 1000);
      }
      // The names too (nothing to do unless one changed unsynced): a segment whose dir
      // sync failed at its activation stays active, named, and a synced record in a file
      // with no durable name is lost whole by a power cut.
      if (!this.set.namesDurable) await this.set.syncNames();
    }
  }

  /**
   * Before the first bytes go into a newer segment, make the older ones' writes durable
   * (buffered mode; fsync mode synced them with their batch). A power cut may keep any
   * unsynced sector, and write-back order is not write order: the new head's first
   * records (an ack, a later enqueue with the same unique key, a cron group saved after
   * a firing) could survive while the sealed segment's last ones (the nack before that
   * ack, the delete that freed the key, the firing) were lost, and recovery, which
   * skips a sealed segment's lost sectors and reads on, served states no write made:
   * attempts without their error record, a unique key held by two jobs, a schedule that
   * fired without its jobs (bench/reliability/power-loss-queue.ts, buffered mode). With
   * this, what a cut keeps of the log is a prefix up to a gap in the newest segment,
   * where the scan stops. Cost: one fdatasync per segment roll, in buffered mode only.
   * Their names too (buffered mode syncs no dir at activation): a disk that orders name
   * changes as POSIX allows could keep the rename of segment N+1 and lose that of N, and
   * open, which deletes a `spare-*` file and reads on past a missing segment, served N+1's
   * records without N's (a unique key's new job without the delete that freed it, a bulk
   * enqueue in part; bench/reliability/power-loss-queue.ts, buffered/posix, and
   * test/storage/power-loss.test.ts). The dir sync runs in the background from the
   * activation on (SegmentSet.syncNamesOlderThan), so the roll rarely waits for it.
   * Invariant: no segment is written while an older one holds unsynced bytes or an
   * unsynced name.
   */
  private async syncOlderThan(no: number): Promise<void> {
    for (const older of [...this.unsynced]) {
      if (older >= no) continue;
      await this.fdatasyncSegment(older, true);
      this.unsynced.delete(older);
    }
    if (no > this.namedBefore) {
      await this.set.syncNamesOlderThan(no);
      this.namedBefore = no;
    }
  }

  /**
   * fdatasync segment `no`, for the roll (syncOlderThan, `inFlushLoop`) and the
   * checkpoint's log sync (log-sync.ts), after a background sync of it in flight. A
   * segment awaiting repair (a failed sync, here or before) is repaired by the roll, in
   * the flush loop where nothing else writes; a checkpoint refuses it (the flush loop is
   * told to repair it). Nothing if compaction retired (and closed) the segment
   * meanwhile: it needs nothing.
   */
  async fdatasyncSegment(no: number, inFlushLoop: boolean): Promise<void> {
    if (this.backgroundSync?.segment === no) await this.backgroundSync.done;
    if (!this.needsRepair.has(no)) {
      const segment = this.set.get(no);
      if (!segment) return;
      const ok = await this.trackedSync(no, segment).then(() => true, () => this.set.get(no) !== segment);
      if (ok) return;
    }
    if (inFlushLoop) return this.repair(no);
    this.schedule();
    throw this.needsRepair.get(no)!.error;
  }

  /** The failure kept for segment `no` until it is repaired, if any. */
  syncFailure(no: number): Error | undefined {
    return this.needsRepair.get(no)?.error;
  }

  /**
   * fdatasync segment `no`, kept track of for repair: on success the bytes written before
   * it are synced; on failure (unless compaction retired the segment meanwhile: nothing
   * was lost with it) bytes up to `doubtUpTo` (default: all written by then) await a
   * repair, and the error is rethrown.
   */
  private async trackedSync(no: number, segment: Segment, doubtUpTo?: number): Promise<void> {
    const end = this.writtenEnd(no);
    const from = this.syncedTo.get(no) ?? 0;
    try {
      await this.fs.fdatasync(segment.fd);
    } catch (err) {
      if (this.set.get(no) === segment) this.failedSync(no, err, from, doubtUpTo ?? this.writtenEnd(no));
      throw err;
    }
    this.synced(no, end);
  }

  private synced(no: number, end: number): void {
    if (end > (this.syncedTo.get(no) ?? 0)) this.syncedTo.set(no, end);
  }

  /**
   * An fdatasync of `no` failed: bytes [from, upTo) are in doubt, `from` being where the
   * syncs that had succeeded stood when it was issued. Not later: a sync that succeeds
   * beside a failing one does not make the pages the failure dropped durable.
   */
  private failedSync(no: number, err: unknown, from: number, upTo: number): void {
    const kept = this.needsRepair.get(no);
    this.needsRepair.set(no, {
      from: Math.min(kept?.from ?? from, from), upTo: Math.max(kept?.upTo ?? 0, upTo), error: kept?.error ?? fromFsError(err, "syncing the log"),
    });
  }

  /** Repair every segment a failed sync left in doubt, once nothing else writes (Store.close). */
  async repairPending(): Promise<void> {
    await this.idle();
    if (this.needsRepair.size > 0) await this.repairAll();
  }

  private async repairAll(): Promise<void> {
    for (const no of [...this.needsRepair.keys()]) await this.repair(no);
  }

  /**
   * Rewrite the bytes of segment `no` a failed fdatasync left in doubt, as the page cache
   * still holds them, and sync them: new dirty pages, which the next write-back does
   * write. Runs in the flush loop only (nothing else writes meanwhile). If it fails, the
   * segment stays to repair, and the write that needed it fails. Not covered: a page the
   * kernel evicted between the failed write-back and this read comes back as the disk
   * has it (the failure is read here within milliseconds of being reported).
   */
  private async repair(no: number): Promise<void> {
    const kept = this.needsRepair.get(no);
    const segment = this.set.get(no);
    if (!kept) return;
    if (!segment) {
      this.needsRepair.delete(no);
      return;
    }
    const { from, upTo } = kept;
    const chunk = Buffer.allocUnsafe(Math.max(0, Math.min(REPAIR_CHUNK_BYTES, upTo - from)));
    for (let at = from; at < upTo; at += chunk.length) {
      const n = Math.min(chunk.length, upTo - at);
      const read = await this.fs.read(segment.fd, chunk, 0, n, at);
      const written = read === n ? await this.fs.writev(segment.fd, [chunk.subarray(0, n)], at) : -1;
      if (written !== n) throw new StorageError("io", `repairing segment ${no} after a failed sync: short ${read === n ? "write" : "read"}`, { segment: no, offset: at });
    }
    await this.fs.fdatasync(segment.fd);
    // A failure meanwhile (a background sync) may have widened the bytes in doubt: repaired next time.
    const now = this.needsRepair.get(no);
    if (now?.upTo === upTo && now.from === from) this.needsRepair.delete(no);
    this.synced(no, upTo);
    this.repairs++;
  }

  /**
   * Buffered mode: once BACKGROUND_SYNC_BYTES went into the head since the last sync
   * began, sync it in the background, off the write path. The roll's sync (above) then
   * finds at most that much unwritten, not a whole segment: with 64 MiB segments (stores
   * over ~512 MiB live) every roll stalled all writes for one full segment's write-back,
   * ~70 ms here. Only adds syncs: what a cut keeps is still a prefix of the log.
   */
  private syncInBackground(no: number, bytes: number): void {
    if (no !== this.syncSegment) {
      this.syncSegment = no;
      this.bytesSinceSync = 0;
    }
    this.bytesSinceSync += bytes;
    if (this.bytesSinceSync < this.backgroundSyncBytes || this.backgroundSync) return;
    const segment = this.set.get(no);
    if (!segment) return;
    this.bytesSinceSync = 0;
    const done = this.trackedSync(no, segment).catch(() => {
      // The flush loop repairs it, even with nothing else to write.
      if (this.needsRepair.has(no)) this.schedule();
    }).finally(() => {
      if (this.backgroundSync?.done === done) this.backgroundSync = undefined;
    });
    this.backgroundSync = { segment: no, done };
  }

  /** Writes `buffers` at `offset` of segment `no`; returns the bytes written. */
  private async writeRun(no: number, offset: number, buffers: Buffer[]): Promise<number> {
    const segment = this.set.get(no) ?? await this.set.activate(no, this.now());
    const bufs = buffers.length > 64 ? [Buffer.concat(buffers)] : buffers;
    let total = 0;
    for (const b of bufs) total += b.length;
    // Synchronous when the port allows: a batch write lands in the page cache in ~2 µs,
    // while a thread-pool round trip (fs.writev) measured 16.7 µs per batch on this
    // machine — most of the enqueue→ack latency at low load (docs/benchmarks.md).
    // fdatasync, the slow part of the fsync mode, stays asynchronous.
    const written = this.fs.writevSync
      ? this.fs.writevSync(segment.fd, bufs, offset)
      : await this.fs.writev(segment.fd, bufs, offset);
    this.stats.bytes += written;
    if (written !== total) {
      throw new StorageError("io", `short write: ${written} of ${total} bytes`, { segment: no, offset });
    }
    const end = Math.max(this.written.get(no) ?? 0, offset + total);
    this.written.set(no, end);
    const sealedAt = this.sealedAt.get(no);
    if (sealedAt !== undefined && end >= sealedAt) this.finishSegment(no);
    return total;
  }

  private finishSegment(no: number): void {
    this.written.delete(no);
    this.sealedAt.delete(no);
  }

  /**
   * Resolves when everything appended so far has been written (or has failed).
   * Not "until nothing is pending": under a steady stream of appends that moment never
   * comes, and compaction, which flushes before each slice, would stall for good.
   */
  async flush(): Promise<void> {
    await this.newest?.catch(() => {});
  }

  /** Resolves when nothing is pending, scheduled or being written (for close), nor synced in the background. */
  async idle(): Promise<void> {
    while (this.flushing || this.scheduled || this.pending.length > 0 || this.backgroundSync) {
      if (this.flushing) await this.flushing;
      else if (this.backgroundSync) await this.backgroundSync.done;
      else await new Promise((r) => setImmediate(r));
    }
  }
}

/** A PAD record exactly `length` bytes long (length >= the record header). */
export function padRecord(length: number): Buffer {
  return frameRecord(RECORD_PAD, Buffer.alloc(length - RECORD_HEADER_BYTES));
}
