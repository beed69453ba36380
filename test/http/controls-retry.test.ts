// Extension: retry dead jobs (docs/api.md "Extensions"). One job or by filter: dead and
// retained completed jobs go back to ready with attempts 0 and their error history;
// anything else is a 422 that changes nothing; a unique key now held by another job is a
// 409 naming the holder; bulk answers {retried: n} and leaves such jobs alone.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { spawnServer } from "../helpers/server.ts";
import { tmpDir } from "../helpers/tmp.ts";
import { assertError, enqueue, getJob, openTake, req, sharedServer, uniq, type Json } from "./_client.ts";

const { s, open } = sharedServer();

/** Enqueue, take and kill `n` jobs in a fresh queue; returns them (now dead). */
async function deadJobs(n: number, extra: Json = {}): Promise<Json[]> {
  const q = uniq();
  const jobs: Json[] = [];
  for (let i = 0; i < n; i++) jobs.push(await enqueue(s.url, { queue: q, ...extra }));
  const t = await openTake(s.url, `queue=${q}&prefetch=${n}`);
  await t.waitJobs(n);
  for (const j of jobs) {
    const r = await req(s.url, "POST", `/jobs/${j.id}/failure`, { message: `boom ${j.id}`, kill: true });
    assert.equal(r.body!.status, "dead");
  }
  await t.close();
  return jobs;
}

describe("POST /jobs/{id}/retry", () => {
  it("moves a dead job back to ready with attempts 0, keeping its error history", async () => {
    const [job] = await deadJobs(1);
    const r = await req(s.url, "POST", `/jobs/${job.id}/retry`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body!.status, "ready");
    assert.equal(r.body!.attempts, 0);
    assert.equal(r.body!.purge_at, undefined);
    const t = await openTake(s.url, `queue=${job.queue}`);
    open.push(t);
    assert.equal((await t.job(0)).id, job.id);
    // A new failure numbers on after the kept record (attempt 2), so neither is lost.
    await req(s.url, "POST", `/jobs/${job.id}/failure`, { message: "again" });
    const errors = (await req(s.url, "GET", `/jobs/${job.id}/errors`)).body!.errors as Json[];
    assert.deepEqual(errors.map((e) => [e.attempt, e.message]), [[1, `boom ${job.id}`], [2, "again"]]);
    assert.equal((await getJob(s.url, job.id))!.attempts, 1);
  });

  it("a retained completed job can be retried; ready_at schedules it", async () => {
    const q = uniq();
    const job = await enqueue(s.url, { queue: q, retention: { completed_ms: 3_600_000 } });
    const t = await openTake(s.url, `queue=${q}`);
    open.push(t);
    await t.job(0);
    assert.equal((await req(s.url, "POST", `/jobs/${job.id}/success`)).status, 204);
    const later = Date.now() + 3_600_000;
    const r = await req(s.url, "POST", `/jobs/${job.id}/retry`, { ready_at: later });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body!.status, "scheduled");
    assert.equal(r.body!.ready_at, later);
    assert.equal(r.body!.completed_at, undefined);
  });

  it("any other status is a 422 and changes nothing; unknown ids 404; bad bodies 400", async () => {
    const q = uniq();
    const ready = await enqueue(s.url, { queue: q });
    assertError(await req(s.url, "POST", `/jobs/${ready.id}/retry`), 422, "cannot retry a job in ready status (only dead or completed jobs)");
    const t = await openTake(s.url, `queue=${q}`);
    open.push(t);
    await t.job(0);
    assertError(await req(s.url, "POST", `/jobs/${ready.id}/retry`), 422, "cannot retry a job in in_flight status (only dead or completed jobs)");
    const still = await getJob(s.url, ready.id);
    assert.equal(still!.status, "in_flight");
    assert.equal((await req(s.url, "POST", `/jobs/${ready.id}/success`)).status, 204);
    assertError(await req(s.url, "POST", "/jobs/0000000000000000000000000/retry"), 404, "job not found");
    const [dead] = await deadJobs(1);
    assertError(await req(s.url, "POST", `/jobs/${dead.id}/retry`, { ready_at: "soon" }), 400, /^invalid JSON: ready_at: invalid type/);
    assertError(await req(s.url, "POST", `/jobs/${dead.id}/retry`, { when: 1 }), 400, "unknown field `when`, expected `ready_at`");
    assertError(await req(s.url, "POST", `/jobs/${dead.id}/retry`, "{"), 400, /^invalid JSON/);
    assert.equal((await getJob(s.url, dead.id))!.status, "dead");
  });

  it("409 naming the holder when the unique key is now held by another job", async () => {
    const key = uniq("key");
    const [dead] = await deadJobs(1, { unique_key: key });
    const holder = await enqueue(s.url, { queue: uniq(), unique_key: key });
    assert.equal(holder.duplicate, false);
    const r = await req(s.url, "POST", `/jobs/${dead.id}/retry`);
    assert.equal(r.status, 409);
    assert.equal(r.body!.error, `unique key '${key}' is held by job ${holder.id}`);
    assert.equal(r.body!.holder, holder.id);
    assert.equal((await getJob(s.url, dead.id))!.status, "dead");
    // Once the holder is gone the retry goes through and the job holds the key again.
    await req(s.url, "DELETE", `/jobs/${holder.id}`);
    assert.equal((await req(s.url, "POST", `/jobs/${dead.id}/retry`)).status, 200);
    const dup = await enqueue(s.url, { queue: uniq(), unique_key: key });
    assert.equal(dup.duplicate, true);
    assert.equal(dup.id, dead.id);
  });
});

describe("retry and budgets", () => {
  // A dead job does not hold its budgets' guards (API-budgets.md §2.10), so the budget can
  // be deleted or shrunk meanwhile; retried, the job was ready but never dispatched.
  it("a budget deleted or shrunk since the job died is a 422 that changes nothing; bulk skips the job", async () => {
    const gone = uniq("b");
    const small = uniq("b");
    for (const key of [gone, small]) {
      assert.equal((await req(s.url, "POST", `/budgets/${key}`, { allocation: 3, strategy: { type: "while_in_flight" } })).status, 201);
    }
    const [a] = await deadJobs(1, { budgets: [{ key: gone }] });
    const [b] = await deadJobs(1, { budgets: [{ key: small, cost: 3 }] });
    assert.equal((await req(s.url, "DELETE", `/budgets/${gone}`)).status, 204);
    assert.equal((await req(s.url, "PATCH", `/budgets/${small}`, { allocation: 1 })).status, 200);
    assertError(await req(s.url, "POST", `/jobs/${a.id}/retry`), 422, `cannot retry: budget '${gone}' no longer exists. Create it again first.`);
    assertError(await req(s.url, "POST", `/jobs/${b.id}/retry`), 422, `cannot retry: the job draws 3 from budget '${small}', which now holds at most 1. Raise its allocation first.`);
    assert.deepEqual((await req(s.url, "POST", `/jobs/retry?id=${a.id},${b.id}`)).body, { retried: 0 });
    for (const j of [a, b]) assert.equal((await getJob(s.url, j.id))!.status, "dead");
    // Put right, both retry, and the retried job holds the guard again.
    assert.equal((await req(s.url, "POST", `/budgets/${gone}`, { allocation: 1, strategy: { type: "while_in_flight" } })).status, 201);
    assert.equal((await req(s.url, "PATCH", `/budgets/${small}`, { allocation: 3 })).status, 200);
    assert.deepEqual((await req(s.url, "POST", `/jobs/retry?id=${a.id},${b.id}`)).body, { retried: 2 });
    assert.equal((await req(s.url, "DELETE", `/budgets/${gone}`)).status, 409);
  });
});

describe("POST /jobs/retry?<filters>", () => {
  it("retries every dead job the filter matches and answers {retried: n}", async () => {
    const jobs = await deadJobs(5);
    const q = jobs[0].queue as string;
    const r = await req(s.url, "POST", `/jobs/retry?queue=${q}`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body, { retried: 5 });
    for (const j of jobs) assert.equal((await getJob(s.url, j.id))!.status, "ready");
    assert.deepEqual((await req(s.url, "POST", `/jobs/retry?queue=${q}`)).body, { retried: 0 });
  });

  it("skips jobs whose unique key another job holds; 422 for non-terminal statuses; 400 bad query", async () => {
    const key = uniq("key");
    const [a] = await deadJobs(1, { unique_key: key });
    const q = a.queue as string;
    const holder = await enqueue(s.url, { queue: uniq(), unique_key: key });
    assert.deepEqual((await req(s.url, "POST", `/jobs/retry?id=${a.id}`)).body, { retried: 0 });
    assert.equal((await getJob(s.url, a.id))!.status, "dead");
    assertError(await req(s.url, "POST", `/jobs/retry?queue=${q}&status=ready`), 422, "cannot retry jobs in ready status (only dead or completed jobs)");
    assertError(await req(s.url, "POST", "/jobs/retry?colour=red"), 400, /^invalid query parameters: unknown field `colour`/);
    assertError(await req(s.url, "POST", "/jobs/retry?status=gone"), 400, /unknown status `gone`/);
    await req(s.url, "DELETE", `/jobs/${holder.id}`);
    assert.deepEqual((await req(s.url, "POST", `/jobs/retry?queue=${q}&status=dead`, { ready_at: 1 })).body, { retried: 1 });
  });

  it("retries thousands of jobs in atomic chunks", async () => {
    const q = uniq();
    const n = 1200;
    const jobs = (await req(s.url, "POST", "/jobs/bulk", { jobs: Array.from({ length: n }, () => ({ type: "t", queue: q, payload: null })) })).body!.jobs as Json[];
    assert.equal(jobs.length, n);
    const t = await openTake(s.url, `queue=${q}&prefetch=50`);
    for (let i = 0; i < n; i++) {
      const j = await t.job(i, 20_000);
      await req(s.url, "POST", `/jobs/${j.id}/failure`, { message: "x", kill: true });
    }
    await t.close();
    assert.deepEqual((await req(s.url, "POST", `/jobs/retry?queue=${q}`)).body, { retried: n });
    assert.equal((await req(s.url, "GET", `/jobs/count?queue=${q}&status=ready`)).body!.count, n);
  });
});

describe("a retried batch job", () => {
  it("does not re-open its batch: later batched enqueues start a new job, live and after a restart", async () => {
    const dir = tmpDir("zizq-retry-batch-");
    let server = await spawnServer(dir);
    const q = uniq();
    const batch = { key: uniq("b"), when: "true", fold: "$existing | .items += ($new | .items)" };
    const batched = async (item: string) => (await req(server.url, "POST", "/jobs", { type: "t", queue: q, payload: { items: [item] }, batch, retention: { completed_ms: 3_600_000 } })).body!;
    /** Take the open batch job, complete it and retry it. */
    const completeAndRetry = async (id: string) => {
      const t = await openTake(server.url, `queue=${q}`);
      assert.equal((await t.job(0)).id, id);
      assert.equal((await req(server.url, "POST", `/jobs/${id}/success`)).status, 204);
      await t.close();
      assert.equal((await req(server.url, "POST", `/jobs/${id}/retry`)).status, 200);
    };
    try {
      const first = await batched("a");
      await completeAndRetry(first.id);
      const second = await batched("b");
      assert.notEqual(second.id, first.id, "live: a new batch job, not a fold into the retried one");
      assert.equal(second.folded, false);
      // The retried job is ready again, and the newest ready job of its key when the
      // server restarts, which reopens such a job as its key's batch unless it is sealed.
      await req(server.url, "DELETE", `/jobs/${first.id}`);
      await completeAndRetry(second.id);
      await server.stop();
      server = await spawnServer(dir);
      const third = await batched("c");
      assert.notEqual(third.id, second.id, "after a restart: a new batch job");
      assert.equal(third.folded, false);
      assert.deepEqual((await getJob(server.url, second.id))!.payload, { items: ["b"] }, "the retried job's items unchanged");
      assert.equal((await batched("d")).id, third.id, "the new job is the open batch");
    } finally {
      await server.stop();
    }
  });
});
