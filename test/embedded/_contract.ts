// The shared contract suite (issue 8 §2): every Client method, run against any target
// that claims the Client's interface: the embedded queue, and a Client on a real server.
// Both must give the same return shapes and the same error classes and statuses.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { Router, Worker } from "../../lib/client/index.ts";
import { _internals as workerInternals } from "../../lib/client/worker.ts";
import { eventually, settlesWithin } from "../helpers/server.ts";
import { ENGINE_VERSION } from "../../lib/queue/version.ts";

/* eslint-disable @typescript-eslint/no-explicit-any */
export type ClientLike = any;

export interface Target {
  client: ClientLike;
  close(): Promise<void>;
  /**
   * Takes the queue away from under the client, as an app shutting down in the wrong order
   * or a crash would: the embedded queue's close() (for good), the server's close() (a
   * Client cannot tell that from a restart). `close()` must still work afterwards.
   */
  goAway(): Promise<void>;
}

const q = (label: string) => `${label}-${randomBytes(4).toString("hex")}`;

/** Rejects with an error of this class name and status (the classes are the client's). */
async function rejects(work: Promise<unknown>, name: string, status?: number): Promise<any> {
  try {
    await work;
  } catch (err: any) {
    assert.equal(err.name, name, `expected ${name}, got ${err.name}: ${err.message}`);
    if (status !== undefined) assert.equal(err.status, status);
    return err;
  }
  assert.fail(`expected ${name}, got a result`);
}

/** Take `n` jobs from `queue` through one stream, then close it (unacked jobs go back). */
async function takeN(client: ClientLike, queue: string, n: number, prefetch = n): Promise<any[]> {
  const jobs: any[] = [];
  if (n === 0) return jobs;
  for await (const job of await client.take({ queues: [queue], prefetch })) {
    jobs.push(job);
    if (jobs.length === n) break;
  }
  return jobs;
}

const quiet = { info() {}, error() {} };

export function contractSuite(name: string, start: () => Promise<Target>): void {
  describe(`client contract: ${name}`, () => {
    let t: Target;
    let c: ClientLike;
    before(async () => {
      t = await start();
      c = t.client;
    });
    after(() => t.close());

    test("enqueue returns the job without payload; getJob returns it with payload", async () => {
      const queue = q("enq");
      const job = await c.enqueue({ type: "send", queue, payload: { to: "a@b", n: 1.5, list: [1, null] }, priority: 7 });
      assert.match(job.id, /^[0-9a-z]{25}$/);
      assert.equal(job.status, "ready");
      assert.equal(job.priority, 7);
      assert.equal(job.payload, undefined);
      assert.equal(job.duplicate, false);
      assert.deepEqual(job.budgets, []);
      const got = await c.getJob(job.id);
      assert.deepEqual(got.payload, { to: "a@b", n: 1.5, list: [1, null] });
      assert.equal(got.type, "send");
      assert.equal(got.attempts, 0);
      assert.equal(typeof got.readyAt, "number");
      assert.deepEqual(Object.keys(got.toJSON()).length, 21);
    });

    test("enqueue: function types and zizqOptions resolve; a missing queue throws before any work", async () => {
      const queue = q("fn");
      async function resize() {}
      (resize as any).zizqOptions = { queue, priority: 3 };
      const job = await c.enqueue({ type: resize, payload: null });
      assert.equal(job.type, "resize");
      assert.equal(job.queue, queue);
      assert.equal(job.priority, 3);
      await assert.rejects(c.enqueue({ type: "x", payload: 1 }), /No queue specified for job type "x"/);
    });

    test("enqueueBulk keeps input order; unique keys answer duplicates", async () => {
      const queue = q("bulk");
      const jobs = await c.enqueueBulk([1, 2, 3].map((n) => ({ type: "t", queue, payload: { n } })));
      assert.equal(jobs.length, 3);
      for (const [i, j] of jobs.entries()) assert.deepEqual((await c.getJob(j.id)).payload, { n: i + 1 });
      const a = await c.enqueue({ type: "t", queue, payload: 1, uniqueKey: "k1" });
      const b = await c.enqueue({ type: "t", queue, payload: 2, uniqueKey: "k1" });
      assert.equal(b.id, a.id);
      assert.equal(b.duplicate, true);
      assert.equal(a.uniqueWhile, "queued");
    });

    test("scheduled jobs, readyAt and backoff round-trip in camelCase", async () => {
      const queue = q("sched");
      const readyAt = Date.now() + 3_600_000;
      const job = await c.enqueue({
        type: "t", queue, payload: {}, readyAt, retryLimit: 2,
        backoff: { baseMs: 10, exponent: 2, jitterMs: 0 }, retention: { completedMs: 1000 },
      });
      assert.equal(job.status, "scheduled");
      assert.equal(job.readyAt, readyAt);
      assert.equal(job.retryLimit, 2);
      assert.deepEqual(job.backoff, { baseMs: 10, exponent: 2, jitterMs: 0 });
      assert.deepEqual(job.retention, { completedMs: 1000 });
    });

    test("bad enqueue input is a ClientError 400", async () => {
      await rejects(c.enqueue({ type: "t", queue: "bad,queue", payload: 1 }), "ClientError", 400);
      await rejects(c.enqueue({ type: "t", queue: q("p"), payload: 1, priority: 70000 }), "ClientError", 400);
    });

    test("take → reportSuccess; a second ack is NotFoundError", async () => {
      const queue = q("ack");
      const job = await c.enqueue({ type: "t", queue, payload: { x: 1 } });
      const [taken] = await takeN(c, queue, 1);
      assert.equal(taken.id, job.id);
      assert.equal(taken.status, "in_flight");
      assert.deepEqual(taken.payload, { x: 1 });
      // The stream is closed, so the job went back to ready: take it again and ack.
      await eventually(async () => (await c.getJob(job.id)).status === "ready");
      let acked = false;
      for await (const j of await c.take({ queues: [queue], prefetch: 1 })) {
        await j.complete();
        acked = true;
        break;
      }
      assert.ok(acked);
      await rejects(c.getJob(job.id), "NotFoundError", 404);
      await rejects(c.reportSuccess(job.id), "NotFoundError", 404);
    });

    test("take honours prefetch; reportSuccessBulk acks many and ignores unknown ids; [] is a 400", async () => {
      const queue = q("bulkack");
      await c.enqueueBulk(Array.from({ length: 5 }, (_, n) => ({ type: "t", queue, payload: n })));
      const stream = await c.take({ queues: [queue], prefetch: 2 });
      const first = await stream.next();
      const second = await stream.next();
      assert.equal(await c.countJobs({ queue, status: "in_flight" }), 2);
      // A third job waits for a credit: nothing is delivered until an ack frees one.
      await c.reportSuccessBulk([first.value.id, second.value.id, "0000000000000000000000000"]);
      let acked = 0;
      for await (const j of stream) {
        await c.reportSuccessBulk([j.id]);
        if (++acked === 3) break;
      }
      assert.equal(await c.countJobs({ queue }), 0);
      await rejects(c.reportSuccessBulk([]), "ClientError", 400);
    });

    test("reportFailure retries, then kill makes it dead; error records page", async () => {
      const queue = q("fail");
      const job = await c.enqueue({ type: "t", queue, payload: 1, backoff: { baseMs: 0, exponent: 1, jitterMs: 0 } });
      for (let attempt = 1; attempt <= 3; attempt++) {
        // Fail inside the stream: once a stream closes, its jobs are no longer in flight.
        const stream = await c.take({ queues: [queue], prefetch: 1 });
        const { value } = await stream.next();
        const failed = await value.fail({ message: `boom ${attempt}`, errorType: "Boom", backtrace: "at x", kill: attempt === 3, retryAt: Date.now() - 1000 });
        assert.equal(failed.attempts, attempt);
        assert.equal(failed.payload, undefined);
        if (attempt === 3) assert.equal(failed.status, "dead");
        else assert.ok(["ready", "scheduled"].includes(failed.status), failed.status);
        await stream.return(undefined);
      }
      const page = await c.listErrors(job.id, { limit: 2 });
      assert.deepEqual(page.errors.map((e: any) => e.attempt), [1, 2]);
      assert.equal(page.errors[0].message, "boom 1");
      assert.equal(page.errors[0].errorType, "Boom");
      assert.equal(page.hasNext, true);
      const next = await page.nextPage();
      assert.deepEqual(next.errors.map((e: any) => e.attempt), [3]);
      assert.equal(next.hasNext, false);
      assert.equal((await next.prevPage()).errors[0].attempt, 2);
      const third = await c.getError(job.id, 3);
      assert.equal(third.message, "boom 3");
      await rejects(c.getError(job.id, 9), "NotFoundError", 404);
      await rejects(c.reportFailure(job.id, { message: "x" }), "NotFoundError", 404);
    });

    test("updateJob, deleteJob and their 404s", async () => {
      const queue = q("upd");
      const job = await c.enqueue({ type: "t", queue, payload: 1 });
      const updated = await c.updateJob(job.id, { priority: 9, retryLimit: 4 });
      assert.equal(updated.priority, 9);
      assert.equal(updated.retryLimit, 4);
      assert.equal(updated.payload, undefined);
      const cleared = await job.update({ retryLimit: null });
      assert.equal(cleared.retryLimit, undefined);
      await rejects(c.updateJob(job.id, { priority: null }), "ClientError", 422);
      await job.delete();
      await rejects(c.deleteJob(job.id), "NotFoundError", 404);
      await rejects(c.updateJob(job.id, { priority: 1 }), "NotFoundError", 404);
    });

    test("listJobs pages with next/prev; filters; count", async () => {
      const queue = q("list");
      const jobs = await c.enqueueBulk(Array.from({ length: 5 }, (_, n) => ({ type: n % 2 ? "odd" : "even", queue, payload: { n }, priority: n })));
      const page = await c.listJobs({ queue, limit: 2 });
      assert.deepEqual(page.jobs.map((j: any) => j.id), jobs.slice(0, 2).map((j: any) => j.id));
      assert.deepEqual(page.jobs[1].payload, { n: 1 });
      assert.equal(page.hasNext, true);
      assert.equal(page.hasPrev, false);
      const two = await page.nextPage();
      assert.deepEqual(two.jobs.map((j: any) => j.id), jobs.slice(2, 4).map((j: any) => j.id));
      assert.equal(two.hasPrev, true);
      const back = await two.prevPage();
      assert.deepEqual(back.jobs.map((j: any) => j.id).sort(), jobs.slice(0, 2).map((j: any) => j.id).sort());
      assert.deepEqual([...(await c.listJobs({ queue, order: "desc", limit: 1 }))].map((j: any) => j.id), [jobs[4].id]);
      assert.equal(await c.countJobs({ queue, type: "odd" }), 2);
      assert.equal(await c.countJobs({ queue, priority: { min: 2 } }), 3);
      assert.equal(await c.countJobs({ queue, priority: 3 }), 1);
      assert.equal(await c.countJobs({ queue, filter: ".n >= 3" }), 2);
      assert.equal(await c.countJobs({ queue, status: ["ready", "scheduled"] }), 5);
      assert.equal(await c.countJobs({ queue, id: [jobs[0].id, jobs[1].id] }), 2);
      assert.ok((await c.queues()).includes(queue));
    });

    test("empty list filters match nothing without asking; unknown keys are plain Errors; bad filters 400", async () => {
      const queue = q("empty");
      await c.enqueue({ type: "t", queue, payload: 1 });
      assert.equal(await c.countJobs({ queue: [] }), 0);
      assert.equal(await c.deleteAllJobs({ where: { status: [] } }), 0);
      assert.equal(await c.updateAllJobs({ where: { id: [] }, apply: { priority: 1 } }), 0);
      assert.equal((await c.listJobs({ type: "" })).jobs.length, 0);
      assert.equal(await c.countJobs({ queue }), 1);
      await assert.rejects(c.countJobs({ queues: [queue] }), (err: any) => err.constructor === Error && /countJobs: unknown option "queues"/.test(err.message));
      await assert.rejects(c.deleteAllJobs({ queue }), /deleteAllJobs: unknown option "queue"/);
      await rejects(c.countJobs({ status: "sleeping" }), "ClientError", 400);
      await rejects(c.listJobs({ limit: 5000 }), "ClientError", 400);
      await rejects(c.countJobs({ id: "nope" }), "ClientError", 400);
      await assert.rejects(c.countJobs({ priority: Number.NaN }), TypeError);
    });

    test("filters, limits and cursors are read as the server reads its query string", async () => {
      const queue = q("query");
      const long = "n".repeat(256);
      const [job] = await c.enqueueBulk([{ type: "t", queue, payload: 1 }, { type: "t", queue, payload: 2 }]);
      // A name no job can have is a 400 (lib/queue/query.ts parseSet), not "no match".
      const tooLong = await rejects(c.countJobs({ queue: long }), "ClientError", 400);
      assert.equal(tooLong.message, "invalid query parameters: queue: a name must be at most 255 bytes (UTF-8)");
      await rejects(c.deleteAllJobs({ where: { type: long } }), "ClientError", 400);
      await rejects(c.countJobs({ budgetsKey: long }), "ClientError", 400);
      // ready_at bounds past 2^53 saturate; a list item holding commas is several items.
      assert.equal(await c.countJobs({ queue, readyAt: { max: 2 ** 60 } }), 2);
      assert.equal(await c.countJobs({ queue: [`nope,${queue}`] }), 2);
      const range = await rejects(c.countJobs({ priority: { min: 5, max: 2 } }), "ClientError", 400);
      assert.equal(range.message, 'invalid query parameters: invalid priority range "5..2": start 5 is greater than end 2');
      const status = await rejects(c.countJobs({ status: "sleeping" }), "ClientError", 400);
      assert.match(status.message, /^invalid query parameters: unknown status `sleeping`, expected one of /);
      assert.equal((await rejects(c.listJobs({ limit: 1.5 }), "ClientError", 400)).message, 'invalid query parameters: limit: "1.5" is not a non-negative integer');
      await assert.rejects(c.countJobs({ priority: { min: null } }), { name: "TypeError", message: "priority: min and max must be finite numbers" });
      // Any list path the server would answer, not only the links of our own pages.
      const page = await c.listJobsByPath(`/jobs?queue=${queue}&limit=1`);
      assert.deepEqual(page.jobs.map((j: any) => j.id), [job.id]);
      assert.equal(page.hasNext, true);
      // A path that is not origin-form is the caller's TypeError (over h2c it was a
      // ConnectionError, which callers retry); an id that is not a string is a 404.
      for (const path of ["jobs", `jobs?queue=${queue}`, ""]) {
        await assert.rejects(c.listJobsByPath(path), { name: "TypeError", message: `request path must start with "/" (got ${JSON.stringify(path)})` });
        await assert.rejects(c.listErrorsByPath(path), { name: "TypeError" });
      }
      await rejects(c.getJob(undefined as any), "NotFoundError", 404);
      await rejects(c.deleteJob(null as any), "NotFoundError", 404);
      await rejects(c.listErrors(job.id, { from: 2 ** 33 }), "ClientError", 400);
      await rejects(c.getError(job.id, -1), "ClientError", 400);
      await rejects(c.getError(job.id, 1.5), "ClientError", 400);
    });

    test("take reads queues and prefetch as GET /jobs/take does", async () => {
      const queue = q("takeq");
      const job = await c.enqueue({ type: "t", queue, payload: 1 });
      // A deadline, not a wait: a stream that never delivers fails here instead of hanging.
      const signal = AbortSignal.timeout(5000);
      const stream = await c.take({ queues: [`nope,${queue}`], prefetch: 1, signal });
      assert.equal((await stream.next()).value.id, job.id);
      await stream.return(undefined);
      await rejects(c.take({ queues: ["n".repeat(256)] }), "ClientError", 400);
      const prefetch = await rejects(c.take({ prefetch: 2 ** 60 }), "ClientError", 400);
      assert.match(prefetch.message, /^invalid query parameters: prefetch: \d+ exceeds the maximum 9007199254740991$/);
      await rejects(c.take({ prefetch: -1 }), "ClientError", 400);
    });

    test("a bad body reads as the server words it for the Client's format", async () => {
      const queue = q("body");
      const missing = await rejects(c.enqueueRaw({ type: "t", queue }), "ClientError", 400);
      assert.match(missing.message, /^invalid (JSON|MessagePack): missing field `payload`$/);
      // An undefined member is absent in JSON and nil in MessagePack; never anything else.
      const partial = await rejects(c.enqueue({ type: "t", queue, payload: 1, backoff: { baseMs: 1 } }), "ClientError", 400);
      assert.match(partial.message, /^invalid (JSON: missing field `exponent`|MessagePack: backoff\.exponent: invalid type: null, expected f32)$/);
    });

    test("updateAllJobs and deleteAllJobs by filter; JobPage.updateAll/deleteAll", async () => {
      const queue = q("bulkops");
      await c.enqueueBulk(Array.from({ length: 4 }, (_, n) => ({ type: "t", queue, payload: n })));
      assert.equal(await c.updateAllJobs({ where: { queue }, apply: { priority: 5 } }), 4);
      assert.equal(await c.countJobs({ queue, priority: 5 }), 4);
      const page = await c.listJobs({ queue, limit: 2 });
      assert.equal(await page.updateAll({ priority: 6 }), 2);
      assert.equal(await page.deleteAll(), 2);
      assert.equal(await c.deleteAllJobs({ where: { queue } }), 2);
      assert.equal(await c.countJobs({ queue }), 0);
    });

    test("health and serverVersion", async () => {
      assert.deepEqual(await c.health(), { status: "ok" });
      assert.equal(await c.serverVersion(), ENGINE_VERSION);
    });

    test("a Worker runs every job with concurrency, acks in bulk, and stops gracefully", async () => {
      const queue = q("worker");
      const jobs = await c.enqueueBulk(Array.from({ length: 60 }, (_, n) => ({ type: "t", queue, payload: { n } })));
      const seen = new Set<number>();
      let running = 0;
      let peak = 0;
      const worker = new Worker({
        client: c,
        concurrency: 4,
        queues: [queue],
        logger: quiet,
        handler: async (job) => {
          running++;
          peak = Math.max(peak, running);
          await new Promise((r) => setImmediate(r));
          seen.add((job.payload as { n: number }).n);
          running--;
        },
      });
      const done = worker.run();
      await eventually(async () => (await c.countJobs({ queue })) === 0, 20_000, "every job acked");
      worker.stop();
      await done;
      assert.equal(seen.size, jobs.length);
      assert.ok(peak <= 4, `peak concurrency ${peak}`);
    });

    test("a Worker reports a throwing handler as a failure with message, type and stack", async () => {
      const queue = q("werr");
      const router = new Router().route("known", () => {
        throw new TypeError("bad input");
      });
      const known = await c.enqueue({ type: "known", queue, payload: 1, retryLimit: 0 });
      const unknown = await c.enqueue({ type: "other", queue, payload: 2, retryLimit: 0 });
      const worker = new Worker({ client: c, queues: [queue], logger: quiet, handler: router.build() });
      const done = worker.run();
      await eventually(async () => (await c.countJobs({ queue, status: "dead" })) === 2, 20_000, "both jobs dead");
      worker.stop();
      await done;
      const [error] = (await c.listErrors(known.id)).errors;
      assert.equal(error.message, "bad input");
      assert.equal(error.errorType, "TypeError");
      assert.match(error.backtrace, /TypeError: bad input/);
      assert.equal((await c.getError(unknown.id, 1)).errorType, "UnknownJobTypeError");
    });

    test("lazy queries and cron handles work over it", async () => {
      const queue = q("lazy");
      await c.enqueueBulk(Array.from({ length: 7 }, (_, n) => ({ type: "t", queue, payload: { n } })));
      const query = c.jobs({ queue }).inPagesOf(3);
      assert.equal((await query.toArray()).length, 7);
      assert.equal(await query.count(), 7);
      assert.deepEqual((await query.last())!.payload, { n: 6 });
      assert.equal(await query.withPayloadSubset({ n: 3 }).count(), 1);
      assert.equal(await query.limit(2).deleteAll(), 2);
      assert.equal(await c.jobs({ queue }).count(), 5);
      // limit(0) is the server's 400 whichever way the query is read (§5.2: iteration walks
      // pages()); iteration used to return nothing without asking.
      for (const read of [(x: any) => x.toArray(), (x: any) => x.pages().next(), (x: any) => x.deleteAll()]) {
        await rejects(read(query.limit(0)), "ClientError", 400);
      }
      const group = q("handle");
      const g = await c.cron(group).register({ entries: [{ name: "e", expression: "0 0 * * *", type: "t", queue, payload: 1 }] });
      assert.equal(g.entries[0].name, "e");
      assert.equal((await c.cron(group).entry("e").pause()).paused, true);
      await c.cron(group).delete();
    });

    test("crons: groups and entries, their 404s and 409", async () => {
      const group = q("cron");
      const job = { type: "tick", queue: q("cq"), payload: { a: 1 }, priority: 4 };
      const g = await c.replaceCronGroup(group, { entries: [{ name: "every-min", expression: "* * * * *", job }] });
      assert.equal(g.name, group);
      assert.equal(g.paused, false);
      assert.equal(g.entries.length, 1);
      assert.equal(g.entries[0].expression, "* * * * *");
      assert.deepEqual(g.entries[0].job.payload, { a: 1 });
      assert.equal(typeof g.entries[0].nextEnqueueAt, "number");
      assert.ok((await c.listCronGroups()).includes(group));
      const added = await c.addCronEntry(group, { name: "hourly", expression: "0 * * * *", job });
      assert.equal(added.name, "hourly");
      await rejects(c.addCronEntry(group, { name: "hourly", expression: "0 * * * *", job }), "ConflictError", 409);
      const replaced = await c.replaceCronEntry(group, "hourly", { expression: "5 * * * *", job });
      assert.equal(replaced.expression, "5 * * * *");
      const paused = await replaced.pause();
      assert.equal(paused.paused, true);
      assert.equal((await c.getCronEntry(group, "hourly")).paused, true);
      const gp = await (await c.getCronGroup(group)).pause();
      assert.equal(gp.paused, true);
      assert.equal((await c.updateCronGroup(group, { paused: false })).paused, false);
      await c.deleteCronEntry(group, "hourly");
      await rejects(c.getCronEntry(group, "hourly"), "NotFoundError", 404);
      await c.deleteCronGroup(group);
      await rejects(c.getCronGroup(group), "NotFoundError", 404);
      await rejects(c.replaceCronGroup(group, { entries: [{ name: "x", expression: "not cron", job }] }), "ClientError", 400);
      const other = q("cron2");
      await c.replaceCronGroup(other, { entries: [] });
      assert.ok((await c.deleteAllCrons()) >= 1);
    });


    test("budget definitions: define, 409 on an existing key, replace, update, list, delete, 404", async () => {
      const key = q("api");
      const made = await c.defineBudget({ key, allocation: 10, strategy: { type: "time_based", durationMs: 1000 } });
      assert.deepEqual([made.key, made.allocation, made.strategy], [key, 10, { type: "time_based", durationMs: 1000 }]);
      assert.equal(typeof made.createdAt, "number");
      assert.equal(typeof made.updatedAt, "number");
      await rejects(c.defineBudget({ key, allocation: 5, strategy: { type: "while_in_flight" } }), "ConflictError", 409);
      const replaced = await c.defineBudget({ key, allocation: 5, strategy: { type: "while_in_flight" }, replace: true });
      assert.deepEqual(replaced.strategy, { type: "while_in_flight" });
      const updated = await c.updateBudget(key, { strategy: { type: "time_based", durationMs: 60_000, burst: 8 } });
      assert.deepEqual([updated.allocation, updated.strategy], [5, { type: "time_based", durationMs: 60_000, burst: 8 }]);
      assert.deepEqual(await c.getBudget(key), updated);
      assert.ok((await c.listBudgets()).some((b: any) => b.key === key));
      await rejects(c.defineBudget({ key: q("bad"), allocation: 0, strategy: { type: "while_in_flight" } }), "ClientError");
      await c.deleteBudget(key);
      await rejects(c.getBudget(key), "NotFoundError", 404);
      await rejects(c.deleteBudget(key), "NotFoundError", 404);
    });

    test("per-job bindings show on the job; a missing binding's cost is 404, a second bind 409", async () => {
      const queue = q("bind");
      const key = q("mail");
      const job = await c.enqueue({ type: "t", queue, payload: 1 });
      const createWith = { allocation: 10, strategy: { type: "while_in_flight" } };
      const bound = await c.bindJobBudget(job.id, { key, cost: 2, createWith });
      assert.deepEqual(bound.budgets, [{ key, cost: 2 }]);
      assert.deepEqual((await c.getJob(job.id)).budgets, [{ key, cost: 2 }]);
      await rejects(c.bindJobBudget(job.id, { key }), "ConflictError", 409);
      assert.deepEqual((await c.setJobBudgetCost(job.id, key, 3)).budgets, [{ key, cost: 3 }]);
      assert.deepEqual((await c.rebindJobBudget(job.id, { key, cost: 1 })).budgets, [{ key, cost: 1 }]);
      assert.deepEqual((await c.unbindJobBudget(job.id, key)).budgets, []);
      // API-budgets.md: unbinding a key the job lacks is a no-op (the client's docs say 404).
      assert.deepEqual((await c.unbindJobBudget(job.id, key)).budgets, []);
      await rejects(c.setJobBudgetCost(job.id, key, 2), "NotFoundError", 404);
      assert.deepEqual((await c.replaceJobBudgets(job.id, [{ key, cost: 4 }])).budgets, [{ key, cost: 4 }]);
      assert.deepEqual((await c.unbindAllJobBudgets(job.id)).budgets, []);
      await rejects(c.bindJobBudget(job.id, { key: q("nobudget") }), "ClientError", 422);
      await rejects(c.bindJobBudget("03hcv0puxmjpole9o55ep5oe2", { key }), "NotFoundError", 404);
    });

    test("bulk bindings by filter, and budgetsKey selects only the bound jobs (count, delete)", async () => {
      const queue = q("bulk");
      const key = q("pool");
      await c.defineBudget({ key, allocation: 100, strategy: { type: "while_in_flight" } });
      const jobs = await c.enqueueBulk(Array.from({ length: 5 }, (_, n) => ({ type: "t", queue, payload: { n } })));
      const first = jobs.slice(0, 3).map((j: any) => j.id);
      assert.deepEqual(await c.bindAllJobsBudget({ key, cost: 2 }, { id: first }), { changed: 3, blocked: [] });
      assert.equal(await c.countJobs({ budgetsKey: key }), 3);
      assert.equal(await c.countJobs({ queue, budgetsKey: [key, q("other")] }), 3);
      assert.deepEqual(await c.setAllJobsBudgetCost(key, 5, { queue }), { changed: 3, blocked: [] });
      assert.deepEqual((await c.getJob(first[0])).budgets, [{ key, cost: 5 }]);
      assert.deepEqual(await c.rebindAllJobsBudget({ key, cost: 1 }, { queue }), { changed: 5, blocked: [] });
      assert.deepEqual(await c.unbindAllJobsBudget(key, { id: first }), { changed: 3, blocked: [] });
      assert.equal(await c.countJobs({ budgetsKey: key }), 2);
      assert.deepEqual(await c.clearAllJobsBudgets({ queue: [] }), { changed: 0, blocked: [] });
      await rejects(c.deleteBudget(key), "ConflictError", 409);
      assert.equal(await c.deleteAllJobs({ where: { budgetsKey: key } }), 2);
      assert.equal(await c.countJobs({ queue }), 3);
      assert.deepEqual(await c.clearAllJobsBudgets({ queue }), { changed: 0, blocked: [] });
      await c.deleteBudget(key);
    });

    test("a cron group keeps its timezone", async () => {
      const group = q("tz");
      const job = { type: "tick", queue: q("tzq"), payload: null };
      const g = await c.replaceCronGroup(group, { timezone: "Europe/Paris", entries: [{ name: "nine", expression: "0 9 * * *", job }] });
      assert.equal(g.timezone, "Europe/Paris");
      assert.equal((await c.getCronGroup(group)).timezone, "Europe/Paris");
      await c.deleteCronGroup(group);
    });
  });

  describe(`client contract: ${name}, the queue goes away under a Worker`, () => {
    // The embedded queue closed before its Worker was stopped: acks failed with
    // ConnectionError and were retried for ever, and stop() never settled, shutdownTimeout
    // or not. A Client whose server is gone for good did the same. (Failure reports: the
    // embedded ones in open.test.ts, the Client's in test/client/worker-shutdown.test.ts.)
    test("stop() with a shutdownTimeout settles within it (+ the grace) though the acks cannot be sent", async () => {
      const t = await start();
      const queue = q("away");
      const shutdownTimeout = 100;
      const logger = { lines: [] as string[], info() {}, error(...args: unknown[]) { logger.lines.push(args.map(String).join(" ")); } };
      let release!: () => void;
      const gate = new Promise<void>((resolve) => { release = resolve; });
      let started = 0;
      const worker = new Worker({
        client: t.client, queues: [queue], concurrency: 3, logger, shutdownTimeout,
        requestRetry: { initialDelay: 10, maxDelay: 100 },
        handler: async () => {
          started++;
          await gate;
        },
      });
      try {
        await t.client.enqueueBulk([1, 2, 3].map((n) => ({ type: "t", queue, payload: n })));
        const running = worker.run();
        await eventually(() => started === 3, 20_000, "three handlers running");
        await t.goAway();
        release();
        worker.stop();
        // Generous for a loaded machine; the old code never settled at all.
        const bound = shutdownTimeout + workerInternals.SHUTDOWN_GRACE_MS + 4000;
        assert.ok(await settlesWithin(running, bound), `stop() had not settled ${bound} ms after it was called; errors: ${logger.lines.slice(-3).join(" | ")}`);
        await running;
      } finally {
        worker.kill();
        await t.close();
      }
    });
  });

  describe(`client contract: ${name}, reset`, () => {
    test("reset deletes every job and cron group", async () => {
      const t = await start();
      try {
        const c = t.client;
        await c.enqueue({ type: "t", queue: q("r"), payload: 1 });
        await c.replaceCronGroup(q("g"), { entries: [] });
        await c.reset();
        assert.equal(await c.countJobs(), 0);
        assert.deepEqual(await c.listCronGroups(), []);
        await c.eraseAllData();
      } finally {
        await t.close();
      }
    });
  });
}
