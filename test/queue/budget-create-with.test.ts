// create_with (API-budgets.md §3.2 step 4): the new budget is written in the same
// transaction as what draws on it: an enqueue's jobs, a job budget route's new bindings,
// a cron install's group. Written first (as before), a failure or a kill -9 between the
// two writes left a budget nothing drew on, the request unanswered.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";
import { mutationFromBody } from "../../lib/queue/budget-jobs.ts";
import { FaultyFs, gate, isSegment } from "../helpers/faulty-fs.ts";
import { type Rig, T0, rig } from "./_budget-rig.ts";
import { ManualClock } from "../../lib/queue/clock.ts";
import { settlesWithin } from "../helpers/server.ts";

after(cleanupTmp);

const policy = { allocation: 5, strategy: { type: "while_in_flight" } };
const job = (key: string, n = 1) => ({ type: "t", queue: "q", payload: n, budgets: [{ key, create_with: policy }] });

/** The dir as a kill -9 now would leave it, opened again. */
async function restarted(dir: string) {
  const copy = tmpDir();
  fs.cpSync(dir, copy, { recursive: true });
  fs.rmSync(path.join(copy, "zizq.lock"), { force: true });
  return rig(copy);
}

describe("create_with on an enqueue", () => {
  it("a job write that fails takes its new budget with it, in memory and on disk", async () => {
    const r = await rig();
    try {
      const insert = r.store.insert.bind(r.store);
      // Only a write that carries a job fails (a budget written alone, as before, lands).
      r.store.insert = (jobs, ...rest) => (jobs.length > 0 ? Promise.reject(new Error("the write failed")) : insert(jobs, ...rest));
      await assert.rejects(r.queue.enqueue(job("new")));
      r.store.insert = insert;
      assert.equal(r.queue.budgets.budgets.has("new"), false, "in memory");
      const again = await restarted(r.dir);
      try {
        assert.equal(again.queue.budgets.budgets.has("new"), false, "on disk");
      } finally {
        await again.close();
      }
      // And the next enqueue makes it as usual.
      await r.queue.enqueue(job("new"));
      assert.equal(r.queue.budgets.budgets.has("new"), true);
    } finally {
      await r.close();
    }
  });

  it("requests naming the same new budget at once: each job is written, the budget once, and it survives a kill -9", async () => {
    const r = await rig();
    try {
      const results = await Promise.all([1, 2, 3, 4].map((n) => r.queue.enqueue(job("shared", n))));
      assert.equal(new Set(results.map((x) => x.job.id)).size, 4);
      const bulk = await r.queue.enqueueBulk({ jobs: [job("shared", 5), job("other", 6)] });
      assert.equal(bulk.length, 2);
      const again = await restarted(r.dir);
      try {
        assert.deepEqual([...again.queue.budgets.budgets.keys()].sort(), ["other", "shared"]);
        assert.equal(again.store.table.size, 6);
      } finally {
        await again.close();
      }
    } finally {
      await r.close();
    }
  });
});

/** Poll each turn of the loop until `condition` holds; fail after a deadline. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/**
 * A request that creates budget 'new' with create_with and binds something to it. `marker`
 * is a string its write of the binding carries (a job id, a cron group name); `change`
 * tells whether the binding is there.
 */
interface Route {
  name: string;
  act(r: Rig, id: string): Promise<unknown>;
  marker(id: string): string;
  change(r: Rig, id: string): boolean;
}

const drawsOnNew = (r: Rig, id: string) => (r.queue.get(id).job.budgets ?? []).some((b) => b.key === "new");
const entry = { name: "e", expression: "0 0 * * *", job: { type: "t", queue: "q", payload: null, budgets: [{ key: "new", create_with: policy }] } };
const routes: Route[] = [
  {
    name: "POST /jobs/{id}/budgets/{key}",
    act: (r, id) => r.queue.mutateJobBudgets(id, mutationFromBody("add", { create_with: policy }, "new")),
    marker: (id) => id,
    change: drawsOnNew,
  },
  {
    name: "PUT /jobs/{id}/budgets",
    act: (r, id) => r.queue.mutateJobBudgets(id, mutationFromBody("replace", { budgets: [{ key: "new", create_with: policy }] })),
    marker: (id) => id,
    change: drawsOnNew,
  },
  {
    name: "POST /jobs/budgets/{key}?queue=",
    act: (r) => r.queue.mutateJobsBudgets({ queues: ["q"] }, mutationFromBody("add", { create_with: policy }, "new")),
    marker: (id) => id,
    change: drawsOnNew,
  },
  {
    name: "POST /crons/{group}/entries",
    act: (r) => r.queue.crons.putEntry("nightly-group", undefined, entry),
    marker: () => "nightly-group",
    change: (r) => r.queue.crons.names().includes("nightly-group"),
  },
];

/** Fail (or hold) the segment write that carries `marker`. */
const carrying = (marker: string) => (path: string, data?: readonly Buffer[]) => isSegment(path) && (data ?? []).some((b) => b.includes(marker));

describe("create_with on the job budget routes and cron installs", () => {
  for (const route of routes) {
    it(`${route.name}: killed before its write lands, a restart has neither the budget nor the change; after, both`, { timeout: 30_000 }, async () => {
      const fs = new FaultyFs();
      const r = await rig(tmpDir(), new ManualClock(T0), fs);
      const held = gate();
      try {
        const id = (await r.queue.enqueue({ type: "t", queue: "q", payload: 1 })).job.id;
        const reached = fs.failWrite({ kind: "pass", match: carrying(route.marker(id)), gate: held.promise });
        const request = route.act(r, id);
        await reached;
        // The write is on its way to the file: the dir as a kill -9 now would leave it.
        const killed = await restarted(r.dir);
        try {
          assert.equal(killed.queue.budgets.budgets.has("new"), false, "no budget without the change");
          assert.equal(route.change(killed, id), false);
        } finally {
          await killed.close();
        }
        held.open();
        await request;
        const after = await restarted(r.dir);
        try {
          assert.equal(after.queue.budgets.budgets.has("new"), true);
          assert.equal(route.change(after, id), true);
        } finally {
          await after.close();
        }
      } finally {
        held.open(); // a failed assertion must not leave the write, and close(), waiting
        await r.close();
      }
    });

    it(`${route.name}: a write that fails takes the new budget with it, in memory and on disk`, { timeout: 30_000 }, async () => {
      const fs = new FaultyFs();
      const r = await rig(tmpDir(), new ManualClock(T0), fs);
      try {
        const id = (await r.queue.enqueue({ type: "t", queue: "q", payload: 1 })).job.id;
        fs.failWrite({ kind: "eio", match: carrying(route.marker(id)) });
        await assert.rejects(route.act(r, id));
        assert.equal(r.queue.budgets.budgets.has("new"), false, "in memory");
        assert.equal(route.change(r, id), false);
        const again = await restarted(r.dir);
        try {
          assert.equal(again.queue.budgets.budgets.has("new"), false, "on disk");
          assert.equal(route.change(again, id), false);
        } finally {
          await again.close();
        }
        // Once the disk works, the same request makes both.
        await route.act(r, id);
        assert.equal(r.queue.budgets.budgets.has("new"), true);
        assert.equal(route.change(r, id), true);
      } finally {
        await r.close();
      }
    });
  }

  it("a cron install refused with 409 (the entry exists) creates no budget", async () => {
    const r = await rig();
    try {
      await r.queue.crons.putEntry("g", undefined, { ...entry, job: { type: "t", queue: "q", payload: null } });
      await assert.rejects(r.queue.crons.putEntry("g", undefined, entry), { code: "conflict" });
      assert.equal(r.queue.budgets.budgets.has("new"), false);
    } finally {
      await r.close();
    }
  });

  it("a bulk route that matches no job still writes its new budget (§3.3), and a restart keeps it", async () => {
    const r = await rig();
    try {
      const result = await r.queue.mutateJobsBudgets({ queues: ["none"] }, mutationFromBody("add", { create_with: policy }, "new"));
      assert.deepEqual(result, { changed: 0, blocked: [] });
      const again = await restarted(r.dir);
      try {
        assert.equal(again.queue.budgets.budgets.has("new"), true);
      } finally {
        await again.close();
      }
    } finally {
      await r.close();
    }
  });

  it("a change of a budget an enqueue is still writing waits for that write, so a restart keeps the change", async () => {
    const r = await rig();
    const held = gate();
    try {
      // Unique enqueues take the enqueue lock: held here, the job and its new budget wait to be written.
      const holding = r.queue.ctx.enqueueLock.run(() => held.promise);
      const enqueued = r.queue.enqueue({ ...job("new"), unique_key: "u" });
      await until(() => r.queue.budgets.budgets.has("new"), "the budget made in memory");
      const patched = r.queue.budgets.patch("new", { allocation: 9 });
      held.open();
      await Promise.all([holding, enqueued, patched]);
      assert.equal(r.queue.budgets.get("new").allocation, 9);
      const again = await restarted(r.dir);
      try {
        assert.equal(again.queue.budgets.get("new").allocation, 9, "the patch, not the policy create_with wrote after it");
      } finally {
        await again.close();
      }
    } finally {
      held.open();
      await r.close();
    }
  });
  it("while a change of one budget waits for its create_with write, other budgets' enqueues and writes go on", async () => {
    const r = await rig();
    const held = gate();
    try {
      await r.queue.budgets.create("B", policy);
      const holding = r.queue.ctx.enqueueLock.run(() => held.promise);
      const enqueued = r.queue.enqueue({ ...job("K"), unique_key: "u" });
      await until(() => r.queue.budgets.budgets.has("K"), "the budget made in memory");
      const patched = r.queue.budgets.patch("K", { allocation: 9 });
      // The patch of K waits for K's write (held). It used to wait holding the book's lock,
      // so these waited too, whatever their key, until the held write landed.
      const others = Promise.all([
        r.queue.enqueue({ type: "t", queue: "other", payload: 2, budgets: [{ key: "B" }] }),
        r.queue.budgets.create("C", policy),
      ]);
      assert.ok(await settlesWithin(others, 10_000), "an enqueue bound to B and POST /budgets/C still waited after 10 s");
      held.open();
      await Promise.all([holding, enqueued, patched, others]);
      assert.equal(r.queue.budgets.get("K").allocation, 9);
    } finally {
      held.open();
      await r.close();
    }
  });
});
