// The radix ready index of one queue (lib/storage/priority-index.ts): lowest priority
// first, FIFO by id within a priority, O(1) removal anywhere, and a bitmap that stays
// right at every word and level boundary of the 0..65535 range.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Links, ReadyIndex } from "../../lib/storage/priority-index.ts";
import { prng } from "../helpers/storage.ts";

/** A stand-in for the job table's link arrays and id order. */
function setup(slots = 4096): { index: ReadyIndex; links: Links; priorityOf: Map<number, number>; compares: () => number } {
  // Slot n holds the n-th smallest id, so id order is slot order.
  let compares = 0;
  const links: Links = {
    next: new Int32Array(slots).fill(-1),
    prev: new Int32Array(slots).fill(-1),
    compare: (a: number, b: number) => { compares++; return a - b; },
  };
  return { index: new ReadyIndex(() => links), links, priorityOf: new Map(), compares: () => compares };
}

/** Insert; every insert's answer (did it become the head?) is checked against peek(). */
function add(s: ReturnType<typeof setup>, slot: number, priority: number): void {
  const head = s.index.insert(slot, priority);
  assert.equal(head, s.index.peek() === slot, `insert(${slot}, ${priority}) answered ${head}`);
  s.priorityOf.set(slot, priority);
}

/** Remove; every answer (was it the head?) is checked against peek() before. */
function remove(s: ReturnType<typeof setup>, slot: number): void {
  const head = s.index.peek() === slot;
  assert.equal(s.index.remove(slot, s.priorityOf.get(slot)!), head, `remove(${slot}) answered wrong`);
  s.priorityOf.delete(slot);
}

/** Take everything, as a worker would: peek, remove, repeat. */
function drain(s: ReturnType<typeof setup>): number[] {
  const out: number[] = [];
  for (let slot = s.index.peek(); slot !== -1; slot = s.index.peek()) {
    assert.equal(s.index.minPriority(), s.priorityOf.get(slot));
    remove(s, slot);
    out.push(slot);
  }
  assert.equal(s.index.size, 0);
  assert.equal(s.index.minPriority(), -1);
  return out;
}

/** The order a take must follow: (priority, id) ascending; ids ascend with the slot. */
const expectedOrder = (entries: Map<number, number>): number[] =>
  [...entries].sort(([a, pa], [b, pb]) => pa - pb || a - b).map(([slot]) => slot);

describe("ReadyIndex", () => {
  it("is empty at first", () => {
    const s = setup();
    assert.equal(s.index.peek(), -1);
    assert.equal(s.index.minPriority(), -1);
    assert.equal(s.index.size, 0);
  });

  it("takes the lowest priority first, FIFO by id within a priority", () => {
    const s = setup();
    const priorities = [5, 3, 5, 0, 3, 65535, 0, 5];
    priorities.forEach((p, slot) => add(s, slot, p));
    assert.deepEqual([...s.index.inOrder()], [3, 6, 1, 4, 0, 2, 7, 5]);
    assert.deepEqual(drain(s), [3, 6, 1, 4, 0, 2, 7, 5]);
  });

  it("finds the minimum across every bitmap extreme (0, 31, 32, 1023, 1024, 65535 and neighbours)", () => {
    const extremes = [0, 1, 30, 31, 32, 33, 63, 64, 1023, 1024, 1025, 32767, 32768, 65534, 65535];
    for (const p of extremes) {
      const s = setup();
      add(s, 1, p);
      assert.equal(s.index.minPriority(), p, `alone at ${p}`);
      assert.equal(s.index.peek(), 1);
      remove(s, 1);
      assert.equal(s.index.minPriority(), -1, `emptied at ${p}`);
    }
    // All together, inserted highest first: each removal must reveal the next one up.
    const s = setup();
    [...extremes].reverse().forEach((p, i) => add(s, i, p));
    for (const p of extremes) {
      assert.equal(s.index.minPriority(), p);
      remove(s, s.index.peek());
    }
    assert.equal(s.index.minPriority(), -1);
  });

  it("clears a bitmap bit only when its bucket empties, at every level", () => {
    const s = setup();
    add(s, 10, 1024);
    add(s, 11, 1024);
    add(s, 12, 65535);
    remove(s, 10);
    assert.equal(s.index.minPriority(), 1024, "bucket still holds slot 11");
    remove(s, 11);
    assert.equal(s.index.minPriority(), 65535);
    add(s, 13, 31);
    add(s, 14, 32);
    remove(s, 13);
    assert.equal(s.index.minPriority(), 32, "same mid word, other leaf word");
  });

  it("puts a re-inserted old id back at its original position", () => {
    const s = setup();
    for (let slot = 0; slot < 10; slot++) add(s, slot, 7);
    const taken = [s.index.peek()];
    remove(s, taken[0]);
    remove(s, 4);
    remove(s, 9);
    add(s, 4, 7); // a retry of an old job: it keeps its id
    add(s, 0, 7); // the head again
    add(s, 9, 7); // the tail again
    assert.deepEqual([...s.index.inOrder()], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    add(s, 20, 6);
    assert.equal(s.index.peek(), 20, "a lower priority still wins over older ids");
  });

  it("removes from the middle, the head and the tail of a bucket in O(1)", () => {
    const s = setup();
    for (let slot = 0; slot < 5; slot++) add(s, slot, 100);
    remove(s, 2);
    assert.deepEqual([...s.index.inOrder()], [0, 1, 3, 4]);
    remove(s, 0);
    assert.deepEqual([...s.index.inOrder()], [1, 3, 4]);
    remove(s, 4);
    assert.deepEqual([...s.index.inOrder()], [1, 3]);
    assert.equal(s.links.prev[1], -1);
    assert.equal(s.links.next[3], -1);
    assert.equal(s.index.size, 2);
  });

  it("matches a sorted reference under random inserts and removals", () => {
    const seed = Number(process.env.ZIZQ_SEED ?? 12345);
    const random = prng(seed);
    const s = setup();
    const pool = [0, 1, 31, 32, 1023, 1024, 65535, 500, 501, 40000];
    const free = Array.from({ length: 4096 }, (_, i) => i);
    for (let step = 0; step < 20_000; step++) {
      if (s.priorityOf.size > 0 && random() < 0.45) {
        const slots = [...s.priorityOf.keys()];
        const slot = slots[Math.floor(random() * slots.length)];
        remove(s, slot);
        free.push(slot); // may come back later: an old id re-inserted mid-bucket
      } else if (free.length > 0) {
        const slot = free.splice(Math.floor(random() * free.length), 1)[0];
        const p = random() < 0.7 ? pool[Math.floor(random() * pool.length)] : Math.floor(random() * 65536);
        add(s, slot, p);
      }
      if (step % 1000 === 0) assert.deepEqual([...s.index.inOrder()], expectedOrder(s.priorityOf), `seed ${seed}, step ${step}`);
    }
    const expected = expectedOrder(s.priorityOf);
    assert.deepEqual(drain(s), expected);
  });

  it("walks only as far as the nearer end to place an out-of-order id", () => {
    // 100,000 ready jobs in one bucket, every other id. Two concurrent bulk inserts can
    // land in the other order (ensureRoom awaits), so an id slightly below the tail is
    // common; a retry sits near the head.
    const s = setup(200_002);
    for (let slot = 0; slot <= 200_000; slot += 2) add(s, slot, 5);
    let before = s.compares();
    add(s, 199_995, 5);
    assert.ok(s.compares() - before <= 8, `${s.compares() - before} comparisons near the tail`);
    before = s.compares();
    add(s, 3, 5);
    assert.ok(s.compares() - before <= 8, `${s.compares() - before} comparisons near the head`);
    const order = [...s.index.inOrder()];
    assert.deepEqual(order.slice(0, 4), [0, 2, 3, 4]);
    assert.deepEqual(order.slice(-4), [199_995, 199_996, 199_998, 200_000]);
  });

  it("places a late batch of ascending ids with one walk, not one per job", () => {
    const s = setup(200_002);
    for (let slot = 0; slot <= 200_000; slot += 2) add(s, slot, 9);
    const before = s.compares();
    for (let slot = 100_001; slot < 102_000; slot += 2) add(s, slot, 9); // 1,000 jobs mid-bucket
    const spent = s.compares() - before;
    assert.ok(spent < 120_000, `${spent} comparisons for 1,000 jobs (one walk to the middle is ~100,000)`);
    const order = [...s.index.inOrder()];
    for (let i = 1; i < order.length; i++) assert.ok(order[i - 1] < order[i], `out of order at ${i}`);
    assert.equal(order.length, 101_001);
  });
});
