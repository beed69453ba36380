// Issue 3 over HTTP, part 3: unique jobs (§4.3: each incoming scope against each holder
// status, the spec's example, release rules) and batched jobs (§4.4: fold with the Node
// helper's expressions, sealing, closing on take, 422 for bad expressions).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { eventually, startServer } from "../helpers/server.ts";
import { tmpDir } from "../helpers/tmp.ts";
import { assertError, count, getJob, openTake, req, uniq, type Json, type TakeStream, sharedServer } from "./_client.ts";

const { s, open } = sharedServer();

async function post(job: Json): Promise<{ status: number; job: Json }> {
  const r = await req(s.url, "POST", "/jobs", { type: "t", payload: null, ...job });
  return { status: r.status, job: r.body! };
}

/** Take every ready job of `queue` onto a stream that stays open. */
async function take(queue: string, n = 1): Promise<{ stream: TakeStream; jobs: Json[] }> {
  const stream = await openTake(s.url, `queue=${queue}&prefetch=${n}`);
  open.push(stream);
  return { stream, jobs: await stream.waitJobs(n) };
}

describe("unique jobs (§4.3)", () => {
  it("queued (default): a ready holder conflicts → 200 with the holder, incoming options discarded", async () => {
    const q = uniq();
    const key = uniq("k");
    const holder = await post({ queue: q, unique_key: key, payload: 1 });
    assert.equal(holder.status, 201);
    assert.equal(holder.job.unique_while, "queued");
    const dup = await post({ queue: uniq(), type: "other", unique_key: key, priority: 1, payload: 2 });
    assert.equal(dup.status, 200);
    assert.equal(dup.job.id, holder.job.id);
    assert.equal(dup.job.duplicate, true);
    assert.equal(dup.job.folded, false);
    assert.equal(dup.job.priority, 32768);
    assert.equal(dup.job.queue, q);
    assert.equal(dup.job.payload, undefined);
    assert.deepEqual((await getJob(s.url, holder.job.id))!.payload, 1);
    assert.equal(await count(s.url, `queue=${q}`), 1);
  });

  it("a scheduled holder conflicts with every scope", async () => {
    const key = uniq("k");
    const holder = await post({ queue: uniq(), unique_key: key, ready_at: Date.now() + 3_600_000 });
    assert.equal(holder.job.status, "scheduled");
    for (const scope of ["queued", "active", "exists"]) {
      const r = await post({ queue: uniq(), unique_key: key, unique_while: scope });
      assert.equal(r.status, 200, scope);
      assert.equal(r.job.id, holder.job.id);
    }
  });

  it("in-flight holder: an incoming active conflicts, an incoming queued does not", async () => {
    const q = uniq();
    const key = uniq("k");
    const holder = await post({ queue: q, unique_key: key, unique_while: "active" });
    await take(q);
    const active = await post({ queue: q, unique_key: key, unique_while: "active" });
    assert.equal(active.status, 200);
    assert.equal(active.job.id, holder.job.id);
    assert.equal(active.job.status, "in_flight");
    const queued = await post({ queue: q, unique_key: key });
    assert.equal(queued.status, 201);
    assert.notEqual(queued.job.id, holder.job.id);
  });

  it("a queued holder gives the key up when taken, even to an incoming active", async () => {
    const q = uniq();
    const key = uniq("k");
    await post({ queue: q, unique_key: key });
    await take(q);
    assert.equal((await post({ queue: uniq(), unique_key: key, unique_while: "active" })).status, 201);
  });

  it("a queued holder re-claims its key when a failure reschedules it", async () => {
    const q = uniq();
    const key = uniq("k");
    const holder = await post({ queue: q, unique_key: key });
    await take(q);
    await req(s.url, "POST", `/jobs/${holder.job.id}/failure`, { message: "x", retry_at: Date.now() + 3_600_000 });
    const r = await post({ queue: q, unique_key: key });
    assert.equal(r.status, 200);
    assert.equal(r.job.id, holder.job.id);
  });

  it("a queued holder requeued by a worker disconnect still blocks duplicates", async () => {
    const q = uniq();
    const key = uniq("k");
    const holder = await post({ queue: q, unique_key: key });
    const { stream } = await take(q);
    await stream.close();
    await eventually(async () => (await getJob(s.url, holder.job.id))!.status === "ready", 5000, "requeue");
    const r = await post({ queue: q, unique_key: key });
    assert.equal(r.status, 200);
    assert.equal(r.job.id, holder.job.id);
    assert.equal(r.job.status, "ready");
  });

  it("spec example: an exists holder, now dead; incoming exists → duplicate, incoming queued → 201 and takes the key", async () => {
    const q = uniq();
    const key = uniq("k");
    const holder = await post({ queue: q, unique_key: key, unique_while: "exists" });
    await take(q);
    assert.equal((await req(s.url, "POST", `/jobs/${holder.job.id}/failure`, { message: "x", kill: true })).body!.status, "dead");
    const exists = await post({ queue: q, unique_key: key, unique_while: "exists" });
    assert.equal(exists.status, 200);
    assert.equal(exists.job.id, holder.job.id);
    assert.equal(exists.job.status, "dead");
    // (Another queue, so that the stream still open on q does not take it.)
    const queued = await post({ queue: uniq(), unique_key: key });
    assert.equal(queued.status, 201);
    // The new, ready job holds the key now.
    const again = await post({ queue: q, unique_key: key, unique_while: "exists" });
    assert.equal(again.status, 200);
    assert.equal(again.job.id, queued.job.id);
  });

  it("a rescheduled queued job re-claims its key once the holder after it has let go", async () => {
    const q = uniq();
    const key = uniq("k");
    const a = await post({ queue: q, unique_key: key });
    const { stream } = await take(q);
    await stream.job(0);
    // While a is in flight, b takes the key, and is then taken and completed: the key is free.
    const b = await post({ queue: q, unique_key: key });
    assert.equal(b.status, 201);
    const t2 = await take(q);
    assert.equal((await t2.stream.job(0)).id, b.job.id);
    assert.equal((await req(s.url, "POST", `/jobs/${b.job.id}/success`)).status, 204);
    await req(s.url, "POST", `/jobs/${a.job.id}/failure`, { message: "x", retry_at: Date.now() + 3_600_000 });
    const c = await post({ queue: q, unique_key: key });
    assert.equal(c.status, 200);
    assert.equal(c.job.id, a.job.id);
  });

  // With many jobs and few options, the restart rebuilds keys from the jobs with options
  // alone (queue/job.ts, optionSlotsInIdOrder); with few, from the whole id order.
  for (const plain of [0, 40]) it(`a queued job requeued by a disconnect, or recovered at restart, re-claims a free key (${plain} jobs without options)`, async () => {
    const dir = tmpDir();
    let x = await startServer({ dir });
    try {
      if (plain > 0) await req(x.url, "POST", "/jobs/bulk", { jobs: Array.from({ length: plain }, (_, i) => ({ type: "t", queue: "z", payload: i })) });
      const key = uniq("k");
      const a = (await req(x.url, "POST", "/jobs", { type: "t", queue: "a", payload: 1, unique_key: key })).body!;
      const ta = await openTake(x.url, "queue=a");
      await ta.job(0);
      // b takes the key while a is in flight; b completes (retained, so it is the newest job with the key).
      const b = (await req(x.url, "POST", "/jobs", { type: "t", queue: "b", payload: 1, unique_key: key, retention: { completed_ms: 3_600_000 } })).body!;
      const tb = await openTake(x.url, "queue=b");
      await tb.job(0);
      assert.equal((await req(x.url, "POST", `/jobs/${b.id}/success`)).status, 204);
      await tb.close();
      await ta.close();
      await eventually(async () => (await getJob(x.url, a.id))!.status === "ready", 5000, "requeue");
      const dup = await req(x.url, "POST", "/jobs", { type: "t", queue: "c", payload: 1, unique_key: key });
      assert.deepEqual([dup.status, dup.body!.id], [200, a.id], "after the disconnect");
      await x.close();
      x = await startServer({ dir });
      const again = await req(x.url, "POST", "/jobs", { type: "t", queue: "c", payload: 1, unique_key: key });
      assert.deepEqual([again.status, again.body!.id], [200, a.id], "after the restart");
    } finally {
      await x.close();
    }
  });

  it("an expired but unreaped exists holder still conflicts", async () => {
    const q = uniq();
    const key = uniq("k");
    const holder = await post({ queue: q, unique_key: key, unique_while: "exists", retention: { dead_ms: 1 } });
    await take(q);
    await req(s.url, "POST", `/jobs/${holder.job.id}/failure`, { message: "x", kill: true });
    await eventually(async () => (await getJob(s.url, holder.job.id)) === undefined, 5000, "expiry");
    const r = await post({ queue: q, unique_key: key, unique_while: "exists" });
    assert.equal(r.status, 200);
    assert.equal(r.job.id, holder.job.id);
  });

  it("concurrent enqueues of one key: exactly one is created", async () => {
    const key = uniq("k");
    const results = await Promise.all(Array.from({ length: 25 }, (_, n) => post({ queue: uniq(), unique_key: key, payload: n })));
    const created = results.filter((r) => r.status === 201);
    assert.equal(created.length, 1);
    for (const r of results) assert.equal(r.job.id, created[0].job.id);
  });

  it("exists: a retained completed holder conflicts until deleted", async () => {
    const q = uniq();
    const key = uniq("k");
    const holder = await post({ queue: q, unique_key: key, unique_while: "exists", retention: { completed_ms: 3_600_000 } });
    await take(q);
    assert.equal((await req(s.url, "POST", `/jobs/${holder.job.id}/success`)).status, 204);
    const dup = await post({ queue: q, unique_key: key, unique_while: "exists" });
    assert.equal(dup.status, 200);
    assert.equal(dup.job.status, "completed");
    assert.equal((await post({ queue: q, unique_key: key, unique_while: "active" })).status, 201);
  });

  it("queued/active holders give the key up on completion; exists on deletion", async () => {
    const q = uniq();
    for (const scope of ["queued", "active"]) {
      const key = uniq("k");
      const h = await post({ queue: q, unique_key: key, unique_while: scope, retention: { completed_ms: 3_600_000 } });
      const { stream } = await take(q);
      assert.equal((await req(s.url, "POST", `/jobs/${h.job.id}/success`)).status, 204);
      await stream.close();
      assert.equal((await post({ queue: uniq(), unique_key: key, unique_while: "exists" })).status, 201, scope);
    }
    const key = uniq("k");
    const h = await post({ queue: q, unique_key: key, unique_while: "exists" });
    assert.equal((await post({ queue: q, unique_key: key, unique_while: "exists" })).status, 200);
    assert.equal((await req(s.url, "DELETE", `/jobs/${h.job.id}`)).status, 204);
    assert.equal((await post({ queue: q, unique_key: key, unique_while: "exists" })).status, 201);
  });
});

const WHEN = "(($existing | .items) + ($new | .items)) | length <= 3";
const FOLD = "$existing | .items += ($new | .items)";

describe("batched jobs (§4.4)", () => {
  const batched = (queue: string, key: string, items: unknown[], extra: Json = {}) =>
    post({ queue, payload: { items }, batch: { key, when: WHEN, fold: FOLD }, ...extra });

  it("folds while `when` holds, seals when it is false, keeps the id and position", async () => {
    const q = uniq();
    const key = uniq("b");
    const a = await batched(q, key, [1]);
    assert.equal(a.status, 201);
    assert.deepEqual(a.job.batch, { key, when: WHEN, fold: FOLD });
    assert.equal(a.job.folded, false);
    assert.equal(Object.keys(a.job).at(-1), "batch");
    const b = await batched(q, key, [2]);
    assert.equal(b.status, 200);
    assert.equal(b.job.id, a.job.id);
    assert.equal(b.job.folded, true);
    assert.equal(b.job.duplicate, false);
    assert.deepEqual((await getJob(s.url, a.job.id))!.payload, { items: [1, 2] });
    // [1,2] + [3,4] has 4 items: sealed, and the incoming job opens the next batch.
    const c = await batched(q, key, [3, 4]);
    assert.equal(c.status, 201);
    assert.notEqual(c.job.id, a.job.id);
    const d = await batched(q, key, [5]);
    assert.equal(d.status, 200);
    assert.equal(d.job.id, c.job.id);
    assert.deepEqual((await getJob(s.url, a.job.id))!.payload, { items: [1, 2] });
    assert.deepEqual((await getJob(s.url, c.job.id))!.payload, { items: [3, 4, 5] });
    const { jobs } = await take(q, 2);
    assert.deepEqual(jobs.map((j) => j.payload), [{ items: [1, 2] }, { items: [3, 4, 5] }]);
  });

  it("concurrent batched enqueues lose no item and never exceed the limit", async () => {
    const q = uniq();
    const key = uniq("b");
    const results = await Promise.all(Array.from({ length: 30 }, (_, n) => batched(q, key, [n])));
    const ids = new Set(results.map((r) => r.job.id));
    const items: number[] = [];
    for (const id of ids) {
      const p = (await getJob(s.url, id))!.payload.items as number[];
      assert.ok(p.length >= 1 && p.length <= 3, `batch of ${p.length}`);
      items.push(...p);
    }
    assert.deepEqual(items.sort((a, b) => a - b), Array.from({ length: 30 }, (_, n) => n));
    assert.equal(results.filter((r) => r.status === 201).length, ids.size);
  });

  it("taking the open batch closes it", async () => {
    const q = uniq();
    const key = uniq("b");
    const a = await batched(q, key, [1]);
    await take(q);
    const b = await batched(q, key, [2]);
    assert.equal(b.status, 201);
    assert.notEqual(b.job.id, a.job.id);
    assert.deepEqual((await getJob(s.url, a.job.id))!.payload, { items: [1] });
  });

  it("batch keys are global: a fold keeps the open batch's queue, type and priority", async () => {
    const key = uniq("b");
    const q1 = uniq();
    const a = await batched(q1, key, [1], { type: "A", priority: 7 });
    const b = await batched(uniq(), key, [2], { type: "B", priority: 1 });
    assert.equal(b.status, 200);
    assert.equal(b.job.id, a.job.id);
    assert.deepEqual([b.job.queue, b.job.type, b.job.priority], [q1, "A", 7]);
  });

  it("a scheduled batched enqueue never folds and never opens the batch", async () => {
    const q = uniq();
    const key = uniq("b");
    const later = await batched(q, key, [1], { ready_at: Date.now() + 3_600_000 });
    assert.equal(later.status, 201);
    assert.equal(later.job.status, "scheduled");
    assert.ok(later.job.batch);
    const now1 = await batched(q, key, [2]);
    assert.equal(now1.status, 201);
    assert.notEqual(now1.job.id, later.job.id);
    const later2 = await batched(q, key, [3], { ready_at: Date.now() + 3_600_000 });
    assert.equal(later2.status, 201);
    assert.deepEqual((await getJob(s.url, now1.job.id))!.payload, { items: [2] });
  });

  it("bulk: folds chain within the request; all folds → 200", async () => {
    const q = uniq();
    const key = uniq("b");
    const job = (items: unknown[]) => ({ type: "t", queue: q, payload: { items }, batch: { key, when: WHEN, fold: FOLD } });
    const r = await req(s.url, "POST", "/jobs/bulk", { jobs: [job([1]), job([2]), job([3]), job([4])] });
    assert.equal(r.status, 201);
    const jobs = r.body!.jobs as Json[];
    assert.deepEqual(jobs.map((j) => j.folded), [false, true, true, false]);
    assert.equal(jobs[1].id, jobs[0].id);
    assert.notEqual(jobs[3].id, jobs[0].id);
    assert.deepEqual((await getJob(s.url, jobs[0].id))!.payload, { items: [1, 2, 3] });
    const more = await req(s.url, "POST", "/jobs/bulk", { jobs: [job([5]), job([6])] });
    assert.equal(more.status, 200);
    assert.deepEqual((await getJob(s.url, jobs[3].id))!.payload, { items: [4, 5, 6] });
  });

  it("422 for expressions that do not compile or whose fold dry-run fails; nothing written", async () => {
    const q = uniq();
    const cases: [Json, RegExp][] = [
      [{ key: "k", when: "((", fold: FOLD }, /^batch expression: when: /],
      [{ key: "k", when: WHEN, fold: "$existing |" }, /^batch expression: fold: /],
      [{ key: "k", when: WHEN, fold: "$existing, $new" }, /^batch dry-run: fold: /],
      [{ key: "k", when: WHEN, fold: "empty" }, /^batch dry-run: fold: /],
      [{ key: "k", when: "error(\"no\")", fold: FOLD }, /^batch dry-run: when: /],
    ];
    for (const [batch, message] of cases) {
      assertError(await req(s.url, "POST", "/jobs", { type: "t", queue: q, payload: { items: [1] }, batch }), 422, message);
    }
    assert.equal(await count(s.url, `queue=${q}`), 0);
  });

  it("the stored `when`/`fold` decide; a `when` runtime error seals the batch", async () => {
    const q = uniq();
    const key = uniq("b");
    const first = { key, when: "($new | .x) + 1 > 0", fold: "{x: ($existing.x + $new.x)}" };
    const a = await post({ queue: q, payload: { x: 1 }, batch: first });
    const b = await post({ queue: q, payload: { x: 2 }, batch: { key, when: "false", fold: "$new" } });
    assert.equal(b.status, 200);
    assert.deepEqual(b.job.batch, first);
    assert.deepEqual((await getJob(s.url, a.job.id))!.payload, { x: 3 });
    // "s" + 1 fails in the stored `when`: sealed, and the incoming job opens a new batch.
    const c = await post({ queue: q, payload: { x: "s" }, batch: { key, when: "true", fold: "$new" } });
    assert.equal(c.status, 201);
    assert.deepEqual((await getJob(s.url, a.job.id))!.payload, { x: 3 });
    const d = await post({ queue: q, payload: { x: 9 }, batch: first });
    assert.equal(d.status, 200);
    assert.equal(d.job.id, c.job.id);
    assert.deepEqual((await getJob(s.url, c.job.id))!.payload, { x: 9 });
  });

  it("a fold that fails at enqueue time → 422, the open batch is unchanged", async () => {
    const q = uniq();
    const key = uniq("b");
    const batch = { key, when: "true", fold: "$existing | .items += ($new | .items)" };
    const a = await post({ queue: q, payload: { items: [1] }, batch });
    // The stored fold adds arrays; a string `items` makes it fail at run time.
    const r = await req(s.url, "POST", "/jobs", { type: "t", queue: q, payload: { items: "x" }, batch });
    assertError(r, 422, /^batch fold failed: /);
    assert.deepEqual((await getJob(s.url, a.job.id))!.payload, { items: [1] });
    assert.equal(await count(s.url, `queue=${q}`), 1);
  });
});
