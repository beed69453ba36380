// Issue 4 over HTTP, part 2: error records (paged list and single record), PATCH one and
// by filter (null semantics, retention merge, terminal and name errors, effects seen
// through take), DELETE one and by filter, and POST /reset.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { startServer } from "../helpers/server.ts";
import { ack, assertError, count, enqueue, enqueueBulk, getJob, openTake, req, uniq, type Json, type Reply, type TakeStream, sharedServer } from "./_client.ts";

const { s, open } = sharedServer();

async function take(query: string): Promise<TakeStream> {
  const t = await openTake(s.url, query);
  open.push(t);
  return t;
}

const patch = (id: string, body: unknown) => req(s.url, "PATCH", `/jobs/${id}`, body);

/** A job that failed `n` times (each retried at once) and is in flight again. */
async function failedTimes(n: number): Promise<Json> {
  const q = uniq();
  const job = await enqueue(s.url, { queue: q });
  const t = await take(`queue=${q}`);
  for (let i = 0; i < n; i++) {
    await t.job(i);
    const r = await req(s.url, "POST", `/jobs/${job.id}/failure`, { message: `m${i + 1}`, retry_at: 1 });
    assert.equal(r.body!.attempts, i + 1);
  }
  await t.job(n);
  return job;
}

describe("GET /jobs/{id}/errors and /errors/{attempt}", () => {
  it("pages asc and desc with exclusive `from` (desc + from=N → attempts < N)", async () => {
    const job = await failedTimes(5);
    const base = `/jobs/${job.id}/errors`;
    const attempts = (r: Json) => (r.errors as Json[]).map((e) => e.attempt);
    const all = await req(s.url, "GET", base);
    assert.deepEqual(attempts(all.body!), [1, 2, 3, 4, 5]);
    assert.deepEqual(all.body!.pages, { self: `${base}?order=asc&limit=50`, next: null, prev: null });

    const walk = async (first: string) => {
      const pages: Json[] = [];
      for (let link: string | null = first; link !== null; link = pages.at(-1)!.pages.next) {
        pages.push((await req(s.url, "GET", link)).body!);
      }
      return pages;
    };
    const asc = await walk(`${base}?limit=2`);
    assert.deepEqual(asc.map(attempts), [[1, 2], [3, 4], [5]]);
    assert.deepEqual(asc[1].pages, {
      self: `${base}?from=2&order=asc&limit=2`, next: `${base}?from=4&order=asc&limit=2`, prev: `${base}?from=3&order=desc&limit=2`,
    });
    assert.deepEqual(attempts((await req(s.url, "GET", asc[1].pages.prev)).body!), [2, 1]);
    const desc = await walk(`${base}?order=desc&limit=2`);
    assert.deepEqual(desc.map(attempts), [[5, 4], [3, 2], [1]]);
    assert.deepEqual(attempts((await req(s.url, "GET", desc[2].pages.prev)).body!), [2, 3]);
    assert.deepEqual(attempts((await req(s.url, "GET", `${base}?order=desc&from=3`)).body!), [2, 1]);
    assert.deepEqual(attempts((await req(s.url, "GET", `${base}?from=3`)).body!), [4, 5]);
    assert.deepEqual(attempts((await req(s.url, "GET", `${base}?from=5`)).body!), []);
  });

  it("a single record; 404s; non-integer attempts and bad params are 400 JSON", async () => {
    const job = await failedTimes(1);
    const one = await req(s.url, "GET", `/jobs/${job.id}/errors/1`);
    assert.equal(one.status, 200);
    assert.equal(one.body!.message, "m1");
    assertError(await req(s.url, "GET", `/jobs/${job.id}/errors/2`), 404, "error record not found");
    assertError(await req(s.url, "GET", `/jobs/${job.id}/errors/0`), 404, "error record not found");
    assertError(await req(s.url, "GET", "/jobs/03fr1jkpcsipbsckqj0y6pgr7/errors/1"), 404, "job not found");
    assertError(await req(s.url, "GET", "/jobs/03fr1jkpcsipbsckqj0y6pgr7/errors"), 404, "job not found");
    for (const bad of ["abc", "-1", "1.5", "4294967296", "%20"]) {
      const r = await req(s.url, "GET", `/jobs/${job.id}/errors/${bad}`);
      assert.equal(r.status, 400, bad);
      assert.equal(r.headers.get("content-type"), "application/json");
      assert.equal(typeof r.body!.error, "string");
    }
    for (const bad of ["bogus=1", "from=abc", "from=-1", "limit=0", "limit=2001", "order=up"]) {
      assertError(await req(s.url, "GET", `/jobs/${job.id}/errors?${bad}`), 400, /^(invalid query parameters: |limit must be)/);
    }
  });
});

describe("PATCH /jobs/{id}", () => {
  it("sets each field; null clears back to the default; no payload in the reply", async () => {
    const job = await enqueue(s.url, { queue: uniq(), retry_limit: 3, backoff: { exponent: 1, base_ms: 2, jitter_ms: 3 } });
    const r = await patch(job.id, { priority: 7, retry_limit: 9, backoff: { exponent: 2.5, base_ms: 1, jitter_ms: 0 }, type: "X", payload: 5 });
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.body!), ["id", "type", "queue", "priority", "status", "ready_at", "attempts", "retry_limit", "backoff"]);
    assert.deepEqual([r.body!.priority, r.body!.retry_limit, r.body!.backoff, r.body!.type], [7, 9, { exponent: 2.5, base_ms: 1, jitter_ms: 0 }, "t"]);
    const cleared = (await patch(job.id, { retry_limit: null, backoff: null })).body!;
    assert.equal("retry_limit" in cleared, false);
    assert.equal("backoff" in cleared, false);
    assert.deepEqual((await getJob(s.url, job.id))!.payload, null);
    const same = await patch(job.id, {});
    assert.equal(same.status, 200);
    assert.deepEqual(same.body, cleared);
  });

  it("retention is merge-patched per sub-key", async () => {
    const job = await enqueue(s.url, { queue: uniq(), retention: { completed_ms: 5, dead_ms: 6 } });
    assert.deepEqual((await patch(job.id, { retention: { dead_ms: null } })).body!.retention, { completed_ms: 5 });
    assert.deepEqual((await patch(job.id, { retention: { dead_ms: 8 } })).body!.retention, { completed_ms: 5, dead_ms: 8 });
    assert.deepEqual((await patch(job.id, { retention: {} })).body!.retention, { completed_ms: 5, dead_ms: 8 });
    const gone = (await patch(job.id, { retention: { completed_ms: null, dead_ms: null } })).body!;
    assert.equal("retention" in gone, false);
    assert.deepEqual((await patch(job.id, { retention: { completed_ms: 1 } })).body!.retention, { completed_ms: 1 });
    assert.equal("retention" in (await patch(job.id, { retention: null })).body!, false);
  });

  it("ready_at moves a job between ready and scheduled", async () => {
    const q = uniq();
    const job = await enqueue(s.url, { queue: q });
    const later = Date.now() + 3_600_000;
    const r1 = (await patch(job.id, { ready_at: later })).body!;
    assert.deepEqual([r1.status, r1.ready_at], ["scheduled", later]);
    assert.equal(await count(s.url, `queue=${q}&status=scheduled`), 1);
    const t = await take(`queue=${q}`);
    const r2 = (await patch(job.id, { ready_at: 1000 })).body!;
    assert.deepEqual([r2.status, r2.ready_at], ["ready", 1000]);
    assert.equal((await t.job(0)).id, job.id);
    // In flight: the value is stored, the status stays.
    const r3 = (await patch(job.id, { ready_at: later })).body!;
    assert.deepEqual([r3.status, r3.ready_at], ["in_flight", later]);
    assert.equal((await patch(job.id, { ready_at: null })).body!.ready_at, later);
  });

  it("ready_at null: a scheduled job becomes ready now; a ready one is unchanged", async () => {
    const q = uniq();
    const sched = await enqueue(s.url, { queue: q, ready_at: Date.now() + 3_600_000 });
    const before = Date.now();
    const r = (await patch(sched.id, { ready_at: null })).body!;
    assert.equal(r.status, "ready");
    assert.ok(r.ready_at >= before && r.ready_at < sched.ready_at);
    const ready = await enqueue(s.url, { queue: q, ready_at: 12345 });
    assert.deepEqual((await patch(ready.id, { ready_at: null })).body!.ready_at, 12345);
  });

  it("a new priority takes effect at the next take", async () => {
    const q = uniq();
    const [a, b, c] = await enqueueBulk(s.url, [{ queue: q, priority: 10 }, { queue: q, priority: 20 }, { queue: q, priority: 30 }]);
    await patch(c.id, { priority: 1 });
    await patch(a.id, { priority: 40 });
    const t = await take(`queue=${q}&prefetch=0`);
    assert.deepEqual((await t.waitJobs(3)).map((j) => j.id), [c.id, b.id, a.id]);
  });

  it("moving queues: the job is taken from its new queue only", async () => {
    const [q1, q2] = [uniq(), uniq()];
    const job = await enqueue(s.url, { queue: q1 });
    const t1 = await take(`queue=${q1}`);
    const other = await enqueue(s.url, { queue: uniq() });
    assert.equal((await patch(other.id, { queue: q2 })).body!.queue, q2);
    assert.equal((await t1.job(0)).id, job.id);
    const moved = await enqueue(s.url, { queue: q1, ready_at: Date.now() + 3_600_000 });
    await patch(moved.id, { queue: q2, ready_at: null });
    const t2 = await take(`queue=${q2}&prefetch=0`);
    assert.deepEqual((await t2.waitJobs(2)).map((j) => j.id), [other.id, moved.id]);
    assert.equal(t1.jobs.length, 1);
    assert.ok((await req(s.url, "GET", "/queues")).body!.queues.includes(q2));
  });

  it("patching an in-flight job: a disconnect requeues it with its new queue and priority", async () => {
    const [qx, qy] = [uniq(), uniq()];
    const b = await enqueue(s.url, { queue: qx, priority: 50 });
    const c = await enqueue(s.url, { queue: qy, priority: 10 });
    const t = await openTake(s.url, `queue=${qx}`);
    await t.job(0);
    assert.deepEqual((await patch(b.id, { queue: qy, priority: 5 })).body!.status, "in_flight");
    await t.close();
    const ty = await take(`queue=${qy}&prefetch=0`);
    assert.deepEqual((await ty.waitJobs(2)).map((j) => [j.id, j.priority]), [[b.id, 5], [c.id, 10]]);
    assert.equal(await count(s.url, `queue=${qx}`), 0);
  });

  it("422 for null queue/priority, bad queue names and terminal jobs; 404; 400 for bad values", async () => {
    const job = await enqueue(s.url, { queue: uniq() });
    assertError(await patch(job.id, { queue: null }), 422, "queue cannot be null");
    assertError(await patch(job.id, { priority: null }), 422, "priority cannot be null");
    assertError(await patch(job.id, { queue: "" }), 422, "queue must not be empty");
    assertError(await patch(job.id, { queue: "a,b" }), 422, "queue must not contain ','");
    assertError(await patch(job.id, { queue: "a{" }), 422, "queue must not contain '{' (reserved)");
    for (const body of [{ priority: 65536 }, { priority: -1 }, { ready_at: 1.5 }, { retry_limit: "1" }, { backoff: { exponent: 1 } },
      { retention: { dead_ms: -1 } }, { queue: 5 }, []]) {
      assertError(await patch(job.id, body), 400, /^invalid JSON: /);
    }
    assertError(await patch(job.id, ""), 400, /^invalid JSON: /);
    assertError(await patch("03fr1jkpcsipbsckqj0y6pgr7", { priority: 1 }), 404, "job not found");
    assert.equal((await getJob(s.url, job.id))!.priority, 32768);
    const q = uniq();
    const [done, dead] = await enqueueBulk(s.url, [{ queue: q, retention: { completed_ms: 60_000 } }, { queue: q }]);
    await take(`queue=${q}&prefetch=2`).then((t) => t.waitJobs(2));
    assert.equal(await ack(s.url, done.id), 204);
    await req(s.url, "POST", `/jobs/${dead.id}/failure`, { message: "x", kill: true });
    assertError(await patch(done.id, { priority: 1 }), 422, `cannot patch job ${done.id} in completed status`);
    assertError(await patch(dead.id, {}), 422, `cannot patch job ${dead.id} in dead status`);
  });
});

describe("PATCH /jobs (bulk)", () => {
  it("patches every non-terminal match and returns the count", async () => {
    const q = uniq();
    const made = await enqueueBulk(s.url, [{ queue: q, priority: 1 }, { queue: q, priority: 2 }, { queue: q, priority: 3 }, { queue: uniq() }]);
    const t = await take(`queue=${q}&prefetch=1`);
    await t.job(0);
    await req(s.url, "POST", `/jobs/${made[0].id}/failure`, { message: "x", kill: true });
    await t.job(1);
    const r = await req(s.url, "PATCH", `/jobs?queue=${q}`, { priority: 100, retry_limit: 4 });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { patched: 2 });
    assert.equal((await getJob(s.url, made[0].id))!.priority, 1);
    for (const j of made.slice(1, 3)) assert.deepEqual([(await getJob(s.url, j.id))!.priority, (await getJob(s.url, j.id))!.retry_limit], [100, 4]);
    assert.equal((await getJob(s.url, made[3].id))!.priority, 32768);
    assert.deepEqual((await req(s.url, "PATCH", `/jobs?queue=${q}&filter=${encodeURIComponent(". == 12")}`, {})).body, { patched: 0 });
  });

  it("a bulk queue move and ready_at patch are seen by take", async () => {
    const [q1, q2] = [uniq(), uniq()];
    const made = await enqueueBulk(s.url, [1, 2, 3].map((n) => ({ queue: q1, payload: n, ready_at: Date.now() + 3_600_000 })));
    const r = await req(s.url, "PATCH", `/jobs?queue=${q1}&filter=${encodeURIComponent(". >= 2")}`, { queue: q2, ready_at: null });
    assert.deepEqual(r.body, { patched: 2 });
    const t = await take(`queue=${q2}&prefetch=0`);
    assert.deepEqual((await t.waitJobs(2)).map((j) => j.id), [made[1].id, made[2].id]);
    assert.equal((await getJob(s.url, made[0].id))!.status, "scheduled");
  });

  it("errors: terminal status filters 422 (capitalised), bad id/filter/params 400, null queue 422", async () => {
    const q = uniq();
    assertError(await req(s.url, "PATCH", `/jobs?status=completed&queue=${q}`, {}), 422, "cannot patch jobs in Completed status");
    assertError(await req(s.url, "PATCH", `/jobs?status=ready,dead`, {}), 422, "cannot patch jobs in Dead status");
    assertError(await req(s.url, "PATCH", "/jobs?id=nope", {}), 400, 'invalid job ID: "nope"');
    assertError(await req(s.url, "PATCH", `/jobs?filter=${encodeURIComponent("((")}`, {}), 400, /^invalid filter: /);
    assertError(await req(s.url, "PATCH", "/jobs?limit=1", {}), 400, /^invalid query parameters: /);
    assertError(await req(s.url, "PATCH", `/jobs?queue=${q}`, { queue: null }), 422, "queue cannot be null");
    assertError(await req(s.url, "PATCH", `/jobs?queue=${q}`, { queue: "a*" }), 422, "queue must not contain '*' (reserved)");
    assertError(await req(s.url, "PATCH", `/jobs?queue=${q}`, { priority: null }), 422, "priority cannot be null");
  });
});

describe("DELETE /jobs/{id}, DELETE /jobs, POST /reset", () => {
  it("delete one: 204, then 404; an in-flight delete makes the later ack a 404", async () => {
    const q = uniq();
    const [a, b] = await enqueueBulk(s.url, [{ queue: q }, { queue: q }]);
    const t = await take(`queue=${q}`);
    await t.job(0);
    const r = await req(s.url, "DELETE", `/jobs/${a.id}`);
    assert.equal(r.status, 204);
    assert.equal(r.text, "");
    assert.equal(await ack(s.url, a.id), 404);
    assertError(await req(s.url, "DELETE", `/jobs/${a.id}`), 404, "job not found");
    assertError(await req(s.url, "DELETE", "/jobs/garbage"), 404, "job not found");
    assert.equal((await t.job(1)).id, b.id);
  });

  it("delete by filter: {deleted: n}; jq and set filters; bad filters 400", async () => {
    const q = uniq();
    await enqueueBulk(s.url, [1, 2, 3, 4, 5].map((n) => ({ queue: q, payload: { n }, priority: n })));
    const del = (query: string) => req(s.url, "DELETE", `/jobs?${query}`);
    assert.deepEqual((await del(`queue=${q}&filter=${encodeURIComponent(". | contains({\"n\":2})")}`)).body, { deleted: 1 });
    assert.deepEqual((await del(`queue=${q}&priority=4..`)).body, { deleted: 2 });
    assert.equal(await count(s.url, `queue=${q}`), 2);
    assertError(await del("id=x"), 400, 'invalid job ID: "x"');
    assertError(await del(`filter=${encodeURIComponent("((")}`), 400, /^invalid filter: /);
    assertError(await del("order=asc"), 400, /^invalid query parameters: /);
    assert.deepEqual((await del(`queue=${q}`)).body, { deleted: 2 });
    assert.equal(await count(s.url, `queue=${q}`), 0);
  });

  /**
   * `n` ready jobs in queue "q", paused, with a take stream open on it; `bulk` is sent, and
   * the resume right after it is answered between the bulk change's chunks, so the stream
   * takes the oldest jobs still there: those the change reaches next.
   */
  async function bulkWhileTaking(n: number, bulk: (url: string) => Promise<Reply>, body: (n: number) => Json = () => ({})) {
    const x = await startServer();
    for (let i = 0; i < n; i += 5000) {
      await enqueueBulk(x.url, Array.from({ length: 5000 }, (_, k) => ({ queue: "q", payload: { n: i + k }, ...body(i + k) })));
    }
    assert.equal((await req(x.url, "POST", "/queues/q/pause")).status, 200);
    const t = await openTake(x.url, "queue=q&prefetch=1000");
    const changing = bulk(x.url);
    assert.equal((await req(x.url, "POST", "/queues/q/resume")).status, 200);
    return { x, t, reply: await changing };
  }

  it("a delete by status deletes only jobs that still match when it reaches them (jobs taken meanwhile stay)", async () => {
    // DELETE /jobs works in chunks between other requests, so jobs change while it runs.
    // A job matched as ready, then taken, must not be deleted from under its worker: the
    // filter said ready, and an atomic delete (the reference's) could never have hit it.
    const N = 60_000;
    const { x, t, reply } = await bulkWhileTaking(N, (url) => req(url, "DELETE", "/jobs?queue=q&status=ready"));
    try {
      const deleted = reply.body!.deleted as number;
      await t.waitJobs(1, 10_000).catch(() => []);
      const delivered = t.jobs.map((j) => j.id as string);
      assert.ok(delivered.length > 0 || deleted === N, "nothing delivered, yet not every job deleted");
      assert.equal(await count(x.url, "queue=q"), N - deleted);
      for (const id of delivered) assert.equal(await ack(x.url, id), 204, `job ${id} was delivered, then deleted`);
      await t.close();
    } finally {
      await x.close();
    }
  });

  it("a patch by status changes only jobs that still match when it reaches them", async () => {
    const N = 40_000;
    const { x, t, reply } = await bulkWhileTaking(N, (url) => req(url, "PATCH", "/jobs?queue=q&status=ready", { priority: 9 }), () => ({ priority: 7 }));
    try {
      const patched = reply.body!.patched as number;
      // Delivered before the patch reached them: priority 7 in the frame, and it must stay.
      const takenFirst = t.jobs.filter((j) => j.priority === 7).map((j) => j.id as string);
      assert.ok(takenFirst.length > 0 || patched === N, "nothing taken ahead of the patch, yet not every job patched");
      for (const id of takenFirst) {
        const j = await getJob(x.url, id);
        assert.equal(j!.priority, 7, `job ${id} was taken, then patched`);
      }
      await t.close();
    } finally {
      await x.close();
    }
  });

  it("delete with no filter deletes everything, in flight too", async () => {
    const x = await startServer();
    try {
      const [a] = await enqueueBulk(x.url, [{ queue: "a" }, { queue: "b", ready_at: Date.now() + 3_600_000 }, { queue: "c" }]);
      const t = await openTake(x.url, "queue=a");
      await t.job(0);
      assert.deepEqual((await req(x.url, "DELETE", "/jobs")).body, { deleted: 3 });
      assert.equal(await ack(x.url, a.id), 404);
      assert.deepEqual((await req(x.url, "GET", "/queues")).body, { queues: [] });
      await t.close();
    } finally {
      await x.close();
    }
  });

  it("reset: 204, every job gone (in flight included), queues empty, the server keeps working", async () => {
    const x = await startServer();
    try {
      const [a] = await enqueueBulk(x.url, [{ queue: "a" }, { queue: "b", ready_at: Date.now() + 3_600_000 }, { queue: "c", unique_key: "k" }]);
      const t = await openTake(x.url, "queue=a");
      await t.job(0);
      const r = await req(x.url, "POST", "/reset");
      assert.equal(r.status, 204);
      assert.equal(r.text, "");
      assert.equal(await count(x.url, ""), 0);
      assert.deepEqual((await req(x.url, "GET", "/queues")).body, { queues: [] });
      assert.equal(await ack(x.url, a.id), 404);
      // Unique keys are gone too; the open stream takes new work.
      assert.equal((await req(x.url, "POST", "/jobs", { type: "t", queue: "a", payload: 1, unique_key: "k" })).status, 201);
      assert.equal((await t.job(1)).queue, "a");
      await t.close();
    } finally {
      await x.close();
    }
  });
});
