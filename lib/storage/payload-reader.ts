// Reads payload (and other record) bytes back from segments through an LRU of 64 KiB
// blocks, bounded in bytes by --cache-size. Jobs are taken roughly in the order they
// were written, so one block read serves hundreds of consecutive payloads.
//
// Invariant: a block is cached only if every byte of it was written before it was
// read; a block that still has room for new records would go stale.

import { LRUCache } from "lru-cache";
import type { FsPort } from "./fs-port.ts";
import type { SegmentSet } from "./segment-set.ts";

const BLOCK_BYTES = 64 * 1024;
const BLOCK_SHIFT = 16;

export class PayloadReader {
  private readonly cache: LRUCache<number, Buffer> | undefined;
  private readonly fs: FsPort;
  private readonly set: SegmentSet;
  private readonly writtenEnd: (segment: number) => number;

  /** `writtenEnd(segment)`: offset below which every byte of that segment is written. */
  constructor(fs: FsPort, set: SegmentSet, cacheBytes: number, writtenEnd: (segment: number) => number) {
    this.fs = fs;
    this.set = set;
    this.writtenEnd = writtenEnd;
    this.cache = cacheBytes >= BLOCK_BYTES
      ? new LRUCache<number, Buffer>({ maxSize: cacheBytes, sizeCalculation: (b) => b.length })
      : undefined;
  }

  /** The bytes at [offset, offset+length) of a segment; a view into a cached block when possible. */
  read(segment: number, offset: number, length: number): Buffer {
    const block = offset >>> BLOCK_SHIFT;
    if (this.cache && (offset + length - 1) >>> BLOCK_SHIFT === block) {
      const key = segment * 65536 + block;
      let bytes = this.cache.get(key);
      if (!bytes) {
        const start = block << BLOCK_SHIFT;
        const end = Math.min(start + BLOCK_BYTES, this.set.get(segment)?.bytes ?? 0);
        if (end <= this.writtenEnd(segment)) {
          bytes = this.readRaw(segment, start, end - start);
          this.cache.set(key, bytes);
        }
      }
      if (bytes) {
        const at = offset - (block << BLOCK_SHIFT);
        return bytes.subarray(at, at + length);
      }
    }
    return this.readRaw(segment, offset, length);
  }

  private readRaw(segment: number, offset: number, length: number): Buffer {
    const seg = this.set.get(segment);
    if (!seg) throw new Error(`segment ${segment} is not open`);
    const buf = Buffer.allocUnsafe(length);
    let pos = 0;
    while (pos < length) {
      const n = this.fs.readSync(seg.fd, buf, pos, length - pos, offset + pos);
      if (n === 0) throw new Error(`short read in segment ${segment} at ${offset + pos}`);
      pos += n;
    }
    return buf;
  }

  /** Drop cached blocks of a retired segment. */
  forget(segment: number): void {
    if (!this.cache) return;
    const blocks = Math.ceil(this.set.maxBytes / BLOCK_BYTES);
    for (let b = 0; b < blocks; b++) this.cache.delete(segment * 65536 + b);
  }

  clear(): void {
    this.cache?.clear();
  }
}
