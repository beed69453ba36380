// Job ids: SCRU128 strings (25 chars of [0-9a-z]), strictly increasing per server,
// across restarts too: FIFO within a priority and every id-ordered listing rely on it.
// The generator is seeded with the largest id on disk, so a clock that stepped back
// while the server was down cannot produce an id that sorts before existing jobs.

import { randomFillSync } from "node:crypto";
import { Scru128Generator, Scru128Id } from "scru128";
import { formatId } from "../storage/id-index.ts";

/**
 * Cryptographic random words, drawn from the OS 1,024 at a time. scru128's default
 * source makes one randomFillSync call per id, which was 9% of a bulk enqueue.
 */
class PooledRandom {
  private readonly pool = new Uint32Array(1024);
  private next = this.pool.length;
  nextUint32(): number {
    if (this.next === this.pool.length) {
      randomFillSync(this.pool);
      this.next = 0;
    }
    return this.pool[this.next++];
  }
}

export class IdGenerator {
  private readonly generator = new Scru128Generator(new PooledRandom());
  private floorMs = 0;
  private last = "";

  constructor(largestExistingId?: string) {
    if (largestExistingId && /^[0-9a-z]{25}$/.test(largestExistingId)) {
      this.last = largestExistingId;
      this.floorMs = Scru128Id.fromString(largestExistingId).timestamp;
    }
  }

  /** The new id's four words, most significant first (scru128's 16 big-endian bytes). */
  private readonly words = new Uint32Array(4);

  next(nowMs: number): string {
    for (;;) {
      // Our formatter, not scru128's toString(): the same text at under half the cost
      // (test/queue/ids.test.ts checks they agree).
      const bytes = this.generator.generateOrResetCore(Math.max(nowMs, this.floorMs), 10_000).bytes;
      for (let k = 0; k < 4; k++) {
        this.words[k] = ((bytes[k * 4] << 24) | (bytes[k * 4 + 1] << 16) | (bytes[k * 4 + 2] << 8) | bytes[k * 4 + 3]) >>> 0;
      }
      const id = formatId(this.words, 0);
      if (id > this.last) {
        this.last = id;
        return id;
      }
      // Same millisecond as an id from before the restart: move past it.
      this.floorMs = Math.max(this.floorMs, nowMs) + 1;
    }
  }
}

export const isJobId = (s: string): boolean => s.length === 25 && /^[0-9a-z]{25}$/.test(s);
