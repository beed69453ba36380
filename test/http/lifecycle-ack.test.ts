// Issue 3 over HTTP, part 2: ack (single and bulk), nack (retry_at, kill, retry_limit,
// backoff bounds), error records, and retention of completed/dead jobs (§3.7–3.9,
// §4.1–4.2). Jobs are put in flight through a real take stream.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { eventually, startServer } from "../helpers/server.ts";
import { ack, assertError, count, enqueue, getJob, openTake, req, uniq, type Json, type TakeStream, sharedServer } from "./_client.ts";

const WEEK_MS = 604_800_000;

const { s, open } = sharedServer();

/**
 * Enqueue `jobs` on a fresh queue and take them all on one stream, which stays open (they
 * stay in flight); `lastStream` is that stream, which also gets any retried job back.
 */
let lastStream: TakeStream;
async function inFlight(jobs: Json[]): Promise<Json[]> {
  const q = uniq();
  const made = [];
  for (const j of jobs) made.push(await enqueue(s.url, { queue: q, ...j }));
  const t = await openTake(s.url, `queue=${q}&prefetch=${jobs.length}`);
  open.push(t);
  lastStream = t;
  const taken = await t.waitJobs(jobs.length);
  assert.deepEqual(taken.map((j) => j.id), made.map((j) => j.id));
  return taken;
}

describe("POST /jobs/{id}/success", () => {
  it("204 with no body; the job is gone (completed retention 0)", async () => {
    const [job] = await inFlight([{}]);
    const r = await req(s.url, "POST", `/jobs/${job.id}/success`);
    assert.equal(r.status, 204);
    assert.equal(r.text, "");
    assert.equal(r.headers.get("content-type"), null);
    assert.equal(await getJob(s.url, job.id), undefined);
  });

  it("a body, even a JSON one, is ignored", async () => {
    const [job] = await inFlight([{}]);
    assert.equal((await req(s.url, "POST", `/jobs/${job.id}/success`, "garbage", { "content-type": "text/plain" })).status, 204);
  });

  it("404 for unknown ids, ready jobs and already-acked jobs", async () => {
    const [job] = await inFlight([{}]);
    const ready = await enqueue(s.url, { queue: uniq() });
    for (const id of ["03fr1jkpcsipbsckqj0y6pgr7", "garbage", ready.id]) {
      assertError(await req(s.url, "POST", `/jobs/${id}/success`), 404, "job not found in in-flight set");
    }
    assert.equal((await req(s.url, "POST", `/jobs/${job.id}/success`)).status, 204);
    assertError(await req(s.url, "POST", `/jobs/${job.id}/success`), 404, "job not found in in-flight set");
    assert.equal((await getJob(s.url, ready.id))!.status, "ready");
  });

  it("completed_ms > 0 keeps the job completed with completed_at and purge_at", async () => {
    const [job] = await inFlight([{ retention: { completed_ms: 60_000 } }]);
    assert.equal((await req(s.url, "POST", `/jobs/${job.id}/success`)).status, 204);
    const done = (await getJob(s.url, job.id))!;
    assert.equal(done.status, "completed");
    assert.equal(done.purge_at, done.completed_at + 60_000);
    assert.equal(done.dequeued_at, job.dequeued_at);
    assert.deepEqual(done.retention, { completed_ms: 60_000 });
  });
});

describe("POST /jobs/success (bulk)", () => {
  it("204 when all are acked; repeated ids are de-duplicated", async () => {
    const [a, b] = await inFlight([{}, {}]);
    const r = await req(s.url, "POST", "/jobs/success", { ids: [a.id, b.id, a.id] });
    assert.equal(r.status, 204);
    assert.equal(r.text, "");
    assert.equal(await getJob(s.url, a.id), undefined);
    assert.equal(await getJob(s.url, b.id), undefined);
  });

  it("422 {not_found} with no error key; the rest are still acked", async () => {
    const [a] = await inFlight([{}]);
    const ready = await enqueue(s.url, { queue: uniq() });
    const r = await req(s.url, "POST", "/jobs/success", { ids: ["nope", a.id, ready.id, "nope"] });
    assert.equal(r.status, 422);
    assert.equal(r.headers.get("content-type"), "application/json");
    assert.deepEqual(r.body, { not_found: ["nope", ready.id] });
    assert.equal(await getJob(s.url, a.id), undefined);
    assert.equal((await getJob(s.url, ready.id))!.status, "ready");
  });

  it("empty ids → 400; missing or mistyped ids → 400 invalid JSON", async () => {
    assertError(await req(s.url, "POST", "/jobs/success", { ids: [] }), 400, "ids must not be empty");
    assertError(await req(s.url, "POST", "/jobs/success", {}), 400, /^invalid JSON: /);
    assertError(await req(s.url, "POST", "/jobs/success", { ids: [1] }), 400, /^invalid JSON: /);
    assertError(await req(s.url, "POST", "/jobs/success", { ids: "a" }), 400, /^invalid JSON: /);
  });

  it("an ack frees the stream's credit: the next job follows on the same stream", async () => {
    const q = uniq();
    const a = await enqueue(s.url, { queue: q });
    const b = await enqueue(s.url, { queue: q });
    const t = await openTake(s.url, `queue=${q}&prefetch=1`);
    open.push(t);
    assert.equal((await t.job(0)).id, a.id);
    assert.equal((await req(s.url, "POST", "/jobs/success", { ids: [a.id] })).status, 204);
    assert.equal((await t.job(1)).id, b.id);
  });
});

describe("POST /jobs/{id}/failure", () => {
  it("retry_at: scheduled at exactly that time, attempts 1, failed_at, error record", async () => {
    const [job] = await inFlight([{}]);
    const retryAt = Date.now() + 3_600_000;
    const r = await req(s.url, "POST", `/jobs/${job.id}/failure`, {
      message: "boom", error_type: "RuntimeError", backtrace: "a.rb:1", retry_at: retryAt, ignored: 1,
    });
    assert.equal(r.status, 200);
    const j = r.body!;
    assert.deepEqual(Object.keys(j), ["id", "type", "queue", "priority", "status", "ready_at", "attempts", "dequeued_at", "failed_at"]);
    assert.equal(j.status, "scheduled");
    assert.equal(j.ready_at, retryAt);
    assert.equal(j.attempts, 1);
    assert.equal(j.dequeued_at, job.dequeued_at);
    const errors = await req(s.url, "GET", `/jobs/${job.id}/errors`);
    assert.deepEqual(errors.body!.errors, [
      { attempt: 1, message: "boom", error_type: "RuntimeError", backtrace: "a.rb:1", dequeued_at: job.dequeued_at, failed_at: j.failed_at },
    ]);
    const one = await req(s.url, "GET", `/jobs/${job.id}/errors/1`);
    assert.deepEqual(Object.keys(one.body!), ["attempt", "message", "error_type", "backtrace", "dequeued_at", "failed_at"]);
  });

  it("retry_at in the past: scheduled, then promoted to ready at once and taken again", async () => {
    const [job] = await inFlight([{}]);
    const r = await req(s.url, "POST", `/jobs/${job.id}/failure`, { message: "m", retry_at: 1 });
    assert.equal(r.body!.status, "scheduled");
    assert.equal(r.body!.ready_at, 1);
    // The failure freed the stream's only credit; the promoted job comes back on it.
    const again = await lastStream.job(1);
    assert.equal(again.id, job.id);
    assert.equal(again.attempts, 1);
    assert.equal(again.ready_at, 1);
  });

  it("without retry_at: default backoff puts ready_at 16 s..46 s after failed_at", async () => {
    const [job] = await inFlight([{}]);
    const j = (await req(s.url, "POST", `/jobs/${job.id}/failure`, { message: "m" })).body!;
    assert.equal(j.status, "scheduled");
    const delay = j.ready_at - j.failed_at;
    // k=1: 1^4×1000 + 15000 + r×30000×1, r in [0,1)
    assert.ok(delay >= 16_000 && delay < 46_000, `delay ${delay}`);
    assert.deepEqual((await req(s.url, "GET", `/jobs/${job.id}/errors`)).body!.errors.map((e: Json) => Object.keys(e)),
      [["attempt", "message", "dequeued_at", "failed_at"]]);
  });

  it("per-job backoff without jitter: k^exponent×1000 + base_ms exactly, for k = 1 and 2", async () => {
    const [job] = await inFlight([{ backoff: { exponent: 2, base_ms: 100, jitter_ms: 0 } }]);
    const first = (await req(s.url, "POST", `/jobs/${job.id}/failure`, { message: "1" })).body!;
    assert.equal(first.ready_at - first.failed_at, 1100);
    // Bring it back now (PATCH ready_at null), take it, fail it again.
    assert.equal((await req(s.url, "PATCH", `/jobs/${job.id}`, { ready_at: null })).body!.status, "ready");
    await lastStream.job(1);
    const second = (await req(s.url, "POST", `/jobs/${job.id}/failure`, { message: "2" })).body!;
    assert.equal(second.attempts, 2);
    assert.equal(second.ready_at - second.failed_at, 4100);
  });

  it("kill: dead now, kept 7 days by default with purge_at, errors still readable", async () => {
    const [job] = await inFlight([{ retry_limit: 10 }]);
    const j = (await req(s.url, "POST", `/jobs/${job.id}/failure`, { message: "bad", kill: true, retry_at: Date.now() + 1000 })).body!;
    assert.equal(j.status, "dead");
    assert.equal(j.attempts, 1);
    assert.equal(j.purge_at, j.failed_at + WEEK_MS);
    const stored = (await getJob(s.url, job.id))!;
    assert.equal(stored.status, "dead");
    assert.equal(stored.purge_at, j.purge_at);
    assert.equal((await req(s.url, "GET", `/jobs/${job.id}/errors/1`)).body!.message, "bad");
    assertError(await req(s.url, "POST", `/jobs/${job.id}/failure`, { message: "again" }), 404, "job not found in in-flight set");
  });

  it("retry_limit 0: the first failure is fatal; retry_at still bypasses the limit", async () => {
    const [a, b] = await inFlight([{ retry_limit: 0 }, { retry_limit: 0 }]);
    assert.equal((await req(s.url, "POST", `/jobs/${a.id}/failure`, { message: "x" })).body!.status, "dead");
    const retried = (await req(s.url, "POST", `/jobs/${b.id}/failure`, { message: "x", retry_at: Date.now() + 60_000 })).body!;
    assert.equal(retried.status, "scheduled");
    assert.equal(retried.retry_limit, 0);
  });

  it("retry_limit 1: the second failure is fatal", async () => {
    const [job] = await inFlight([{ retry_limit: 1 }]);
    assert.equal((await req(s.url, "POST", `/jobs/${job.id}/failure`, { message: "1", retry_at: 1 })).body!.status, "scheduled");
    await lastStream.job(1);
    const j = (await req(s.url, "POST", `/jobs/${job.id}/failure`, { message: "2" })).body!;
    assert.equal(j.status, "dead");
    assert.equal(j.attempts, 2);
    const errors = (await req(s.url, "GET", `/jobs/${job.id}/errors`)).body!.errors as Json[];
    assert.deepEqual(errors.map((e) => [e.attempt, e.message]), [[1, "1"], [2, "2"]]);
  });

  it("retention {dead_ms: 0}: deleted at death; the reply still says dead, without purge_at", async () => {
    const [job] = await inFlight([{ retention: { dead_ms: 0 } }]);
    const j = (await req(s.url, "POST", `/jobs/${job.id}/failure`, { message: "x", kill: true })).body!;
    assert.equal(j.status, "dead");
    assert.equal(j.purge_at, undefined);
    assert.equal(await getJob(s.url, job.id), undefined);
    assertError(await req(s.url, "GET", `/jobs/${job.id}/errors`), 404, "job not found");
    assert.equal(await count(s.url, `queue=${job.queue}`), 0);
  });

  it("an expired dead job is invisible before the reaper runs", async () => {
    const [job] = await inFlight([{ retention: { dead_ms: 1 } }]);
    const j = (await req(s.url, "POST", `/jobs/${job.id}/failure`, { message: "x", kill: true })).body!;
    assert.equal(j.purge_at, j.failed_at + 1);
    await eventually(async () => (await getJob(s.url, job.id)) === undefined, 5000, "expiry");
    assert.equal(await count(s.url, `queue=${job.queue}`), 0);
    assertError(await req(s.url, "GET", `/jobs/${job.id}/errors/1`), 404, "job not found");
  });

  it("expired but unreaped jobs still count for DELETE /jobs (ref quirk) and keep their queue listed", async () => {
    const [job] = await inFlight([{ retention: { dead_ms: 1 } }]);
    await req(s.url, "POST", `/jobs/${job.id}/failure`, { message: "x", kill: true });
    await eventually(async () => (await getJob(s.url, job.id)) === undefined, 5000, "expiry");
    assert.ok((await req(s.url, "GET", "/queues")).body!.queues.includes(job.queue));
    assert.deepEqual((await req(s.url, "DELETE", `/jobs?queue=${job.queue}`)).body, { deleted: 1 });
    assert.ok(!(await req(s.url, "GET", "/queues")).body!.queues.includes(job.queue));
  });

  it("the reaper purges expired jobs on its interval; their queue disappears", async () => {
    const x = await startServer({ queue: { reaperIntervalMs: 20 } });
    try {
      const job = await enqueue(x.url, { queue: "r", retention: { dead_ms: 1, completed_ms: 1 }, payload: 1 });
      const kept = await enqueue(x.url, { queue: "k", retention: { completed_ms: 3_600_000 } });
      const t = await openTake(x.url, "prefetch=0");
      await t.waitJobs(2);
      await req(x.url, "POST", `/jobs/${job.id}/failure`, { message: "x", kill: true });
      assert.equal(await ack(x.url, kept.id), 204);
      await t.close();
      await eventually(async () => (await req(x.url, "GET", "/queues")).body!.queues.join() === "k", 5000, "the reaper");
      assert.deepEqual((await req(x.url, "DELETE", "/jobs?queue=r")).body, { deleted: 0 });
      assert.equal((await getJob(x.url, kept.id))!.status, "completed");
    } finally {
      await x.close();
    }
  });

  it("404 when not in flight; 400 for a bad body", async () => {
    const ready = await enqueue(s.url, { queue: uniq() });
    assertError(await req(s.url, "POST", `/jobs/${ready.id}/failure`, { message: "x" }), 404, "job not found in in-flight set");
    assertError(await req(s.url, "POST", "/jobs/nope/failure", { message: "x" }), 404, "job not found in in-flight set");
    const [job] = await inFlight([{}]);
    for (const body of [{}, { message: 1 }, { message: "x", kill: "yes" }, { message: "x", retry_at: -5 }, { message: "x", retry_at: 1.5 }]) {
      assertError(await req(s.url, "POST", `/jobs/${job.id}/failure`, body), 400, /^invalid JSON: /);
    }
    assertError(await req(s.url, "POST", `/jobs/${job.id}/failure`, ""), 400, /^invalid JSON: /);
    assert.equal((await getJob(s.url, job.id))!.status, "in_flight");
    assert.equal((await getJob(s.url, job.id))!.attempts, 0);
  });
});
