// Job ids: SCRU128 strings (25 chars of [0-9a-z]), strictly increasing per server,
// across restarts too: FIFO within a priority and every id-ordered listing rely on it.
// The generator is seeded with the largest id on disk, so a clock that stepped back
// while the server was down cannot produce an id that sorts before existing jobs.

import { randomFillSync } from "node:crypto";
import { Scru128Generator, Scru128Id } from "scru128";
import { compareWords, formatId, parseId } from "../storage/id-index.ts";

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
  /**
   * words[0..3]: the id being made, most significant first (scru128's 16 big-endian
   * bytes); words[4..7]: the last id given out, or the largest on disk (zero before any).
   */
  private readonly words = new Uint32Array(8);

  constructor(largestExistingId?: string) {
    if (largestExistingId && /^[0-9a-z]{25}$/.test(largestExistingId)) {
      parseId(largestExistingId, this.words, 4);
      this.floorMs = Scru128Id.fromString(largestExistingId).timestamp;
    }
  }

  /**
   * A new id, larger than every id before it. With `out`, its four words are also written
   * to out[at..at+3] (what the job table keeps, so it need not parse the text back).
   */
  next(nowMs: number, out?: Uint32Array, at = 0): string {
    const w = this.words;
    for (;;) {
      // Our formatter, not scru128's toString(): the same text at under half the cost
      // (test/queue/ids.test.ts checks they agree).
      const bytes = this.generator.generateOrResetCore(Math.max(nowMs, this.floorMs), 10_000).bytes;
      for (let k = 0; k < 4; k++) {
        w[k] = ((bytes[k * 4] << 24) | (bytes[k * 4 + 1] << 16) | (bytes[k * 4 + 2] << 8) | bytes[k * 4 + 3]) >>> 0;
      }
      if (compareWords(w, 0, 4) > 0) {
        w[4] = w[0];
        w[5] = w[1];
        w[6] = w[2];
        w[7] = w[3];
        if (out !== undefined) {
          out[at] = w[0];
          out[at + 1] = w[1];
          out[at + 2] = w[2];
          out[at + 3] = w[3];
        }
        return formatId(w, 0);
      }
      // Same millisecond as an id from before the restart: move past it.
      this.floorMs = Math.max(this.floorMs, nowMs) + 1;
    }
  }
}

export const isJobId = (s: string): boolean => s.length === 25 && /^[0-9a-z]{25}$/.test(s);
