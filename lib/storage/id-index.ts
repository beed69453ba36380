// Job ids in memory: the 128-bit SCRU128 value as four u32 words per slot (most
// significant first), and an open-addressing hash from id to slot over an Int32Array.
//
// Why not Map<string, number>: at 1M jobs the 25-char strings cost ~48 MB and the Map
// ~40–60 MB more; four words plus a hash cell (and its probe distance byte) cost ~26 bytes. Strings are made only at
// the edges (responses), where one conversion is ~200 ns.
// Word order = numeric order = the string's lexicographic order, so comparing words
// compares ids.

const EMPTY = -1;
const TWO32 = 4294967296;
const MAX_LOAD = 0.7;
/** A probe distance of this or more is stored as this, and recomputed when needed. */
const FAR = 255;

const BASE4 = 36 ** 4; // 1,679,616: a u32 word × BASE4 + carry stays below 2^53

function digit(c: number): number {
  return c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 122 ? c - 87 : -1;
}

/** Parse a 25-char base-36 id into words[at..at+3]. False if it is not a valid id. */
export function parseId(id: string, words: Uint32Array, at: number): boolean {
  if (id.length !== 25) return false;
  let w0 = 0;
  let w1 = 0;
  let w2 = 0;
  let w3 = digit(id.charCodeAt(0));
  if (w3 < 0) return false;
  // Four digits per step: words = words * 36^4 + chunk, least significant word first.
  for (let i = 1; i < 25; i += 4) {
    const a = digit(id.charCodeAt(i));
    const b = digit(id.charCodeAt(i + 1));
    const c = digit(id.charCodeAt(i + 2));
    const d = digit(id.charCodeAt(i + 3));
    if ((a | b | c | d) < 0) return false;
    // Carry = floor(x / 2^32), word = x - carry * 2^32: exact below 2^53, and unlike `%`
    // on doubles (a call into fmod, 24 per id) it compiles to a few instructions.
    let x = w3 * BASE4 + ((a * 36 + b) * 36 + c) * 36 + d;
    let carry = Math.floor(x / TWO32);
    w3 = x - carry * TWO32;
    x = w2 * BASE4 + carry;
    carry = Math.floor(x / TWO32);
    w2 = x - carry * TWO32;
    x = w1 * BASE4 + carry;
    carry = Math.floor(x / TWO32);
    w1 = x - carry * TWO32;
    x = w0 * BASE4 + carry;
    carry = Math.floor(x / TWO32);
    w0 = x - carry * TWO32;
    if (carry > 0) return false; // more than 128 bits
  }
  words[at] = w0;
  words[at + 1] = w1;
  words[at + 2] = w2;
  words[at + 3] = w3;
  return true;
}

/** Each ASCII byte's base-36 value, 255 for a byte that is not a digit (parseIdAscii). */
const DIGIT_OF_BYTE = new Uint8Array(256).fill(255);
for (let c = 0; c < 256; c++) if (digit(c) >= 0) DIGIT_OF_BYTE[c] = digit(c);

/**
 * parseId() of the 25 ASCII bytes at buf[pos..pos+24], without making a string: replay
 * looks up every id of a DELETE record this way. A string per id (latin1 slice, then
 * its hash for a Map) was a third of the replay of an ack-heavy log tail (~300k acks
 * after a 10M checkpoint: docs/benchmarks.md, "Restart after a tail of acks").
 * The same arithmetic as parseId; a shared version taking a char getter was slower.
 */
export function parseIdAscii(buf: Uint8Array, pos: number, words: Uint32Array, at: number): boolean {
  if (pos + 25 > buf.length) return false;
  let w0 = 0;
  let w1 = 0;
  let w2 = 0;
  let w3 = DIGIT_OF_BYTE[buf[pos]];
  if (w3 === 255) return false;
  for (let i = pos + 1; i < pos + 25; i += 4) {
    const a = DIGIT_OF_BYTE[buf[i]];
    const b = DIGIT_OF_BYTE[buf[i + 1]];
    const c = DIGIT_OF_BYTE[buf[i + 2]];
    const d = DIGIT_OF_BYTE[buf[i + 3]];
    if ((a | b | c | d) >= 64) return false; // digits are below 36, a non-digit is 255
    let x = w3 * BASE4 + ((a * 36 + b) * 36 + c) * 36 + d;
    let carry = Math.floor(x / TWO32);
    w3 = x - carry * TWO32;
    x = w2 * BASE4 + carry;
    carry = Math.floor(x / TWO32);
    w2 = x - carry * TWO32;
    x = w1 * BASE4 + carry;
    carry = Math.floor(x / TWO32);
    w1 = x - carry * TWO32;
    x = w0 * BASE4 + carry;
    carry = Math.floor(x / TWO32);
    w0 = x - carry * TWO32;
    if (carry > 0) return false; // more than 128 bits
  }
  words[at] = w0;
  words[at + 1] = w1;
  words[at + 2] = w2;
  words[at + 3] = w3;
  return true;
}

const DIGIT_CODES = Uint8Array.from("0123456789abcdefghijklmnopqrstuvwxyz", (c) => c.charCodeAt(0));
const scratch = Buffer.alloc(25);

/** The 25-char base-36 string of words[at..at+3]. */
export function formatId(words: Uint32Array, at: number): string {
  writeIdAscii(words, at, scratch, 0);
  return scratch.toString("latin1", 0, 25);
}

/**
 * Write the 25 ASCII chars of words[at..at+3] into buf at offset. No string is made: a
 * bulk delete writes ~1M ids this way (store-remove.ts removeChunk).
 */
export function writeIdAscii(words: Uint32Array, at: number, buf: Uint8Array, offset: number): void {
  let w0 = words[at];
  let w1 = words[at + 1];
  let w2 = words[at + 2];
  let w3 = words[at + 3];
  // Six rounds of long division by 36^4 (four digits each, right to left), then the leading digit.
  for (let round = 0, pos = offset + 24; round < 6; round++, pos -= 4) {
    let x = w0;
    w0 = Math.floor(x / BASE4);
    let r = x - w0 * BASE4;
    x = r * TWO32 + w1;
    w1 = Math.floor(x / BASE4);
    r = x - w1 * BASE4;
    x = r * TWO32 + w2;
    w2 = Math.floor(x / BASE4);
    r = x - w2 * BASE4;
    x = r * TWO32 + w3;
    w3 = Math.floor(x / BASE4);
    r = x - w3 * BASE4;
    const d3 = r % 36;
    r = (r - d3) / 36;
    const d2 = r % 36;
    r = (r - d2) / 36;
    const d1 = r % 36;
    buf[pos] = DIGIT_CODES[d3];
    buf[pos - 1] = DIGIT_CODES[d2];
    buf[pos - 2] = DIGIT_CODES[d1];
    buf[pos - 3] = DIGIT_CODES[(r - d1) / 36];
  }
  buf[offset] = DIGIT_CODES[w3];
}

/** Compare the ids at word offsets a and b: negative, 0 or positive. */
export function compareWords(words: Uint32Array, a: number, b: number): number {
  for (let k = 0; k < 4; k++) {
    const x = words[a + k];
    const y = words[b + k];
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/**
 * id → slot. The ids themselves live in the table's word array (`words()`), so a
 * cell holds only a slot number. Linear probing with backward-shift deletion (no
 * tombstones); grows at 70% full to a size at most half full. Half full as the limit
 * cost 2^25 cells (128 MiB) at 10M jobs; at 70% it is 2^24, at ~2 probes a hit. It does
 * not shrink: after a mass delete the cells stay (4 bytes each) rather than stall the
 * loop for a rebuild.
 */
export class IdIndex {
  private cells = new Int32Array(1024).fill(EMPTY);
  /**
   * Per cell, how far its entry sits past its home cell (the hash), capped at FAR.
   * Why: a removal's backward shift must know the home of every entry after the hole;
   * hashing them meant reading each one's id words, a random read into 160 MB at 10M
   * ids (a cache and TLB miss each, ~2 per removal): over half the cost of replaying a
   * DELETE, and of an ack among 10M (docs/benchmarks.md, "Restart after a tail of
   * acks"). One byte a cell (16 MiB at 10M) beside the cells read anyway. Not the hash
   * itself: 4 bytes a cell, 64 MiB more at 10M. Invariant: for every cell c holding
   * an entry, dist[c] = min(FAR, (c - home) & mask).
   */
  private dist = new Uint8Array(1024);
  private mask = 1023;
  size = 0;
  private readonly words: () => Uint32Array;
  private readonly probe = new Uint32Array(4);

  constructor(words: () => Uint32Array) {
    this.words = words;
  }

  private hash(w: Uint32Array, at: number): number {
    // The low word is SCRU128's random part; the others mix in for sequential test ids.
    let h = Math.imul(w[at + 3] ^ Math.imul(w[at + 2], 0x85ebca6b), 0x9e3779b1);
    h ^= Math.imul(w[at + 1] ^ w[at], 0xc2b2ae35);
    return (h ^ (h >>> 15)) & this.mask;
  }

  private find(probe: Uint32Array, at: number): number {
    const w = this.words();
    for (let i = this.hash(probe, at); ; i = (i + 1) & this.mask) {
      const slot = this.cells[i];
      if (slot === EMPTY) return -1 - i; // not found; -1-i = where an insert would go
      if (slot >= 0 && w[slot * 4] === probe[at] && w[slot * 4 + 1] === probe[at + 1]
        && w[slot * 4 + 2] === probe[at + 2] && w[slot * 4 + 3] === probe[at + 3]) return i;
    }
  }

  get(id: string): number | undefined {
    if (!parseId(id, this.probe, 0)) return undefined;
    const i = this.find(this.probe, 0);
    return i >= 0 ? this.cells[i] : undefined;
  }

  /** get() of the 25 ASCII bytes at buf[pos..]: no string made (parseIdAscii). */
  getAscii(buf: Uint8Array, pos: number): number | undefined {
    return parseIdAscii(buf, pos, this.probe, 0) ? this.getWords(this.probe, 0) : undefined;
  }

  /** get() of the id already parsed into words[at..at+3]. */
  getWords(words: Uint32Array, at: number): number | undefined {
    const i = this.find(words, at);
    return i >= 0 ? this.cells[i] : undefined;
  }

  has(id: string): boolean {
    return this.get(id) !== undefined;
  }

  /** Make room for `n` more ids without a rehash on the way (a checkpoint load). */
  reserve(n: number): void {
    if (this.size + n > this.cells.length * MAX_LOAD) this.rehash(this.size + n, MAX_LOAD);
  }

  /** Index `slot`, whose id is already in the word array. */
  add(slot: number): void {
    if (this.size + 1 > this.cells.length * MAX_LOAD) this.rehash(this.size + 1, 0.5);
    const i = this.find(this.words(), slot * 4);
    if (i >= 0) {
      this.cells[i] = slot;
      return;
    }
    this.place(-1 - i, this.hash(this.words(), slot * 4), slot);
    this.size++;
  }

  /**
   * Index slots [from, to), whose ids the caller knows are distinct and not in the index
   * (a checkpoint's, ascending). Why not add() one by one: at 10M ids each insert is
   * a random write into 64 MiB of cells, a cache miss (~170 ns; 1.8 s of a restart).
   * Here each batch is counting-sorted by cell region first, so the inserts sweep the
   * cells in order. The sort moves each slot together with its hash: reading the hash
   * back by slot in sorted order was a second random read per id (1.3 s at 10M).
   */
  addNewRange(from: number, to: number): void {
    if (to <= from) return;
    if (this.size + (to - from) > this.cells.length * MAX_LOAD) this.rehash(this.size + (to - from), MAX_LOAD);
    const w = this.words();
    const cells = this.cells;
    const dist = this.dist;
    const mask = this.mask;
    const shift = Math.max(0, 31 - Math.clz32(cells.length) - 12); // 4,096 regions of cells
    const regions = cells.length >>> shift;
    const batch = 1 << 21;
    const hashes = new Int32Array(Math.min(batch, to - from));
    // (hash, slot) pairs side by side: one write stream per region for the sort and one
    // read stream for the placement, not two (two arrays were ~10% slower at 10M).
    const sorted = new Int32Array(2 * hashes.length);
    const starts = new Int32Array(regions + 1);
    for (let lo = from; lo < to; lo += batch) {
      const n = Math.min(batch, to - lo);
      starts.fill(0);
      for (let i = 0; i < n; i++) {
        const h = this.hash(w, (lo + i) * 4);
        hashes[i] = h;
        starts[(h >>> shift) + 1]++;
      }
      for (let r = 0; r < regions; r++) starts[r + 1] += starts[r];
      for (let i = 0; i < n; i++) {
        const h = hashes[i];
        const k = starts[h >>> shift]++ << 1;
        sorted[k] = h;
        sorted[k + 1] = lo + i;
      }
      for (let k = 0, end = 2 * n; k < end; k += 2) {
        const home = sorted[k];
        let c = home;
        while (cells[c] !== EMPTY) c = (c + 1) & mask;
        cells[c] = sorted[k + 1];
        const d = (c - home) & mask;
        dist[c] = d < FAR ? d : FAR;
      }
      this.size += n;
    }
  }

  /** Unindex `slot` (its id still in the word array). */
  remove(slot: number): void {
    const i = this.find(this.words(), slot * 4);
    if (i < 0 || this.cells[i] !== slot) return;
    // Backward shift (no tombstones): entries after the hole that may live there move
    // back. Tombstones made probes after a mass delete long (20 ms for 100 inserts at
    // 10M) and forced a rebuild of every cell in one step.
    const cells = this.cells;
    const dist = this.dist;
    const mask = this.mask;
    let hole = i;
    for (let j = (i + 1) & mask; cells[j] !== EMPTY; j = (j + 1) & mask) {
      let d = dist[j];
      if (d === FAR) d = (j - this.hash(this.words(), cells[j] * 4)) & mask; // rare: a long run
      // The entry at j stays when its home (j - d) lies cyclically in (hole, j], i.e.
      // when it sits fewer cells past its home than past the hole.
      const gap = (j - hole) & mask;
      if (d < gap) continue;
      cells[hole] = cells[j];
      dist[hole] = Math.min(FAR, d - gap);
      hole = j;
    }
    cells[hole] = EMPTY;
    dist[hole] = 0;
    this.size--;
  }

  /** Put `slot`, whose home cell is `home`, into the empty cell `c`. */
  private place(c: number, home: number, slot: number): void {
    this.cells[c] = slot;
    this.dist[c] = Math.min(FAR, (c - home) & this.mask);
  }

  /** Cells in the hash (its memory is 5 bytes a cell: the slot and its distance). */
  get cellCount(): number {
    return this.cells.length;
  }

  *values(): Generator<number> {
    for (const slot of this.cells) if (slot >= 0) yield slot;
  }

  clear(): void {
    this.cells = new Int32Array(1024).fill(EMPTY);
    this.dist = new Uint8Array(1024);
    this.mask = 1023;
    this.size = 0;
  }

  /**
   * Rebuild bigger, at most `load` full once `want` ids are in: half when
   * growing (room to grow before the next rebuild), 70% when reserving for a known count.
   */
  private rehash(want: number, load: number): void {
    let capacity = 1024;
    while (Math.max(want, this.size) > capacity * load) capacity *= 2;
    const old = this.cells;
    this.cells = new Int32Array(capacity).fill(EMPTY);
    this.dist = new Uint8Array(capacity);
    this.mask = capacity - 1;
    this.size = 0;
    const w = this.words();
    for (const slot of old) {
      if (slot < 0) continue;
      const home = this.hash(w, slot * 4);
      let i = home;
      while (this.cells[i] !== EMPTY) i = (i + 1) & this.mask;
      this.place(i, home, slot);
      this.size++;
    }
  }
}
