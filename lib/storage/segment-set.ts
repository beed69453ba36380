// The segment files of one data dir: naming, preallocating spares by writing zeros,
// activating a spare as the next numbered segment, and retiring compacted segments.
// Preallocation runs ahead of need so the write path rarely waits for it.
//
// Segments grow with the data (format 2, docs/format.md): each file is as long as it was
// preallocated, from 2 MiB up to `maxBytes` (meta.json's segment_bytes), sized by the
// store's live data (`nextBytes`). An empty store takes a few MiB, not 64 MiB per file;
// every byte a record lands on is still preallocated before the record is accepted.

import path from "node:path";
import { crc32 } from "node:zlib";
import { type StorageError, fromFsError } from "./errors.ts";
import { FORMAT_VERSION, SEGMENT_HEADER_BYTES, SEGMENT_MAGIC } from "./format.ts";
import type { FsPort } from "./fs-port.ts";

export interface Segment {
  no: number;
  path: string;
  fd: number;
  /** File length: where this segment ends. */
  bytes: number;
}

interface Spare {
  path: string;
  fd: number;
  bytes: number;
  /** The segment number its header holds, synced with its zeros (see activate). */
  no: number;
}

/** Size of the first segments of a store (or `maxBytes` when that is smaller). */
export const START_SEGMENT_BYTES = 2 * 1024 * 1024;

/** Smallest power of two >= n (n >= 1). */
export const pow2ceil = (n: number): number => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

const ZERO_CHUNK = Buffer.alloc(1024 * 1024);

export const segmentFileName = (no: number): string => `${String(no).padStart(8, "0")}.seg`;

export function parseSegmentFileName(name: string): number | undefined {
  const m = /^(\d{8,})\.seg$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

export function encodeSegmentHeader(no: number, createdAtMs: number): Buffer {
  const header = Buffer.alloc(SEGMENT_HEADER_BYTES);
  SEGMENT_MAGIC.copy(header, 0);
  header.writeUInt16LE(FORMAT_VERSION, 8);
  header.writeUInt32LE(no, 12);
  header.writeDoubleLE(createdAtMs, 16);
  header.writeUInt32LE(crc32(header.subarray(0, 28)), 28);
  return header;
}

/** Returns the segment number in a valid header, or undefined. */
export function checkSegmentHeader(header: Buffer): number | undefined {
  if (header.length < SEGMENT_HEADER_BYTES) return undefined;
  if (!header.subarray(0, 8).equals(SEGMENT_MAGIC)) return undefined;
  if (header.readUInt32LE(28) !== crc32(header.subarray(0, 28))) return undefined;
  if (header.readUInt16LE(8) !== FORMAT_VERSION) return undefined;
  return header.readUInt32LE(12);
}

export class SegmentSet {
  readonly dir: string;
  /** The largest segment (meta.json's segment_bytes); a record must fit in one. */
  readonly maxBytes: number;
  /** The smallest segment this set makes. */
  readonly startBytes: number;
  /** Size of the next spare (the store sets it from its live data, see sizeFor). */
  nextBytes: number;
  private readonly fs: FsPort;
  private readonly fsyncDir: boolean;
  private readonly now: () => number;
  private readonly active = new Map<number, Segment>();
  private readonly spares: Spare[] = [];
  /** Spares already promised to a segment number by claim(), not yet activated. */
  private readonly claimed = new Map<number, Spare | number>();
  private preparing: Promise<void> | undefined;
  /** The number the spare being prepared is stamped with. */
  private preparingNo = 0;
  private spareCounter = 0;
  /**
   * Activations that had to write and sync a header (the spare was stamped for another
   * number): the rare slow path, counted for tests.
   */
  restamps = 0;
  /**
   * Name changes in the dir (activations' renames, retirements' deletes) issued, and how
   * many of them a syncDir has covered. At open every name is taken as unsynced: a killed
   * process may have left renames in the page cache that never reached the disk.
   */
  private namesChanged = 1;
  private namesSynced = 0;
  /** The name change that named each segment this process activated (adopted ones: 1, the open's). */
  private readonly namedAt = new Map<number, number>();
  /** The syncDir in flight, started by syncNames or in the background at an activation. */
  private namesSyncing: Promise<void> | undefined;
  /** A background name sync's failure, for the next syncNames to report (as LogWriter's background syncs). */
  private namesFailure: Error | undefined;
  /**
   * Why the last preallocation failed, when it was for want of disk space or files, until
   * one succeeds: the disk is full now (LogWriter.refusalFor refuses unreserved writes).
   */
  refusal: StorageError | undefined;

  constructor(fs: FsPort, dir: string, maxBytes: number, fsyncDir: boolean, now: () => number = Date.now) {
    this.fs = fs;
    this.now = now;
    this.dir = dir;
    this.maxBytes = maxBytes;
    this.startBytes = Math.min(maxBytes, START_SEGMENT_BYTES);
    this.nextBytes = this.startBytes;
    this.fsyncDir = fsyncDir;
  }

  /**
   * Segment size for a store holding `liveBytes` of live records: an eighth of it (so
   * the head and its spares stay small next to the data, docs/format.md), a power of
   * two between startBytes and maxBytes.
   */
  sizeFor(liveBytes: number): number {
    const want = 2 ** Math.floor(Math.log2(Math.max(1, liveBytes / 8)));
    return Math.max(this.startBytes, Math.min(this.maxBytes, want));
  }

  /** Register a segment found on open. */
  adopt(segment: Segment): void {
    this.active.set(segment.no, segment);
  }

  get(no: number): Segment | undefined {
    return this.active.get(no);
  }

  numbers(): number[] {
    return [...this.active.keys()].sort((a, b) => a - b);
  }

  get spareCount(): number {
    return this.spares.length;
  }

  /** Record bytes the spares hold (their size less the segment header), oldest first. */
  spareCapacities(): number[] {
    return this.spares.map((s) => s.bytes - SEGMENT_HEADER_BYTES);
  }

  /** Record bytes of all spares together (room() asks on every insert: no array made). */
  spareRecordBytes(): number {
    let bytes = 0;
    for (const s of this.spares) bytes += s.bytes - SEGMENT_HEADER_BYTES;
    return bytes;
  }

  /** Is there a spare that a `recordBytes` record fits in? */
  hasSpareFor(recordBytes: number): boolean {
    for (const s of this.spares) if (s.bytes - SEGMENT_HEADER_BYTES >= recordBytes) return true;
    return false;
  }

  /** Has segment `no` preallocated space already (active, or a spare claimed for it)? */
  isPreallocated(no: number): boolean {
    return this.active.has(no) || typeof this.claimed.get(no) === "object";
  }

  /**
   * Preallocate one more spare file, of nextBytes (or bigger, so a `recordBytes` record
   * fits). Concurrent callers share one preparation, then make another if it was too small.
   */
  prepareSpare(recordBytes = 0): Promise<void> {
    if (this.preparing) {
      return this.preparing.then(() => (this.hasSpareFor(recordBytes) ? undefined : this.prepareSpare(recordBytes)));
    }
    const bytes = this.sizeForRecord(recordBytes);
    this.preparingNo = this.nextNumber();
    this.preparing = this.preallocate(bytes, this.preparingNo).then((spare) => { this.spares.push(spare); })
      .finally(() => { this.preparing = undefined; this.preparingNo = 0; });
    return this.preparing;
  }

  /**
   * The number a spare made now will most likely become: the one after every segment,
   * claim and spare so far. Spares are claimed oldest first (claim), so it is right
   * unless a record too big for the older spares takes a newer one first.
   */
  private nextNumber(): number {
    let last = this.preparingNo;
    for (const no of this.active.keys()) last = Math.max(last, no);
    for (const no of this.claimed.keys()) last = Math.max(last, no);
    for (const s of this.spares) last = Math.max(last, s.no);
    return last + 1;
  }

  /** Resolves when no spare is being made. */
  async idle(): Promise<void> {
    while (this.preparing) await this.preparing.catch(() => {});
  }

  private sizeForRecord(recordBytes: number): number {
    return Math.min(this.maxBytes, Math.max(this.nextBytes, pow2ceil(recordBytes + SEGMENT_HEADER_BYTES)));
  }

  /** A spare file of `bytes` zeros but the header of segment `no`, all synced. */
  private async preallocate(bytes: number, no: number): Promise<Spare> {
    const file = path.join(this.dir, `spare-${process.pid}-${++this.spareCounter}.seg`);
    let fd: number | undefined;
    try {
      fd = await this.fs.open(file, "w+");
      // Written, not truncated to size: a sparse file could hit ENOSPC on a later write
      // that we have already promised will succeed (completion records, see log-writer.ts).
      for (let pos = 0; pos < bytes; pos += ZERO_CHUNK.length) {
        const n = Math.min(ZERO_CHUNK.length, bytes - pos);
        const chunk = n === ZERO_CHUNK.length ? ZERO_CHUNK : ZERO_CHUNK.subarray(0, n);
        const written = await this.fs.writev(fd, [chunk], pos);
        if (written !== n) throw Object.assign(new Error("short write while preallocating"), { code: "ENOSPC" });
      }
      // The header now, synced with the zeros, so that it is durable before the rename
      // that activates the file can be (see activate).
      await this.writeHeader(fd, no);
      await this.fs.fdatasync(fd);
      this.refusal = undefined;
      return { path: file, fd, bytes, no };
    } catch (err) {
      if (fd !== undefined) await this.fs.close(fd).catch(() => {});
      await this.fs.unlink(file).catch(() => {});
      const error = fromFsError(err, "preallocating a segment");
      if (error.kind === "full" || error.kind === "no_files") this.refusal = error;
      throw error;
    }
  }

  /**
   * Promise segment `no` a spare that a `recordBytes` record fits in (the log writer,
   * when it moves its head): returns the segment's size. With no such spare ready, the
   * size is planned and activate() preallocates it (the writer's ensureRoom makes that rare).
   */
  claim(no: number, recordBytes: number): number {
    const fits = (s: Spare) => s.bytes - SEGMENT_HEADER_BYTES >= recordBytes;
    // The one stamped for `no` if it fits: activating it then writes and syncs nothing.
    const stamped = this.spares.findIndex((s) => s.no === no && fits(s));
    const i = stamped >= 0 ? stamped : this.spares.findIndex(fits);
    if (i >= 0) {
      const [spare] = this.spares.splice(i, 1);
      this.claimed.set(no, spare);
      return spare.bytes;
    }
    const bytes = this.sizeForRecord(recordBytes);
    this.claimed.set(no, bytes);
    return bytes;
  }

  /**
   * Turn segment `no`'s claimed spare into the segment: give it its real name.
   *
   * Invariant: a numbered segment's header is durable no later than its name. The header
   * is written and synced with the spare's zeros when the spare is made (off the write
   * path), for the number it will most likely get; only when it got another one is the
   * header written and synced here. Before, it was written here and synced only in the
   * fsync modes (this fdatasync sat on the write path of every roll, a latency spike every
   * few seconds once segments start at 2 MiB): a buffered-mode power cut could keep the
   * rename and lose the header, and the segment then read as "bad segment header" on
   * every open until compacted, with a full scan each time (a checkpoint is not used over
   * damage). Its records were not lost by that: the header shares a sector with the first
   * records, so they were lost with it, and nothing after that gap had been synced.
   */
  async activate(no: number, nowMs: number): Promise<Segment> {
    const existing = this.active.get(no);
    if (existing) return existing;
    const promised = this.claimed.get(no) ?? this.claim(no, 0);
    this.claimed.delete(no);
    let spare: Spare;
    try {
      spare = typeof promised === "object" ? promised : await this.preallocate(promised, no);
    } catch (err) {
      this.claimed.set(no, promised);
      throw err;
    }
    const file = path.join(this.dir, segmentFileName(no));
    try {
      if (spare.no !== no) {
        await this.writeHeader(spare.fd, no, nowMs);
        await this.fs.fdatasync(spare.fd);
        spare.no = no;
        this.restamps++;
      }
      await this.fs.rename(spare.path, file);
    } catch (err) {
      this.claimed.set(no, spare);
      throw fromFsError(err, `activating segment ${no}`, { segment: no });
    }
    // Counted once done: a syncNames that read the count while the rename was still in
    // the thread pool could sync the dir before it and take it as covered (retire).
    const change = ++this.namesChanged;
    this.namedAt.set(no, change);
    // Active from the rename on, whatever the dir sync below does: the spare's path is
    // gone (put back as a spare, every later activation failed renaming it, ENOENT, until
    // a restart). Its name's durability is then the writer's to wait for (syncNames).
    const segment = { no, path: file, fd: spare.fd, bytes: spare.bytes };
    this.active.set(no, segment);
    // Keep a spare ready for the next roll, so a roll never waits for 64 MiB of zeros.
    // A failure here (disk full) surfaces through ensureRoom when room is needed.
    if (this.spares.length === 0) this.prepareSpare().catch(() => {});
    if (this.fsyncDir) {
      try {
        await this.syncNames();
      } catch (err) {
        throw fromFsError(err, `activating segment ${no}`, { segment: no });
      }
    } else {
      // Buffered mode: the roll past this segment needs its name durable
      // (syncNamesOlderThan); synced now, off the write path, it is by then (a dir sync
      // took up to 137 ms under load).
      this.syncNames().catch((err: unknown) => {
        this.namesFailure ??= fromFsError(err, "syncing the segment names");
      });
    }
    return segment;
  }

  private async writeHeader(fd: number, no: number, nowMs = this.now()): Promise<void> {
    const header = encodeSegmentHeader(no, nowMs);
    const written = await this.fs.writev(fd, [header], 0);
    if (written !== header.length) throw Object.assign(new Error("short write of segment header"), { code: "EIO" });
  }

  /** Delete up to `count` spares, newest first (the reserve they stood for is gone). */
  async releaseSpares(count: number): Promise<void> {
    // Taken out synchronously, so no activation can pick one of them meanwhile.
    const gone = this.spares.splice(Math.max(0, this.spares.length - count));
    for (const spare of gone) {
      await this.fs.close(spare.fd).catch(() => {});
      await this.fs.unlink(spare.path).catch(() => {});
    }
  }

  /**
   * Make every segment name given so far durable (one syncDir, skipped when nothing
   * changed since the last one). Only buffered mode ever has work here: the fsync modes
   * sync the dir at each activation. A synced file with no durable name is lost whole on
   * a power cut (open deletes a `spare-*` file, and a POSIX disk may keep a later rename
   * or unlink without an earlier one), so what must outlive a power cut, the log before a
   * checkpoint and compaction's copies, needs its segments' names synced as well as its bytes.
   */
  async syncNames(): Promise<void> {
    const failed = this.namesFailure;
    if (failed) {
      this.namesFailure = undefined;
      throw failed;
    }
    const upTo = this.namesChanged;
    if (this.namesSynced >= upTo) return;
    const syncing = this.fs.syncDir(this.dir);
    this.namesSyncing = syncing;
    try {
      await syncing;
    } finally {
      if (this.namesSyncing === syncing) this.namesSyncing = undefined;
    }
    this.namesSynced = Math.max(this.namesSynced, upTo);
  }

  /** Every name change so far is durable (the writer's synced batches skip syncNames then). */
  get namesDurable(): boolean {
    return this.namesSynced >= this.namesChanged && !this.namesFailure;
  }

  /**
   * Make the names of every segment older than `no` durable (LogWriter, before its first
   * write into `no`): usually done already by the background sync their activation began,
   * else after the sync in flight, else by one now.
   */
  async syncNamesOlderThan(no: number): Promise<void> {
    let upTo = 1;
    for (const [n, change] of this.namedAt) if (n < no && change > upTo) upTo = change;
    if (this.namesSynced >= upTo && !this.namesFailure) return;
    await this.namesSyncing?.catch(() => {});
    if (this.namesSynced >= upTo && !this.namesFailure) return;
    await this.syncNames();
  }

  /**
   * Delete a compacted segment. Callers make sure nothing points into it any more, and
   * that the copies of its live records, and the records that left it with nothing else
   * live, are synced (compaction.ts).
   * Requires: no unlink of a retired segment can reach the disk before the names of the
   * segments holding the copies. Without the syncNames first (buffered mode syncs no dir
   * at activation), a power cut on a disk that orders name changes as POSIX allows kept
   * the unlink and lost the rename of the head that held the synced copies: open then
   * deleted the head as a spare, and jobs acknowledged long before were gone
   * (test/storage/power-loss.test.ts). Off the write path, once per segment retired.
   */
  async retire(no: number): Promise<void> {
    const segment = this.active.get(no);
    if (!segment) return;
    // Before the segment leaves the set: if the sync fails, it stays, and is retried later.
    await this.syncNames();
    if (this.active.get(no) !== segment) return;
    this.active.delete(no);
    this.namedAt.delete(no);
    // A name change too, for the next syncNames (the next retire's, or a checkpoint's).
    // Uncounted, no dir sync came between two retires, and a POSIX-ordered cut could keep
    // the delete of segment N+1 and lose that of N: N came back without N+1's tombstones,
    // and a job deleted long before the last checkpoint was served again (power-loss.test.ts).
    // Counted once the unlink returns, not before: a checkpoint's syncNames that read the
    // count while the unlink was still in the thread pool synced the dir ahead of it, took
    // it as covered, and the next retire synced nothing (both deletes left pending).
    // Invariant: a compacted segment's delete is durable before the next one is issued.
    await this.fs.unlink(segment.path);
    const change = ++this.namesChanged;
    if (this.fsyncDir) {
      await this.fs.syncDir(this.dir);
      this.namesSynced = Math.max(this.namesSynced, change);
    }
    await this.fs.close(segment.fd);
  }

  async close(): Promise<void> {
    await this.preparing?.catch(() => {});
    await this.namesSyncing?.catch(() => {});
    // Each segment leaves the set before its fd is closed (as in retire): a read meanwhile
    // (a batched enqueue's fold reading the open batch job as the store closes) then finds
    // no segment, not a closed fd whose number the process may already have reused for
    // another file or a socket.
    for (const [no, segment] of [...this.active]) {
      this.active.delete(no);
      await this.fs.close(segment.fd).catch(() => {});
    }
    const claimed = [...this.claimed.values()].filter((c): c is Spare => typeof c === "object");
    for (const spare of [...this.spares, ...claimed]) {
      await this.fs.close(spare.fd).catch(() => {});
      await this.fs.unlink(spare.path).catch(() => {});
    }
    this.active.clear();
    this.spares.length = 0;
    this.claimed.clear();
  }
}
