// Unique keys of jobs that are gone (completed and deleted, or deleted) leave the index:
// every key ever used stayed in memory until a restart, which a key per entity and day
// grows by the million. Behaviour is unchanged: a live holder still conflicts, and a
// key whose job is gone is free either way.

import assert from "node:assert/strict";
import { after, it } from "node:test";
import { createQueue } from "../../lib/queue/queue.ts";
import { openStore } from "../../lib/storage/store.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";

const store = await openStore({ dir: tmpDir("zizq-unique-prune-"), segmentBytes: 4 * 1024 * 1024 });
const queue = createQueue(store, { reaperIntervalMs: 0 });
after(async () => {
  queue.stop();
  await store.close();
  cleanupTmp();
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const held = (): number => (queue as any).ctx.unique.size;
const enqueue = (from: number, n: number) => queue.enqueueBulk({
  jobs: Array.from({ length: n }, (_, i) => ({ type: "t", queue: "q", payload: 1, unique_key: `report:${from + i}` })),
});

it("keys of jobs that are gone are dropped as new keys arrive; live keys still conflict", async () => {
  await enqueue(0, 3000);
  assert.equal(held(), 3000);
  assert.equal(await queue.deleteMany({ queues: ["q"] }), 3000);
  assert.equal(await queue.count({}), 0);
  await enqueue(3000, 1200); // passes the next prune point (4,096 keys)
  assert.ok(held() <= 1200, `${held()} keys held for 1,200 live jobs`);
  // A live key still conflicts; a key whose job is gone is taken afresh.
  const [dup] = await enqueue(3100, 1);
  assert.equal(dup.duplicate, true);
  const [fresh] = await enqueue(5, 1);
  assert.equal(fresh.created, true);
});
