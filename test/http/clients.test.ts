// The official Node client (@zizq-labs/zizq 0.6), emulated call by call from API.md §7
// (test/http/_node-client.ts): every RPC over ONE h2c session, the take stream over its
// own HTTP/1.1 socket, and the error classes the client maps statuses to. Every job
// object the client reads is held to §2.1 (test/http/_shape.ts). The Worker loop is in
// clients-worker.test.ts; Ruby/Rust/Elixir views in clients-strict.test.ts.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startServer, type TestServer } from "../helpers/server.ts";
import { cleanupTmp } from "../helpers/tmp.ts";
import { rawReq, uniq, type Json, type TakeStream } from "./_client.ts";
import { ClientError, clientTake, NodeClient, NotFoundError, whereParams, type EnqueueOptions } from "./_node-client.ts";
import { assertErrorShape, assertJobShape, assertPagesShape } from "./_shape.ts";

let s: TestServer;
let client: NodeClient;
const takes: TakeStream[] = [];
before(async () => {
  // A minute between heartbeats: take() headers can only have been flushed at once.
  s = await startServer({ heartbeatMs: 60_000 });
  client = await NodeClient.connect(s.url);
});
after(async () => {
  await Promise.all(takes.map((t) => t.close()));
  await client.close();
  await s.close();
  cleanupTmp();
});

async function take(base: string, queues: string[], prefetch: number): Promise<TakeStream> {
  const t = await clientTake(base, queues, prefetch);
  takes.push(t);
  return t;
}

/** Expects the call to throw `Class` with exactly this status and message. */
async function rejects(call: Promise<unknown>, Class: typeof NotFoundError | typeof ClientError, status: number, message: string | RegExp) {
  await assert.rejects(call, (err: unknown) => {
    assert.ok(err instanceof Class, `expected ${Class.name}, got ${String(err)}`);
    assert.equal(err.status, status);
    if (typeof message === "string") assert.equal(err.message, message);
    else assert.match(err.message, message);
    assert.deepEqual(Object.keys(err.body as Json)[0], "error");
    return true;
  });
}

const job = (queue: string, extra: Partial<EnqueueOptions> = {}): EnqueueOptions => ({ type: "Send", queue, payload: null, ...extra });

describe("Node client: RPC calls over one h2c session", () => {
  it("health() and serverVersion()", async () => {
    const r = await client.request("GET", "/health");
    assert.deepEqual(r.body, { status: "ok" });
    assert.equal(r.raw.headers["content-type"], "application/json");
    assert.match(await client.serverVersion(), /^0\.7\.\d+$/);
  });

  it("enqueue(): unset keys omitted, unique_while only with a key; every §2.1 field the client reads", async () => {
    const q = uniq();
    const plain = await client.enqueue(job(q, { payload: { to: "a@b" } }));
    assert.equal(plain.status, 201);
    assertJobShape(plain.body, { payload: false, enqueue: true });
    assert.deepEqual([plain.body!.duplicate, plain.body!.folded, plain.body!.priority], [false, false, 32768]);

    const full = await client.enqueue(job(q, {
      priority: 7, readyAt: Date.now() + 3_600_000, retryLimit: 3, backoff: { exponent: 2, baseMs: 100, jitterMs: 0 },
      retention: { completedMs: 60_000 }, uniqueKey: uniq("k"), uniqueWhile: "active",
    }));
    assert.equal(full.status, 201);
    const j = assertJobShape(full.body, { payload: false, enqueue: true });
    assert.deepEqual(
      [j.status, j.priority, j.retry_limit, j.backoff, j.retention, j.unique_while],
      ["scheduled", 7, 3, { exponent: 2, base_ms: 100, jitter_ms: 0 }, { completed_ms: 60_000 }, "active"],
    );
    const dup = await client.enqueue(job(q, { uniqueKey: j.unique_key, uniqueWhile: "active" }));
    assert.equal(dup.status, 200);
    assertJobShape(dup.body, { payload: false, enqueue: true });
    assert.deepEqual([dup.body!.id, dup.body!.duplicate], [j.id, true]);

    // The client drops unique_while without a key, so this is a plain 201 (not the 400 a raw request gets).
    const noKey = await client.enqueue(job(q, { uniqueWhile: "exists" }));
    assert.equal(noKey.status, 201);
    assert.equal("unique_while" in noKey.body!, false);

    const batch = { key: uniq("b"), when: "($existing | length) < 3", fold: "$existing + $new" };
    const b1 = await client.enqueue(job(q, { payload: [1], batch }));
    const b2 = await client.enqueue(job(q, { payload: [2], batch }));
    assertJobShape(b2.body, { payload: false, enqueue: true });
    assert.deepEqual([b2.status, b2.body!.id, b2.body!.folded, b2.body!.batch], [200, b1.body!.id, true, batch]);
    assert.deepEqual((await client.getJob(b1.body!.id)).payload, [1, 2]);
  });

  it("enqueueBulk() → {jobs} in request order, each with duplicate/folded", async () => {
    const q = uniq();
    const jobs = await client.enqueueBulk([0, 1, 2].map((n) => job(q, { payload: { n }, priority: n })));
    assert.deepEqual(jobs.map((j) => j.priority), [0, 1, 2]);
    for (const j of jobs) assertJobShape(j, { payload: false, enqueue: true });
  });

  it("reportSuccess(): POST with no body and no content-type → exactly 204, no DATA frame", async () => {
    const q = uniq();
    const { body: j } = await client.enqueue(job(q, { payload: "x" }));
    const t = await take(s.url, [q], 1);
    const got = assertJobShape(await t.job(0), { payload: true, enqueue: false });
    assert.deepEqual([got.id, got.status, got.payload], [j!.id, "in_flight", "x"]);
    const r = await client.reportSuccess(j!.id);
    assert.equal(r.status, 204);
    assert.equal(r.raw.body.length, 0);
    assert.equal(r.raw.dataEvents, 0);
    assert.equal(r.raw.endAfterHeaders, true, "a 204 over HTTP/2 carries END_STREAM on its HEADERS");
    await rejects(client.reportSuccess(j!.id), NotFoundError, 404, "job not found in in-flight set");
    await rejects(client.getJob(j!.id), NotFoundError, 404, "job not found");
  });

  it("reportSuccessBulk(): 204, or 422 {not_found} which the client also takes as success", async () => {
    const q = uniq();
    const made = await client.enqueueBulk([1, 2, 3].map((n) => job(q, { payload: n })));
    const t = await take(s.url, [q], 3);
    await t.waitJobs(3);
    const all = await client.reportSuccessBulk([made[0].id, made[1].id]);
    assert.deepEqual([all.status, all.raw.dataEvents, all.raw.endAfterHeaders], [204, 0, true]);
    const partial = await client.reportSuccessBulk([made[2].id, made[0].id]);
    assert.deepEqual([partial.status, partial.body], [422, { not_found: [made[0].id] }]);
    assert.equal(await client.countJobs({ queue: [q] }), 0);
  });

  it("getJob() and deleteJob(): job with payload; exactly 204 with no DATA frame; then NotFoundError", async () => {
    const { body: j } = await client.enqueue(job(uniq(), { payload: { a: [1, 2.5, "ü"] } }));
    const got = assertJobShape(await client.getJob(j!.id), { payload: true, enqueue: false });
    assert.deepEqual(got.payload, { a: [1, 2.5, "ü"] });
    const r = await client.deleteJob(j!.id);
    assert.deepEqual([r.status, r.raw.dataEvents, r.raw.endAfterHeaders], [204, 0, true]);
    await rejects(client.deleteJob(j!.id), NotFoundError, 404, "job not found");
  });

  it("countJobs() and deleteAllJobs({where}): comma lists as %2C, spaces as +, ranges, jq filters", async () => {
    const [q1, q2, q3] = [uniq(), uniq(), uniq()];
    const since = Date.now() - 1;
    const made = await client.enqueueBulk([
      { type: "Mailer Send", queue: q1, payload: { tag: "x y" }, priority: 10 },
      { type: "Mailer Send", queue: q2, payload: { tag: "x y", more: 1 }, priority: 100 },
      { type: "Mailer Send", queue: q2, payload: { tag: "x" }, priority: 50 },
      { type: "Other", queue: q1, payload: { tag: "x y" }, priority: 5 },
      { type: "Mailer Send", queue: q3, payload: { tag: "x y" }, priority: 10 },
      { type: "Mailer Send", queue: q1, payload: { tag: "x y" }, priority: 101 },
    ]);
    const where = { queue: [q2, q1], type: ["Mailer Send"], priority: "0..100", filter: '. | contains({"tag":"x y"})' };
    const query = whereParams(where).toString();
    assert.ok(query.includes(`queue=${q2}%2C${q1}`) && query.includes("type=Mailer+Send"), query);
    assert.equal(await client.countJobs(where), 2);
    assert.equal(await client.countJobs({ ...where, readyAt: `${since}..`, attempts: "0", status: ["ready", "scheduled"] }), 2);
    assert.equal(await client.countJobs({ ...where, readyAt: `..${since - 1}` }), 0);
    assert.equal(await client.countJobs({ id: [made[5].id, made[0].id], queue: [] }), 2, "an empty list is not sent");
    assert.equal(await client.deleteAllJobs(where), 2);
    assert.deepEqual(
      (await client.listJobs({ queue: [q1, q2, q3] })).jobs.map((j: Json) => j.id),
      [made[2].id, made[3].id, made[4].id, made[5].id],
    );
    assert.equal(await client.deleteAllJobs({ queue: [q1, q2, q3] }), 4);
  });

  it("updateJob(): set, then null clears; updateAllJobs() → {patched}", async () => {
    const q = uniq();
    const [a, b] = await client.enqueueBulk([job(q), job(q, { readyAt: Date.now() + 3_600_000 })]);
    const set = assertJobShape(await client.updateJob(a.id, {
      priority: 5, retry_limit: 2, backoff: { exponent: 1.5, base_ms: 10, jitter_ms: 20 }, retention: { dead_ms: 1000 },
    }), { payload: false, enqueue: false });
    assert.deepEqual([set.priority, set.retry_limit, set.backoff, set.retention], [5, 2, { exponent: 1.5, base_ms: 10, jitter_ms: 20 }, { dead_ms: 1000 }]);
    const cleared = assertJobShape(await client.updateJob(a.id, { retry_limit: null, backoff: null, retention: null }), { payload: false, enqueue: false });
    for (const k of ["retry_limit", "backoff", "retention"]) assert.equal(k in cleared, false, `${k} cleared`);
    assert.equal(cleared.priority, 5);
    const readied = assertJobShape(await client.updateJob(b.id, { ready_at: null }), { payload: false, enqueue: false });
    assert.equal(readied.status, "ready");
    await rejects(client.updateJob(a.id, { queue: null }), ClientError, 422, "queue cannot be null");
    assert.equal(await client.updateAllJobs({ queue: [q], status: ["ready"] }, { priority: 9 }), 2);
    assert.equal(await client.countJobs({ queue: [q], priority: "9" }), 2);
  });

  it("jobs() iteration: limit=2000 pages, pages.next followed verbatim until null; first() and last()", async () => {
    const q = uniq();
    const total = 4500;
    const ids: string[] = [];
    for (let start = 0; start < total; start += 1500) {
      const chunk = await client.enqueueBulk(Array.from({ length: 1500 }, (_, k) => job(q, { payload: { n: start + k } })));
      ids.push(...chunk.map((j) => j.id));
    }
    const pages: Json[] = [];
    for await (const page of client.iterateJobs({ queue: [q] })) pages.push(page);
    assert.deepEqual(pages.map((p) => p.jobs.length), [2000, 2000, 500]);
    pages.forEach((p) => assertPagesShape(p.pages));
    assert.equal(pages[2].pages.next, null);
    assert.match(pages[0].pages.next, /^\/jobs\?from=[0-9a-z]{25}&order=asc&limit=2000&queue=/);
    const seen = pages.flatMap((p) => p.jobs as Json[]);
    seen.forEach((j) => assertJobShape(j, { payload: true, enqueue: false }));
    assert.deepEqual(seen.map((j) => j.id), ids);
    assert.deepEqual(seen.map((j) => j.payload.n), ids.map((_, n) => n));
    // prev from the second page: the first page again, in reversed order (ref quirk, §2.3).
    const prev = (await client.request("GET", pages[1].pages.prev)).body!;
    assert.deepEqual(prev.jobs.map((j: Json) => j.id), ids.slice(0, 2000).reverse());

    assert.equal((await client.first({ queue: [q] }))!.id, ids[0]);
    assert.equal((await client.last({ queue: [q] }))!.id, ids[total - 1]);
    const firstPage = await client.listJobs({ queue: [q] }, { limit: 1 });
    assert.equal(firstPage.pages.next, `/jobs?from=${ids[0]}&order=asc&limit=1&queue=${q}`);
    assert.equal(await client.first({ queue: [uniq()] }), undefined);
    assert.equal(await client.deleteAllJobs({ queue: [q] }), total);
  });

  it("page links followed verbatim keep awkward names and jq filters intact", async () => {
    const suffix = uniq("");
    for (const q of [`a b${suffix}`, `a+b${suffix}`, `a&b=c${suffix}`, `x#y${suffix}`, `p%20q${suffix}`, `é ü${suffix}`]) {
      const made = await client.enqueueBulk([1, 2, 3].map((n) => ({ type: "Mail Job", queue: q, payload: { s: "x y&z", n } })));
      const where = { queue: [q], type: ["Mail Job"], filter: '.s == "x y&z" and .n >= 1 # comment' };
      let page = await client.listJobs(where, { limit: 1 });
      const ids = page.jobs.map((j: Json) => j.id);
      while (page.pages.next !== null) {
        page = (await client.request("GET", page.pages.next)).body!;
        ids.push(...page.jobs.map((j: Json) => j.id));
      }
      assert.deepEqual(ids, made.map((j) => j.id), q);
      assert.equal(await client.deleteAllJobs(where), 3);
    }
  });

  it("queues() → {queues} sorted", async () => {
    const [a, b] = [uniq("zz"), uniq("aa")];
    await client.enqueueBulk([job(a), job(b)]);
    const queues = await client.queues();
    assert.ok(queues.includes(a) && queues.includes(b));
    assert.deepEqual(queues, [...queues].sort());
  });

  it("reportFailure(), job.errors() iteration and getError()", async () => {
    const q = uniq();
    const { body: j } = await client.enqueue(job(q, { payload: 1 }));
    const t = await take(s.url, [q], 1);
    const failures = [
      { message: "boom 1", errorType: "RuntimeError", backtrace: "a.rb:1", retryAt: Date.now() - 1 },
      { message: "boom 2", retryAt: Date.now() },
      { message: "boom 3", errorType: "Fatal", kill: true },
    ];
    for (const [i, f] of failures.entries()) {
      assert.equal((await t.job(i)).id, j!.id);
      const failed = assertJobShape(await client.reportFailure(j!.id, f), { payload: false, enqueue: false });
      assert.deepEqual([failed.attempts, failed.status], [i + 1, f.kill ? "dead" : "scheduled"]);
      if (f.retryAt) assert.equal(failed.ready_at, f.retryAt, "retry_at is kept exactly");
    }
    const dead = assertJobShape(await client.getJob(j!.id), { payload: true, enqueue: false });
    assert.equal(dead.status, "dead");
    const pages: Json[] = [];
    for await (const page of client.iterateErrors(j!.id, 1)) pages.push(page);
    const records = pages.flatMap((p) => p.errors as Json[]).map(assertErrorShape);
    pages.forEach((p) => assertPagesShape(p.pages));
    assert.deepEqual(records.map((r) => [r.attempt, r.message]), [[1, "boom 1"], [2, "boom 2"], [3, "boom 3"]]);
    assert.deepEqual([records[0].error_type, records[0].backtrace, "error_type" in records[1]], ["RuntimeError", "a.rb:1", false]);
    assert.deepEqual(await client.getError(j!.id, 2), records[1]);
    await rejects(client.getError(j!.id, 9), NotFoundError, 404, "error record not found");
    await rejects(client.getError(uniq(), 1), NotFoundError, 404, "job not found");
    await rejects(client.getError(j!.id, "abc"), ClientError, 400, /attempt/);
  });

  it("error mapping: 404 → NotFoundError, other 4xx → ClientError, every body JSON with `error`", async () => {
    await rejects(client.request("GET", "/nope"), NotFoundError, 404, "not found");
    await rejects(client.request("GET", "/jobs?limit=2001"), ClientError, 400, "limit must be between 1 and 2000");
    await rejects(client.request("GET", "/jobs/count?order=asc"), ClientError, 400, /^invalid query parameters: /);
    await rejects(client.request("DELETE", "/jobs?id=nope"), ClientError, 400, 'invalid job ID: "nope"');
    await rejects(client.request("POST", "/jobs", { type: "t", queue: "a,b", payload: 1 }), ClientError, 400, "queue must not contain ','");
    await rejects(client.request("POST", "/jobs/success", { ids: [] }), ClientError, 400, "ids must not be empty");
    await rejects(client.request("PUT", "/jobs"), ClientError, 405, "method not allowed");
  });

  it("take(): a bad query or Accept is still a JSON error body", async () => {
    for (const query of ["prefetch=-1", "prefetch=x", "queues=a", "limit=1"]) {
      const r = await rawReq(s.url, "GET", `/jobs/take?${query}`, { accept: "application/x-ndjson" });
      assert.equal(r.status, 400);
      assert.equal(r.headers["content-type"], "application/json");
      assert.match(JSON.parse(r.body.toString()).error, /^invalid query parameters: /);
    }
  });

  it("take(): headers arrive before any job (with no job to send and no heartbeat due)", async () => {
    const q = uniq();
    const t = await take(s.url, [q, uniq()], 2);
    assert.deepEqual([t.jobs.length, t.heartbeats], [0, 0]);
    const { body: j } = await client.enqueue(job(q));
    assert.equal((await t.job(0)).id, j!.id);
  });

  it("every call above went over the one HTTP/2 session", () => {
    assert.equal(client.session.destroyed, false);
    assert.equal(client.session.state.nextStreamID, 2 * client.calls + 1);
  });
});
