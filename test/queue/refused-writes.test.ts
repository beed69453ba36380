// Writes the storage refuses (a full disk, EIO) must change nothing: not the served
// state, and not what a later checkpoint or compaction writes down. And on a full disk,
// changes that were promised no room (PATCH, budget binds, compaction copies) are refused
// before they eat the room kept for acks, so acks keep working (docs/operations.md).

import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { createAdminApp } from "../../lib/http/admin.ts";
import { createQueue, type Queue } from "../../lib/queue/queue.ts";
import { QueueError } from "../../lib/queue/types.ts";
import { StorageError } from "../../lib/storage/errors.ts";
import { type Store, openStore } from "../../lib/storage/store.ts";
import { FaultyFs, isPreallocation } from "../helpers/faulty-fs.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";

after(() => cleanupTmp());

async function open(dir: string, fs = new FaultyFs()): Promise<{ store: Store; queue: Queue; fs: FaultyFs }> {
  const store = await openStore({ dir, segmentBytes: 1024 * 1024, fs });
  return { store, queue: createQueue(store, { reaperIntervalMs: 0 }), fs };
}

async function close(q: { store: Store; queue: Queue }): Promise<void> {
  q.queue.stop();
  await q.store.close();
}

const isIo = (err: unknown) => err instanceof StorageError && err.kind === "io";
const isFull = (err: unknown) => err instanceof QueueError && err.code === "full";

/** What a client can see of the state this test builds. */
async function seen(queue: Queue) {
  const jobs = (await queue.list({ filter: {}, order: "asc", limit: 100 })).jobs.map((j) => `${j.job.queue}:${j.job.unique_key ?? ""}`);
  return {
    jobs,
    budgets: queue.budgets.list().map((b) => b.key),
    crons: queue.crons.names(),
    paused: queue.queueStates().filter((q) => q.paused).map((q) => q.name),
  };
}

async function seed(queue: Queue): Promise<void> {
  await queue.budgets.create("b", { allocation: 3, strategy: { type: "while_in_flight" } });
  for (const g of ["g1", "g2"]) {
    await queue.crons.putGroup(g, { entries: [{ name: "e", expression: "0 0 1 1 *", job: { type: "t", queue: "c", payload: null } }] });
  }
  await queue.setPaused("p", true);
  for (let i = 0; i < 5; i++) await queue.enqueue({ type: "t", queue: "q", payload: { i }, unique_key: `u${i}` });
}

describe("a write that fails with EIO changes nothing, now or after a checkpoint and a restart", () => {
  const cases: [string, (queue: Queue) => Promise<unknown>][] = [
    ["POST /reset", (queue) => queue.reset()],
    ["DELETE /budgets/{key}", (queue) => queue.budgets.remove("b")],
    ["DELETE /crons/{group}", (queue) => queue.crons.deleteGroup("g1")],
    ["DELETE /crons", (queue) => queue.crons.deleteAll()],
  ];
  for (const [what, run] of cases) {
    it(what, async () => {
      const dir = tmpDir("zizq-refused-");
      let q = await open(dir);
      await seed(q.queue);
      const before = await seen(q.queue);
      q.fs.failWrite({ kind: "eio", persistent: true });
      await assert.rejects(run(q.queue), isIo);
      q.fs.clear();
      assert.deepEqual(await seen(q.queue), before, "served state after the refusal");
      // A unique key is still held: a duplicate is a duplicate.
      assert.equal((await q.queue.enqueue({ type: "t", queue: "q", payload: null, unique_key: "u0" })).duplicate, true);
      // Another write, then a checkpoint: it must not write the refused change down.
      await q.queue.enqueue({ type: "t", queue: "later", payload: null });
      assert.equal(await q.store.checkpoint(), true);
      await close(q);
      q = await open(dir);
      assert.equal(q.store.recovery.from, "checkpoint");
      assert.deepEqual(await seen(q.queue), { ...before, jobs: [...before.jobs, "later:"] }, "after the restart");
      // And the operation works once the disk does.
      await run(q.queue);
      await close(q);
    });
  }

  it("POST /reset that succeeds still empties everything, also after a restart", async () => {
    const dir = tmpDir("zizq-refused-");
    let q = await open(dir);
    await seed(q.queue);
    await q.queue.reset();
    const empty = { jobs: [], budgets: [], crons: [], paused: [] };
    assert.deepEqual(await seen(q.queue), empty);
    await close(q);
    q = await open(dir);
    assert.deepEqual(await seen(q.queue), empty);
    await close(q);
  });
});

describe("a full disk", () => {
  it("refuses PATCHes and compaction before they eat the room kept for acks; acks keep working", async () => {
    const dir = tmpDir("zizq-refused-full-");
    const q = await open(dir);
    const { queue, fs } = q;
    for (let i = 0; i < 4; i++) {
      await queue.enqueueBulk({ jobs: Array.from({ length: 200 }, (_, k) => ({ type: "t", queue: "q", payload: { k, pad: "x".repeat(400) } })) });
    }
    fs.failWrite({ kind: "enospc", match: isPreallocation, persistent: true });
    let err: unknown;
    for (let i = 0; i < 10_000 && err === undefined; i++) {
      await queue.enqueue({ type: "t", queue: "q", payload: { pad: "y".repeat(400) } }).catch((e: unknown) => { err = e; });
    }
    assert.ok(isFull(err), `enqueues are refused: ${String(err)}`);
    // Each PATCH of 800 jobs is ~80 KB: the old code took them until the preallocated
    // room ran out, then every write failed, deletes (acks) too.
    let patched = 0;
    let refusal: unknown;
    for (let i = 0; i < 200 && refusal === undefined; i++) {
      await queue.patchMany({ queues: ["q"] }, { priority: i % 100 }).then(() => { patched++; }, (e: unknown) => { refusal = e; });
    }
    assert.ok(isFull(refusal), `PATCH /jobs is refused with a 507 (${patched} taken first): ${String(refusal)}`);
    const admin = createAdminApp(queue, { logError: () => {} });
    const compact = await admin.fetch(new Request("http://admin/compact", { method: "POST" }));
    assert.ok([204, 507].includes(compact.status), `POST /compact: ${compact.status}`);
    if (compact.status === 507) assert.match((await compact.json() as { error: string }).error, /^storage is full: /);
    // Deletes of existing jobs (what an ack with no retention writes) still work.
    const ids = (await queue.list({ filter: { queues: ["q"] }, order: "asc", limit: 300 })).jobs.map((j) => j.job.id);
    for (const id of ids) await queue.deleteOne(id);
    // Space is back: the server recovers by itself. A PATCH that finds no room starts a
    // spare; until one is made it is still refused, so try until a deadline.
    fs.clear();
    await queue.enqueue({ type: "t", queue: "q", payload: null });
    const deadline = Date.now() + 10_000;
    for (;;) {
      const r = await queue.patchMany({ queues: ["q"] }, { priority: 1 }).catch((e: unknown) => e);
      if (typeof r === "number") break;
      assert.ok(isFull(r) && Date.now() < deadline, `PATCH after space came back: ${String(r)}`);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await close(q);
  });
});
