// The admin view's early-exit orders must agree with the full list order: the ready
// k-way merge across queues and the scheduled heap's frontier walk (lib/queue/admin-view.ts).

import assert from "node:assert/strict";
import { after, it } from "node:test";
import { createQueue } from "../../lib/queue/queue.ts";
import { openStore } from "../../lib/storage/store.ts";
import { tmpDir } from "../helpers/tmp.ts";

const store = await openStore({ dir: tmpDir(), segmentBytes: 4 * 1024 * 1024 });
const queue = createQueue(store, { reaperIntervalMs: 0 });
after(async () => {
  queue.stop();
  await store.close();
});

it("head windows of every size match the first items of the full order", async () => {
  const jobs = [];
  for (let j = 0; j < 2000; j++) {
    jobs.push({ type: "t", queue: `q${j % 7}`, payload: {}, priority: (j * 7919) % 13, ...(j % 2 ? { ready_at: Date.now() + 1e9 + ((j * 104729) % 300) } : {}) });
  }
  await queue.enqueueBulk({ jobs });
  const t = store.table;
  for (const list of ["ready", "scheduled"] as const) {
    const full = queue.admin.ordered(list);
    assert.equal(full.length, 1000);
    const key = list === "ready" ? (s: number) => t.priority[s] : (s: number) => t.readyAt[s];
    for (let i = 1; i < full.length; i++) {
      const d = key(full[i - 1]) - key(full[i]) || t.compare(full[i - 1], full[i]);
      assert.ok(d < 0, `${list} out of order at ${i}`);
    }
    for (const k of [1, 5, 200, 249]) assert.deepEqual(queue.admin.ordered(list, k), full.slice(0, k), `${list} head ${k}`);
  }
});

it("small in-flight head windows (selection) match the first items of the full sort", async () => {
  const got: unknown[] = [];
  await queue.enqueueBulk({ jobs: Array.from({ length: 300 }, (_, j) => ({ type: "t", queue: `f${j % 5}`, payload: {}, priority: (j * 31) % 7 })) });
  const taker = queue.take({ queues: ["f0", "f1", "f2", "f3", "f4"], prefetch: 0, deliver: (j) => (got.push(j), true) });
  const deadline = Date.now() + 20_000;
  while (got.length < 300 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
  assert.equal(got.length, 300);
  const full = queue.admin.ordered("in_flight");
  assert.equal(full.length, 300);
  for (const k of [1, 2, 7, 16]) assert.deepEqual(queue.admin.ordered("in_flight", k), full.slice(0, k), `in_flight head ${k}`);
  taker.close();
});
