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
