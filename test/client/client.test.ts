// Client against a real server (in-process, ephemeral port), in both formats: every job
// method, the return shapes of CLIENT-API.md §3–4, the take stream, and the lazy queries.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Client, ClientError, ErrorRecord, Job, JobPage, NotFoundError, ResponseError } from "../../lib/client/index.ts";
import { eventually, startServer, type TestServer } from "../helpers/server.ts";
import { cleanupTmp } from "../helpers/tmp.ts";
import { uniq, withTaken } from "./_setup.ts";

let s: TestServer;
before(async () => { s = await startServer(); });
after(async () => { await s.close(); cleanupTmp(); });

for (const format of ["json", "msgpack"] as const) {
  describe(`Client (${format})`, () => {
    let c: Client;
    before(() => { c = new Client({ url: `${s.url}/`, format }); });
    after(() => c.close());

    it("url has trailing slashes stripped; health and version", async () => {
      assert.equal(c.url, s.url);
      assert.deepEqual(await c.health(), { status: "ok" });
      assert.match(await c.serverVersion(), /^\d+\.\d+\.\d+/);
    });

    it("enqueue returns a Job without payload; getJob has it; options map to the wire", async () => {
      const queue = uniq();
      const readyAt = Date.now() + 3_600_000;
      const job = await c.enqueue({
        type: "send", queue, payload: { n: 1, big: 2 ** 40, f: 1.5 }, priority: 7, readyAt, retryLimit: 3,
        backoff: { baseMs: 100, exponent: 2, jitterMs: 0 }, retention: { completedMs: 1000, deadMs: 2000 },
        uniqueKey: `k-${queue}`, uniqueWhile: "queued",
      });
      assert.ok(job instanceof Job);
      assert.equal(job.payload, undefined);
      assert.deepEqual(job.budgets, []);
      assert.equal(job.duplicate, false);
      const got = await c.getJob(job.id);
      assert.deepEqual(got.payload, { n: 1, big: 2 ** 40, f: 1.5 });
      assert.equal(got.status, "scheduled");
      assert.equal(got.readyAt, readyAt);
      assert.equal(got.priority, 7);
      assert.equal(got.retryLimit, 3);
      assert.deepEqual(got.backoff, { baseMs: 100, exponent: 2, jitterMs: 0 });
      assert.deepEqual(got.retention, { completedMs: 1000, deadMs: 2000 });
      assert.equal(got.uniqueKey, `k-${queue}`);
      assert.equal(got.uniqueWhile, "queued");
      const again = await c.enqueue({ type: "send", queue, payload: {}, uniqueKey: `k-${queue}`, uniqueWhile: "queued" });
      assert.equal(again.duplicate, true);
      assert.equal(again.id, job.id);
      assert.equal(Object.keys(got.toJSON()).length, 21);
      assert.deepEqual(JSON.parse(JSON.stringify(got)).payload, got.payload, "toJSON keeps the client out");
    });

    it("enqueue resolves job functions and zizqOptions; missing queue throws before a request", async () => {
      const queue = uniq();
      const sendMail = Object.assign(async () => {}, { zizqOptions: { queue, priority: 9 } });
      Object.defineProperty(sendMail, "name", { value: "sendMail" });
      const job = await c.enqueue({ type: sendMail, payload: null });
      assert.deepEqual([job.type, job.queue, job.priority], ["sendMail", queue, 9]);
      await assert.rejects(c.enqueue({ type: "x", payload: 1 }), { message: 'No queue specified for job type "x"' });
    });

    it("enqueueBulk, enqueueRaw and enqueueBulkRaw keep the input order", async () => {
      const queue = uniq();
      const jobs = await c.enqueueBulk([1, 2, 3].map((n) => ({ type: `t${n}`, queue, payload: n })));
      assert.deepEqual(jobs.map((j) => j.type), ["t1", "t2", "t3"]);
      const raw = await c.enqueueRaw({ type: "raw", queue, payload: [1] });
      assert.equal(raw.type, "raw");
      const bulk = await c.enqueueBulkRaw([{ type: "a", queue, payload: 1 }, { type: "b", queue, payload: 2 }]);
      assert.deepEqual(bulk.map((j) => j.type), ["a", "b"]);
      assert.equal(await c.countJobs({ queue }), 6);
    });

    it("updateJob, deleteJob, NotFoundError with the server message", async () => {
      const queue = uniq();
      const job = await c.enqueue({ type: "t", queue, payload: 1, readyAt: Date.now() + 60_000 });
      const updated = await c.updateJob(job.id, { priority: 3, readyAt: null, retryLimit: 5 });
      assert.deepEqual([updated.priority, updated.status, updated.retryLimit], [3, "ready", 5]);
      const cleared = await job.update({ retryLimit: null });
      assert.equal(cleared.retryLimit, undefined);
      await job.delete();
      await assert.rejects(c.getJob(job.id), (err: unknown) =>
        err instanceof NotFoundError && err.status === 404 && err.name === "NotFoundError" && /not found/.test(err.message));
      await assert.rejects(c.deleteJob(job.id), NotFoundError);
    });

    it("count/update/delete over filters, key checks and the empty-set short-circuit", async () => {
      const queue = uniq();
      await c.enqueueBulk([1, 2, 3, 4].map((n) => ({ type: n % 2 ? "odd" : "even", queue, payload: { n }, priority: n })));
      assert.equal(await c.countJobs({ queue, type: "odd" }), 2);
      assert.equal(await c.countJobs({ queue, priority: { min: 2, max: 3 } }), 2);
      assert.equal(await c.countJobs({ queue, filter: ".n > 2" }), 2);
      assert.equal(await c.countJobs({ queue: [] }), 0);
      await assert.rejects(c.countJobs({ nope: 1 } as never), { message: 'countJobs: unknown option "nope". Allowed: id, status, queue, type, budgetsKey, filter, priority, readyAt, attempts' });
      await assert.rejects(c.countJobs({ priority: Number.NaN }), TypeError);
      assert.equal(await c.updateAllJobs({ where: { queue, type: "odd" }, apply: { priority: 100 } }), 2);
      assert.equal(await c.countJobs({ queue, priority: 100 }), 2);
      assert.equal(await c.deleteAllJobs({ where: { queue, type: [] } }), 0);
      await assert.rejects(c.deleteAllJobs({ where: { queue, bad: 1 } as never }), { message: /deleteAllJobs\.where: unknown option "bad"/ });
      assert.equal(await c.deleteAllJobs({ where: { queue, type: "even" } }), 2);
      assert.equal(await c.countJobs({ queue }), 2);
    });

    it("listJobs pages follow the server links; JobPage iterates synchronously", async () => {
      const queue = uniq();
      await c.enqueueBulk(Array.from({ length: 5 }, (_, n) => ({ type: "t", queue, payload: n })));
      const first = await c.listJobs({ queue, limit: 2 });
      assert.ok(first instanceof JobPage);
      assert.deepEqual([...first].map((j) => j.payload), [0, 1]);
      assert.equal(first.hasNext, true);
      assert.equal(first.hasPrev, false);
      const second = (await first.nextPage())!;
      assert.deepEqual(second.jobs.map((j) => j.payload), [2, 3]);
      assert.equal(second.hasPrev, true);
      const third = (await second.nextPage())!;
      assert.deepEqual(third.jobs.map((j) => j.payload), [4]);
      assert.equal(await third.nextPage(), null);
      const desc = await c.listJobs({ queue, order: "desc", limit: 1 });
      assert.equal(desc.jobs[0].payload, 4);
      const empty = await c.listJobs({ queue, id: [] });
      assert.deepEqual([empty.jobs.length, empty.hasNext], [0, false]);
      assert.equal(await second.updateAll({ priority: 1 }), 2);
      assert.equal(await second.deleteAll(), 2);
      assert.equal(await c.countJobs({ queue }), 3);
    });

    it("take streams in-flight jobs with payload; reportSuccess acks; errors of a settled job", async () => {
      const queue = uniq();
      const [a, b] = await c.enqueueBulk([{ type: "t", queue, payload: "a" }, { type: "t", queue, payload: "b" }]);
      await withTaken(c, queue, 2, async (jobs) => {
        assert.deepEqual(jobs.map((j) => [j.id, j.status, j.payload]), [[a.id, "in_flight", "a"], [b.id, "in_flight", "b"]]);
        await c.reportSuccess(a.id);
        await jobs[1].complete();
      });
      await assert.rejects(c.reportSuccess(a.id), NotFoundError);
    });

    it("reportSuccessBulk takes 204 and 422; an empty list is a ClientError", async () => {
      const queue = uniq();
      const [a] = await c.enqueueBulk([{ type: "t", queue, payload: 1 }]);
      await withTaken(c, queue, 1, () => c.reportSuccessBulk([a.id, "03hzzzzzzzzzzzzzzzzzzzzzz"]));
      assert.equal(await c.countJobs({ queue, status: ["ready", "in_flight"] }), 0);
      await assert.rejects(c.reportSuccessBulk([]), (err: unknown) => err instanceof ClientError && err.status === 400);
    });

    it("reportFailure returns the job; errors list, getError, job.errors() query", async () => {
      const queue = uniq();
      const job = await c.enqueue({ type: "t", queue, payload: 1, retryLimit: 5 });
      for (let attempt = 1; attempt <= 3; attempt++) {
        await withTaken(c, queue, 1, async ([taken]) => {
          const failed = await taken.fail({ message: `boom ${attempt}`, errorType: "Boom", backtrace: "at x", retryAt: Date.now() - 1 });
          assert.equal(failed.attempts, attempt);
          assert.equal(failed.payload, undefined);
        });
      }
      const page = await c.listErrors(job.id, { limit: 2 });
      assert.deepEqual(page.errors.map((e) => e.message), ["boom 1", "boom 2"]);
      assert.ok(page.errors[0] instanceof ErrorRecord);
      assert.deepEqual((await page.nextPage())!.errors.map((e) => e.attempt), [3]);
      const rec = await c.getError(job.id, 2);
      assert.deepEqual([rec.attempt, rec.message, rec.errorType, rec.backtrace], [2, "boom 2", "Boom", "at x"]);
      assert.equal(typeof rec.failedAt, "number");
      assert.deepEqual((await job.errors().toArray()).map((e) => e.attempt), [1, 2, 3]);
      assert.equal((await job.errors().last())!.attempt, 3);
      assert.equal(await job.errors().inPagesOf(1).count(), 3);
      await assert.rejects(c.getError(job.id, 9), NotFoundError);
      await withTaken(c, queue, 1, async ([taken]) => {
        const dead = await taken.fail({ message: "no retry", kill: true });
        assert.equal(dead.status, "dead");
      });
    });

    it("jobs() query: builders are immutable, limit and pages, count is server-side", async () => {
      const queue = uniq();
      await c.enqueueBulk(Array.from({ length: 7 }, (_, n) => ({ type: n < 4 ? "a" : "b", queue, payload: { n, tag: n % 2 ? "x" : "y" } })));
      const q = c.jobs().byQueue(queue);
      assert.equal(await q.count(), 7);
      assert.equal(await q.byType("a").count(), 4);
      assert.equal(await q.count(), 7, "byType did not change q");
      assert.deepEqual((await q.inPagesOf(2).limit(5).toArray()).map((j) => (j.payload as { n: number }).n), [0, 1, 2, 3, 4]);
      assert.equal(await q.limit(3).count(), 3);
      assert.deepEqual((await q.first())!.payload, { n: 0, tag: "y" });
      assert.deepEqual((await q.last())!.payload, { n: 6, tag: "y" });
      assert.equal(await q.withPayloadSubset({ tag: "x" }).count(), 3);
      assert.equal(await q.byJqFilter(".n >= 5").addJqFilter(".tag == \"y\"").count(), 1);
      assert.equal(await q.byQueue(uniq()).isEmpty(), true);
      assert.deepEqual(await q.byType("b").map((j) => (j.payload as { n: number }).n).filter((n) => n > 4).toArray(), [5, 6]);
      assert.equal(await q.byType("a").limit(3).updateAll({ priority: 1 }), 3);
      assert.equal(await q.byType("a").updateOne({ priority: 2 }), 1);
      assert.equal(await q.byPriority(1).count(), 2);
      assert.equal(await q.byType("b").deleteAll(), 3);
      assert.equal(await q.deleteOne(), 1);
      assert.equal(await q.count(), 3);
    });

    it("queues, reset and eraseAllData", async () => {
      const queue = uniq();
      await c.enqueue({ type: "t", queue, payload: 1 });
      assert.ok((await c.queues()).includes(queue));
    });
  });
}

describe("Client lifecycle", () => {
  it("destroy() aborts an open take stream; the server requeues its job", async () => {
    const c = new Client({ url: s.url });
    const queue = uniq();
    await c.enqueue({ type: "t", queue, payload: 1 });
    const stream = await c.take({ queues: [queue], prefetch: 1 });
    assert.equal((await stream.next()).value!.status, "in_flight");
    const pending = stream.next();
    await c.destroy();
    await assert.rejects(pending);
    const other = new Client({ url: s.url });
    await eventually(async () => (await other.countJobs({ queue, status: "ready" })) === 1, 30_000, "job requeued");
    await other.close();
  });

  it("take with an aborted signal rejects with the abort error (not a ConnectionError)", async () => {
    const c = new Client({ url: s.url });
    const controller = new AbortController();
    const stream = await c.take({ queues: [uniq()], signal: controller.signal });
    const pending = stream.next();
    controller.abort();
    await assert.rejects(pending, (err: unknown) => (err as Error).name !== "ConnectionError");
    await c.close();
  });
});

describe("Client errors", () => {
  it("a body that cannot be encoded is the caller's TypeError, not a ConnectionError (a Worker retries those)", async () => {
    const c = new Client({ url: "http://127.0.0.1:9" });
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    await assert.rejects(c.enqueue({ type: "t", queue: "q", payload: 10n }), { name: "TypeError", message: /BigInt/ });
    await assert.rejects(c.enqueue({ type: "t", queue: "q", payload: cycle }), { name: "TypeError", message: /circular/ });
    await c.destroy();
  });

  it("a body over the server's limit is its 413, not a ConnectionError; the next calls work", async () => {
    const client = new Client({ url: s.url });
    try {
      // 40 MB written at once outgrew the h2 session's 10 MB memory limit (ENHANCE_YOUR_CALM,
      // a ConnectionError callers retry); it now goes out in pieces and gets the server's answer.
      for (const mb of [40, 100]) {
        const big = { type: "t", queue: "q", payload: "x".repeat(mb * 1024 * 1024) };
        await assert.rejects(client.enqueueRaw(big as never), { name: "ClientError", status: 413 });
      }
      for (let i = 0; i < 3; i++) assert.deepEqual(await client.health(), { status: "ok" });
    } finally {
      await client.close();
    }
  });

  it("a refused connection is a ConnectionError naming the URL", async () => {
    const c = new Client({ url: "http://127.0.0.1:9" });
    await assert.rejects(c.health(), (err: unknown) =>
      err instanceof ResponseError === false && (err as Error).name === "ConnectionError"
      // The docs' exact words (docs/client.md), not Node's "pending stream has been canceled".
      && (err as Error).message === "connect ECONNREFUSED 127.0.0.1:9 (http://127.0.0.1:9)"
      // A server that is down may come back: not the embedded queue's closed-for-good.
      && (err as { clientClosed: boolean }).clientClosed === false);
    await c.destroy();
  });

  it("a 4xx is a ClientError with status, server message and decoded body", async () => {
    const c = new Client({ url: s.url });
    await assert.rejects(c.enqueueRaw({ type: "", queue: "q", payload: 1 }), (err: unknown) => {
      assert.ok(err instanceof ClientError);
      assert.equal(err.status, 400);
      assert.equal(err.message, (err.body as { error: string }).error);
      return true;
    });
    await c.close();
  });
});
