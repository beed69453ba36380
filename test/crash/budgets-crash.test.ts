// kill -9 with budgets (API-budgets.md §2.11, §6 case 20): after a restart on the same
// dir, budget policies and timestamps are as acknowledged, buckets are full again, job
// bindings are intact on every job, in-flight budgeted jobs are ready and re-parked (a
// concurrency limit still holds). (Compaction: test/http/budget-jobs.test.ts.)

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { tmpDir } from "../helpers/tmp.ts";
import { count, enqueueBulk, openTake, req, type Json } from "../http/_client.ts";
import { crashHarness } from "../helpers/crash.ts";

const { spawn, streams } = crashHarness(["--no-admin"]);

describe("kill -9 with budgets", () => {
  it("policies, bindings and limits survive; buckets start full; in-flight jobs are re-parked", async () => {
    const dir = tmpDir();
    const srv = await spawn(dir);
    const rate = { allocation: 2, strategy: { type: "time_based", duration_ms: 3_600_000, burst: 3 } };
    assert.equal((await req(srv.url, "POST", "/budgets/rate", rate)).status, 201);
    assert.equal((await req(srv.url, "POST", "/budgets/slots", { allocation: 2, strategy: { type: "while_in_flight" } })).status, 201);
    assert.equal((await req(srv.url, "PATCH", "/budgets/slots", { allocation: 3 })).status, 200);
    assert.equal((await req(srv.url, "POST", "/budgets/gone", { allocation: 1, strategy: { type: "while_in_flight" } })).status, 201);
    assert.equal((await req(srv.url, "DELETE", "/budgets/gone")).status, 204);
    const before = (await req(srv.url, "GET", "/budgets")).body!.budgets as Json[];
    const rated = await enqueueBulk(srv.url, Array.from({ length: 5 }, (_, n) => ({ queue: "r", payload: { n }, budgets: [{ key: "rate" }] })));
    const slotted = await enqueueBulk(srv.url, Array.from({ length: 6 }, (_, n) => ({ queue: "s", payload: { n }, budgets: [{ key: "slots", cost: 1 }] })));
    const t = await openTake(srv.url, "prefetch=20");
    streams.push(t);
    await t.waitJobs(6, 10_000); // 3 of rate (burst), 3 of slots
    assert.equal(await count(srv.url, "status=in_flight"), 6);
    assert.equal(await count(srv.url, "status=ready"), 5);
    await srv.kill9();
    streams.splice(0);

    const again = await spawn(dir);
    assert.deepEqual((await req(again.url, "GET", "/budgets")).body!.budgets, before);
    for (const j of [...rated, ...slotted]) {
      const g = await req(again.url, "GET", `/jobs/${j.id}`);
      assert.deepEqual(g.body!.budgets, j.budgets);
    }
    assert.equal(await count(again.url, "status=ready"), 11, "in-flight jobs are ready again");
    const t2 = await openTake(again.url, "prefetch=20");
    streams.push(t2);
    await t2.waitJobs(6, 10_000); // full again: 3 rate tokens, 3 slots
    assert.equal(await count(again.url, "status=in_flight"), 6);
    assert.equal(t2.jobs.filter((j) => j.queue === "s").length, 3, "the concurrency limit still holds");
  });
});
