// The segment files of one data dir: naming, preallocating spares by writing zeros,
// activating a spare as the next numbered segment, and retiring compacted segments.
// Preallocation runs ahead of need so the write path rarely waits for it.

import path from "node:path";
import { crc32 } from "node:zlib";
import { fromFsError } from "./errors.ts";
import { FORMAT_VERSION, SEGMENT_HEADER_BYTES, SEGMENT_MAGIC } from "./format.ts";
import type { FsPort } from "./fs-port.ts";

export interface Segment {
  no: number;
  path: string;
  fd: number;
}

interface Spare {
  path: string;
  fd: number;
}

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
  readonly segmentBytes: number;
  private readonly fs: FsPort;
  private readonly fsyncDir: boolean;
  private readonly active = new Map<number, Segment>();
  private readonly spares: Spare[] = [];
  private preparing: Promise<void> | undefined;
  private spareCounter = 0;

  constructor(fs: FsPort, dir: string, segmentBytes: number, fsyncDir: boolean) {
    this.fs = fs;
    this.dir = dir;
    this.segmentBytes = segmentBytes;
    this.fsyncDir = fsyncDir;
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

  /** Preallocate one more spare file. Concurrent callers share one preparation. */
  prepareSpare(): Promise<void> {
    if (!this.preparing) {
      this.preparing = this.preallocate().finally(() => { this.preparing = undefined; });
    }
    return this.preparing;
  }

  private async preallocate(): Promise<void> {
    const file = path.join(this.dir, `spare-${process.pid}-${++this.spareCounter}.seg`);
    let fd: number | undefined;
    try {
      fd = await this.fs.open(file, "w+");
      // Written, not truncated to size: a sparse file could hit ENOSPC on a later write
      // that we have already promised will succeed (completion records, see log-writer.ts).
      for (let pos = 0; pos < this.segmentBytes; pos += ZERO_CHUNK.length) {
        const n = Math.min(ZERO_CHUNK.length, this.segmentBytes - pos);
        const chunk = n === ZERO_CHUNK.length ? ZERO_CHUNK : ZERO_CHUNK.subarray(0, n);
        const written = await this.fs.writev(fd, [chunk], pos);
        if (written !== n) throw Object.assign(new Error("short write while preallocating"), { code: "ENOSPC" });
      }
      await this.fs.fdatasync(fd);
      this.spares.push({ path: file, fd });
    } catch (err) {
      if (fd !== undefined) await this.fs.close(fd).catch(() => {});
      await this.fs.unlink(file).catch(() => {});
      throw fromFsError(err, "preallocating a segment");
    }
  }

  /** Turn a spare into segment `no`: write its header, then give it its real name. */
  async activate(no: number, nowMs: number): Promise<Segment> {
    const existing = this.active.get(no);
    if (existing) return existing;
    while (this.spares.length === 0) await this.prepareSpare();
    const spare = this.spares.shift()!;
    const file = path.join(this.dir, segmentFileName(no));
    try {
      const header = encodeSegmentHeader(no, nowMs);
      const written = await this.fs.writev(spare.fd, [header], 0);
      if (written !== header.length) throw Object.assign(new Error("short write of segment header"), { code: "EIO" });
      await this.fs.fdatasync(spare.fd);
      await this.fs.rename(spare.path, file);
      if (this.fsyncDir) await this.fs.syncDir(this.dir);
    } catch (err) {
      this.spares.unshift(spare);
      throw fromFsError(err, `activating segment ${no}`, { segment: no });
    }
    const segment = { no, path: file, fd: spare.fd };
    this.active.set(no, segment);
    // Keep a spare ready for the next roll, so a roll never waits for 64 MiB of zeros.
    // A failure here (disk full) surfaces through ensureRoom when room is needed.
    if (this.spares.length === 0) this.prepareSpare().catch(() => {});
    return segment;
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

  /** Delete a compacted segment. Callers make sure nothing points into it any more. */
  async retire(no: number): Promise<void> {
    const segment = this.active.get(no);
    if (!segment) return;
    this.active.delete(no);
    await this.fs.unlink(segment.path);
    if (this.fsyncDir) await this.fs.syncDir(this.dir);
    await this.fs.close(segment.fd);
  }

  async close(): Promise<void> {
    await this.preparing?.catch(() => {});
    for (const segment of this.active.values()) await this.fs.close(segment.fd).catch(() => {});
    for (const spare of this.spares) {
      await this.fs.close(spare.fd).catch(() => {});
      await this.fs.unlink(spare.path).catch(() => {});
    }
    this.active.clear();
    this.spares.length = 0;
  }
}
