// The block lists behind the job table's free slots and bulk delete's matches
// (lib/storage/slot-stack.ts, lib/storage/u32-list.ts): order and values across blocks.

import assert from "node:assert/strict";
import { it } from "node:test";
import { SlotStack } from "../../lib/storage/slot-stack.ts";
import { U32List } from "../../lib/storage/u32-list.ts";

it("SlotStack pops last-in first across blocks, and adopt() keeps that order", () => {
  const a = new SlotStack();
  const b = new SlotStack();
  for (let i = 0; i < 150_000; i++) a.push(i);
  for (let i = 150_000; i < 200_000; i++) b.push(i);
  a.adopt(b);
  assert.equal(a.length, 200_000);
  assert.equal(b.length, 0);
  assert.equal(b.pop(), undefined);
  for (let i = 199_999; i >= 100_000; i--) assert.equal(a.pop(), i);
  // A partly filled block in the middle (a.pop() emptied b's blocks, then pushes refill).
  a.push(7);
  assert.equal(a.pop(), 7);
  for (let i = 99_999; i >= 0; i--) assert.equal(a.pop(), i);
  assert.equal(a.pop(), undefined);
  assert.equal(a.length, 0);
  // Adopting into a stack whose last block is partly full keeps every slot.
  const c = new SlotStack();
  const d = new SlotStack();
  c.push(1);
  d.push(2);
  d.push(3);
  c.adopt(d);
  c.push(4);
  assert.deepEqual([c.pop(), c.pop(), c.pop(), c.pop(), c.pop()], [4, 3, 2, 1, undefined]);
});

it("U32List keeps unsigned 32-bit values across blocks", () => {
  const list = new U32List();
  for (let i = 0; i < 200_000; i++) list.push((i * 2654435761) >>> 0);
  assert.equal(list.length, 200_000);
  for (let i = 0; i < 200_000; i += 997) assert.equal(list.get(i), (i * 2654435761) >>> 0);
  list.push(2 ** 32 - 1);
  assert.equal(list.get(200_000), 2 ** 32 - 1);
});

it("SlotStack: adopting a few slots at a time, with pops between, holds a block or two, not one per adopt", () => {
  // The job table's cycle: freed slots gather in a pending stack, are adopted, and most
  // are reused. Partial blocks adopted as they were piled up (~9 MB a minute in the soak).
  const free = new SlotStack();
  const blockCount = () => (free as unknown as { blocks: unknown[] }).blocks.length; // 256 KB each
  let next = 0;
  for (let cycle = 0; cycle < 2000; cycle++) {
    const pending = new SlotStack();
    for (let i = 0; i < 300; i++) pending.push(next++);
    free.adopt(pending);
    for (let i = 0; i < 290; i++) free.pop();
  }
  assert.equal(free.length, 2000 * 10);
  assert.ok(blockCount() <= 2, `${blockCount()} blocks for ${free.length} slots`);
  // Full blocks adopted under a partial last block keep every slot.
  const big = new SlotStack();
  for (let i = 0; i < 70_000; i++) big.push(1_000_000 + i);
  free.adopt(big);
  assert.equal(free.length, 20_000 + 70_000);
  const seen = new Set<number>();
  for (let s = free.pop(); s !== undefined; s = free.pop()) seen.add(s);
  assert.equal(seen.size, 90_000);
  assert.equal(blockCount(), 0);
});
