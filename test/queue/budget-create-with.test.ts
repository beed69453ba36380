// create_with on an enqueue (API-budgets.md §3.2 step 4): the new budget is written in the
// same transaction as the job. Written first (as before), a failure or a kill -9 between
// the two writes left a budget without its job, the request unanswered.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";
import { rig } from "./_budget-rig.ts";

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
