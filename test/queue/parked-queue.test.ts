// The parked-job order of a budget group (lib/queue/_parked-queue.ts) against a sorted
// array: (priority, id) order under random pushes (ids mostly rising, some late) and
// removals from the head and the middle.

import assert from "node:assert/strict";
import { it } from "node:test";
import { ParkedQueue } from "../../lib/queue/_parked-queue.ts";
import { prng } from "../helpers/random.ts";

it("keeps (priority, id) order through random pushes and removals", () => {
  const seed = Date.now() % 100_000;
  const rand = prng(seed);
  const priority: number[] = [];
  const id: number[] = [];
  const q = new ParkedQueue((a, b) => id[a] - id[b], (s) => priority[s]);
  const live = new Set<number>();
  let nextId = 0;
  for (let step = 0; step < 20_000; step++) {
    const r = rand();
    if (r < 0.55 || live.size === 0) {
      const slot = priority.length;
      priority.push(Math.floor(rand() * 4));
      id.push(rand() < 0.1 ? nextId - Math.floor(rand() * 50) - 0.5 + step * 1e-9 : nextId++); // ids are unique
      q.push(slot);
      live.add(slot);
    } else {
      const order = [...live].sort((a, b) => priority[a] - priority[b] || id[a] - id[b]);
      const victim = r < 0.85 ? order[0] : order[Math.floor(rand() * order.length)];
      assert.equal(q.peek(), order[0], `seed ${seed}, step ${step}`);
      assert.equal(q.remove(victim), true);
      live.delete(victim);
    }
    assert.equal(q.size, live.size);
  }
  assert.equal(q.remove(priority.length + 5), false);
  assert.deepEqual(new Set(q.values()), live);
});
