// Writes the storage refuses (a full disk, EIO) must change nothing: not the served
// state, and not what a later checkpoint or compaction writes down.

import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { createQueue, type Queue } from "../../lib/queue/queue.ts";
import { StorageError } from "../../lib/storage/errors.ts";
import { type Store, openStore } from "../../lib/storage/store.ts";
import { FaultyFs } from "../helpers/faulty-fs.ts";
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
