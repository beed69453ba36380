// The ready index of one queue: 65,536 priority buckets, each an id-ordered intrusive
// list through the job table's next/prev arrays, plus a three-level bitmap that finds
// the lowest non-empty priority in O(1). Bucket heads and tails are allocated in chunks
// of 256 priorities on first use, so an idle queue costs ~10 KB, not 512 KB.
//
// Invariant: within a bucket, slots are in ascending id order. New jobs have the
// largest id and append in O(1); a requeued or retried job keeps its id and is put
// back at its original position, found by walking in from both ends of the bucket.

export interface Links {
  next: Int32Array;
  prev: Int32Array;
  /** Id order of two slots. */
  compare(a: number, b: number): number;
}

const CHUNK = 256;

function ctz(x: number): number {
  return 31 - Math.clz32(x & -x);
}

export class ReadyIndex {
  private readonly leaf = new Uint32Array(2048);
  private readonly mid = new Uint32Array(64);
  private readonly top = new Uint32Array(2);
  private readonly heads: (Int32Array | undefined)[] = new Array(CHUNK);
  private readonly tails: (Int32Array | undefined)[] = new Array(CHUNK);
  private readonly links: () => Links;
  /** The last slot placed by a walk, and its priority: the next one of the same
   * out-of-order batch (ascending ids) goes right after it. -1 when unset or removed. */
  private finger = -1;
  private fingerPriority = -1;
  size = 0;

  /** `links` is read on every call because the table's arrays are replaced when it grows. */
  constructor(links: () => Links) {
    this.links = links;
  }

  /** The chunk of bucket heads (and tails) that holds `priority`, made on first use. */
  private chunkOf(priority: number): number {
    const c = priority >>> 8;
    if (this.heads[c] === undefined) {
      this.heads[c] = new Int32Array(CHUNK).fill(-1);
      this.tails[c] = new Int32Array(CHUNK).fill(-1);
    }
    return c;
  }

  /**
   * Index `slot`; true when it is now the slot a take would get. (Asked here, where it
   * is known from the bucket, instead of by peek() after every insert: 10M inserts of a
   * restart spent ~0.2 s there.)
   */
  insert(slot: number, priority: number): boolean {
    const links = this.links();
    const { next, prev } = links;
    const c = this.chunkOf(priority);
    const heads = this.heads[c]!;
    const tails = this.tails[c]!;
    const b = priority & 255;
    const tail = tails[b];
    if (tail === -1) {
      heads[b] = tails[b] = slot;
      next[slot] = prev[slot] = -1;
      this.mark(priority);
    } else if (links.compare(tail, slot) < 0) {
      next[tail] = slot;
      prev[slot] = tail;
      next[slot] = -1;
      tails[b] = slot;
    } else {
      // Walk from both ends at once to the first slot with a larger id. Walking from the
      // head alone assumed out-of-order ids are old (retries), but a bulk insert that lost
      // a race to a later one (both waiting in ensureRoom) lands just below the tail, and
      // walked the whole bucket: 1M steps per job with a 1M-job backlog.
      // A whole late batch walks once: each next job starts at the previous one (the finger).
      let at = this.fingerPriority === priority && links.compare(this.finger, slot) < 0 ? this.finger : heads[b];
      for (let back = tail; links.compare(at, slot) < 0; at = next[at]) {
        const before = prev[back];
        if (before === -1 || links.compare(before, slot) < 0) {
          at = back;
          break;
        }
        back = before;
      }
      // Insert before `at`.
      const before = prev[at];
      prev[slot] = before;
      next[slot] = at;
      prev[at] = slot;
      if (before === -1) heads[b] = slot;
      else next[before] = slot;
      this.finger = slot;
      this.fingerPriority = priority;
    }
    this.size++;
    return heads[b] === slot && this.minPriority() === priority;
  }

  /**
   * insert() of a slot whose id follows every id in its bucket, as when the index is
   * built in id order (JobTable.indexInIdOrder, after replay): no id comparison with
   * the tail (two reads into the id words per job, 10M at a restart).
   * Requires: `slot`'s id is larger than every id in the `priority` bucket.
   */
  append(slot: number, priority: number, next: Int32Array, prev: Int32Array): boolean {
    const c = priority >>> 8;
    if (this.heads[c] === undefined) this.chunkOf(priority);
    const heads = this.heads[c]!;
    const tails = this.tails[c]!;
    const b = priority & 255;
    const tail = tails[b];
    prev[slot] = tail;
    next[slot] = -1;
    tails[b] = slot;
    this.size++;
    if (tail !== -1) {
      next[tail] = slot;
      return false; // not the bucket's head, so not the slot a take would get
    }
    heads[b] = slot;
    this.mark(priority);
    return this.minPriority() === priority;
  }

  /** Unindex `slot`; true when it was the slot a take would get (as insert() answers). */
  remove(slot: number, priority: number): boolean {
    if (slot === this.finger) this.finger = this.fingerPriority = -1;
    const { next, prev } = this.links();
    const c = this.chunkOf(priority);
    const heads = this.heads[c]!;
    const tails = this.tails[c]!;
    const b = priority & 255;
    const p = prev[slot];
    const n = next[slot];
    const wasHead = p === -1 && this.minPriority() === priority;
    if (p === -1) heads[b] = n;
    else next[p] = n;
    if (n === -1) tails[b] = p;
    else prev[n] = p;
    next[slot] = prev[slot] = -1;
    if (heads[b] === -1) this.unmark(priority);
    this.size--;
    return wasHead;
  }

  /** Lowest non-empty priority, or -1. */
  minPriority(): number {
    for (let t = 0; t < 2; t++) {
      const topWord = this.top[t];
      if (topWord === 0) continue;
      const m = t * 32 + ctz(topWord);
      const w = m * 32 + ctz(this.mid[m]);
      return w * 32 + ctz(this.leaf[w]);
    }
    return -1;
  }

  /** The slot that a take would get (lowest priority, then lowest id), or -1. */
  peek(): number {
    const p = this.minPriority();
    return p === -1 ? -1 : this.heads[p >>> 8]![p & 255];
  }

  /** Slots in take order (for listings and tests; O(n)). */
  *inOrder(): Generator<number> {
    const { next } = this.links();
    for (let c = 0; c < CHUNK; c++) {
      const heads = this.heads[c];
      if (!heads) continue;
      for (let b = 0; b < CHUNK; b++) {
        for (let s = heads[b]; s !== -1; s = next[s]) yield s;
      }
    }
  }

  private mark(p: number): void {
    this.leaf[p >>> 5] |= 1 << (p & 31);
    this.mid[p >>> 10] |= 1 << ((p >>> 5) & 31);
    this.top[p >>> 15] |= 1 << ((p >>> 10) & 31);
  }

  private unmark(p: number): void {
    const w = p >>> 5;
    this.leaf[w] &= ~(1 << (p & 31));
    if (this.leaf[w] !== 0) return;
    const m = p >>> 10;
    this.mid[m] &= ~(1 << (w & 31));
    if (this.mid[m] !== 0) return;
    this.top[p >>> 15] &= ~(1 << (m & 31));
  }
}
