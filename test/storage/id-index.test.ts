// The id → slot hash (lib/storage/id-index.ts): lookups stay right through growth,
// mass removal (backward shift, no tombstones) and reuse; it grows at 70% full.

import assert from "node:assert/strict";
import { it } from "node:test";
import { IdIndex, formatId, parseId, parseIdAscii, writeIdAscii } from "../../lib/storage/id-index.ts";
import { prng } from "../helpers/random.ts";

/** n random 128-bit ids as words, and an index over them (nothing added yet). */
function randomIds(seed: number, n: number): { words: Uint32Array; index: IdIndex } {
  const rand = prng(seed);
  const words = new Uint32Array(n * 4);
  for (let i = 0; i < n * 4; i++) words[i] = Math.floor(rand() * 2 ** 32);
  return { words, index: new IdIndex(() => words) };
}

it("ids as text: formatId and writeIdAscii agree with BigInt base 36, and parseId reads them back", () => {
  const { words } = randomIds(3, 2000);
  words.set([0, 0, 0, 0], 0); // the smallest id
  words.set([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], 4); // the largest
  const buf = Buffer.alloc(27, "-");
  const back = new Uint32Array(4);
  for (let at = 0; at < words.length; at += 4) {
    const value = [...words.subarray(at, at + 4)].reduce((acc, w) => (acc << 32n) | BigInt(w), 0n);
    const expected = value.toString(36).padStart(25, "0");
    assert.equal(formatId(words, at), expected);
    writeIdAscii(words, at, buf, 1);
    assert.equal(buf.toString("latin1"), `-${expected}-`, "25 bytes at the offset, neighbours untouched");
    assert.ok(parseId(expected, back, 0));
    assert.deepEqual([...back], [...words.subarray(at, at + 4)]);
    back.fill(0);
    assert.ok(parseIdAscii(buf, 1, back, 0));
    assert.deepEqual([...back], [...words.subarray(at, at + 4)], "the same words from the bytes");
  }
  // Past 128 bits, a bad digit, a wrong length: not ids.
  for (const bad of ["f5lxx1zz5pnorynqglhzmsp34", "zzzzzzzzzzzzzzzzzzzzzzzzz", "0000000000000000000000A00", "000000000000000000000000"]) {
    assert.equal(parseId(bad, back, 0), false, bad);
    assert.equal(parseIdAscii(Buffer.from(bad, "latin1"), 0, back, 0), false, bad);
  }
  // Every non-digit byte, at every position, is refused by the byte parser as by parseId.
  const id = Buffer.from(formatId(words, 8), "latin1");
  for (let i = 0; i < 25; i++) {
    for (const c of [0, 47, 58, 64, 65, 90, 96, 123, 255]) {
      const bad = Buffer.from(id);
      bad[i] = c;
      assert.equal(parseIdAscii(bad, 0, back, 0), false, `byte ${c} at ${i}`);
      assert.equal(parseId(bad.toString("latin1"), back, 0), false);
    }
  }
});

it("finds every live id and none removed, through growth, mass removal and re-adding", () => {
  const n = 200_000;
  const { words, index } = randomIds(7, n);
  for (let s = 0; s < n; s++) index.add(s);
  assert.equal(index.size, n);
  // 200k ids: grown past 70% of 2^18 cells, to 2^19 (38% full), not to 2^20.
  assert.equal(index.cellCount, 2 ** 19);
  for (let s = 0; s < n; s += 997) assert.equal(index.get(formatId(words, s * 4)), s);
  // Remove 90%.
  for (let s = 0; s < n; s++) if (s % 10 !== 0) index.remove(s);
  assert.equal(index.size, n / 10);
  for (let s = 0; s < n; s++) assert.equal(index.get(formatId(words, s * 4)), s % 10 === 0 ? s : undefined);
  const ascii = Buffer.alloc(26);
  for (let s = 0; s < n; s += 13) {
    writeIdAscii(words, s * 4, ascii, 1);
    assert.equal(index.getAscii(ascii, 1), s % 10 === 0 ? s : undefined, "getAscii agrees with get");
  }
  assert.equal(index.getAscii(ascii, 2), undefined, "25 bytes past the end: no id");
  // Re-add the removed ids: the same size again, 2^19.
  for (let s = 0; s < n; s++) if (s % 10 !== 0) index.add(s);
  assert.equal(index.size, n);
  for (let s = 0; s < n; s += 101) assert.equal(index.get(formatId(words, s * 4)), s);
});

it("removal shifts entries back: after a mass delete, new ids need no rebuild and every lookup stays right", () => {
  const rand = prng(80);
  const n = 400_000;
  const { words, index } = randomIds(8, n);
  for (let s = 0; s < 200_000; s++) index.add(s);
  assert.equal(index.cellCount, 2 ** 19);
  for (let s = 0; s < 200_000; s++) if (s % 100 !== 0) index.remove(s);
  // With tombstones, these 200k new ids would have filled the cells past 70% and forced
  // a rebuild of all of them at once; with none, the index stays as it is.
  for (let s = 200_000; s < n; s++) index.add(s);
  assert.equal(index.size, 2000 + 200_000);
  assert.equal(index.cellCount, 2 ** 19);
  for (let s = 0; s < n; s += 7) assert.equal(index.get(formatId(words, s * 4)), s < 200_000 && s % 100 !== 0 ? undefined : s);
  // Remove everything in a random order: every lookup on the way stays right.
  const order = Array.from({ length: n }, (_, s) => s).filter((s) => s >= 200_000 || s % 100 === 0);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  order.forEach((s, k) => {
    index.remove(s);
    if (k % 5000 === 0) for (const t of order.slice(k + 1, k + 200)) assert.equal(index.get(formatId(words, t * 4)), t);
  });
  assert.equal(index.size, 0);
  assert.deepEqual([...index.values()], []);
});

it("addNewRange (a checkpoint's ids, indexed in one sorted sweep) finds what add() finds", () => {
  const n = 300_000;
  const { words, index: one } = randomIds(9, n);
  const range = new IdIndex(() => words);
  for (let s = 0; s < 1000; s++) {
    one.add(s);
    range.add(s);
  }
  for (let s = 1000; s < n; s++) one.add(s);
  range.addNewRange(1000, 150_000);
  range.addNewRange(150_000, n);
  assert.equal(range.size, n);
  assert.equal(range.cellCount, one.cellCount);
  for (let s = 0; s < n; s += 13) assert.equal(range.get(formatId(words, s * 4)), s);
  range.remove(5);
  assert.equal(range.get(formatId(words, 20)), undefined);
  const absent = new Uint32Array(4).fill(12345);
  assert.equal(range.get(formatId(absent, 0)), undefined);
});

it("runs longer than the stored probe distance (255): removals inside them keep every lookup right", () => {
  // Ids whose two high words are equal hash alike when the two low words are fixed (the
  // hash mixes w0 ^ w1): 1,500 of them share one home cell, a run far past 255, among
  // random ids around it. The removals then meet capped distances.
  const rand = prng(81);
  const same = 1500;
  const n = same + 3000;
  const words = new Uint32Array(n * 4);
  for (let s = 0; s < n; s++) {
    const low = s < same ? s + 1 : Math.floor(rand() * 2 ** 32);
    const r = () => Math.floor(rand() * 2 ** 32);
    words.set(s < same ? [low, low, 7, 9] : [low, r(), r(), r()], s * 4);
  }
  for (const build of ["add", "addNewRange"]) {
    const index = new IdIndex(() => words);
    if (build === "add") for (let s = 0; s < n; s++) index.add(s);
    else index.addNewRange(0, n);
    const live = new Set(Array.from({ length: n }, (_, s) => s));
    const order = Array.from({ length: n }, (_, s) => s).sort(() => rand() - 0.5);
    for (const [k, s] of order.entries()) {
      if (k % 3 === 0) continue; // a third stay
      index.remove(s);
      live.delete(s);
      if (k % 97 === 0) for (let t = 0; t < n; t += 7) assert.equal(index.get(formatId(words, t * 4)), live.has(t) ? t : undefined, `${build}: id ${t}`);
    }
    for (let t = 0; t < n; t++) assert.equal(index.get(formatId(words, t * 4)), live.has(t) ? t : undefined, `${build}: id ${t} at the end`);
    assert.equal(index.size, live.size);
  }
});
