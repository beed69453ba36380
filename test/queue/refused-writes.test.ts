// Writes the storage refuses (a full disk, EIO) must change nothing: not the served
// state, and not what a later checkpoint or compaction writes down. And on a full disk,
// changes that were promised no room (PATCH, budget binds, compaction copies, nacks, the
// records of a dropped stream's requeue) are refused before they eat the room kept for
// acks, so acks keep working (docs/operations.md).

import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { createAdminApp } from "../../lib/http/admin.ts";
import { createQueue, type Queue } from "../../lib/queue/queue.ts";
import { type JobWithPayload, QueueError } from "../../lib/queue/types.ts";
import { StorageError } from "../../lib/storage/errors.ts";
import { STATUS_IN_FLIGHT } from "../../lib/storage/format.ts";
import { type Store, openStore } from "../../lib/storage/store.ts";
import { FaultyFs, isPreallocation } from "../helpers/faulty-fs.ts";
import { eventually } from "../helpers/server.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";

after(() => cleanupTmp());

async function open(
  dir: string, fs = new FaultyFs(), onError?: (err: unknown, where: string) => void,
): Promise<{ store: Store; queue: Queue; fs: FaultyFs }> {
  const store = await openStore({ dir, segmentBytes: 1024 * 1024, fs });
  return { store, queue: createQueue(store, { reaperIntervalMs: 0, onError, globalInFlightLimit: 10_000 }), fs };
}

async function close(q: { store: Store; queue: Queue }): Promise<void> {
  q.queue.stop();
  await q.store.close();
}

const isIo = (err: unknown) => err instanceof StorageError && err.kind === "io";
const isFull = (err: unknown) => err instanceof QueueError && err.code === "full";

/** What a client can see of the state this test builds. */
async function seen(queue: Queue) {
  const jobs = (await queue.list({ filter: {}, order: "asc", limit: 100 })).jobs.map((j) => `${j.job.queue}:${j.job.unique_key ?? ""}`);
  return {
    jobs,
    budgets: queue.budgets.list().map((b) => b.key),
    crons: queue.crons.names(),
    paused: queue.queueStates().filter((q) => q.paused).map((q) => q.name),
  };
}

async function seed(queue: Queue): Promise<void> {
  await queue.budgets.create("b", { allocation: 3, strategy: { type: "while_in_flight" } });
  for (const g of ["g1", "g2"]) {
    await queue.crons.putGroup(g, { entries: [{ name: "e", expression: "0 0 1 1 *", job: { type: "t", queue: "c", payload: null } }] });
  }
  await queue.setPaused("p", true);
  for (let i = 0; i < 5; i++) await queue.enqueue({ type: "t", queue: "q", payload: { i }, unique_key: `u${i}` });
}

describe("a write that fails with EIO changes nothing, now or after a checkpoint and a restart", () => {
  const cases: [string, (queue: Queue) => Promise<unknown>][] = [
    ["POST /reset", (queue) => queue.reset()],
    ["DELETE /budgets/{key}", (queue) => queue.budgets.remove("b")],
    ["DELETE /crons/{group}", (queue) => queue.crons.deleteGroup("g1")],
    ["DELETE /crons", (queue) => queue.crons.deleteAll()],
  ];
  for (const [what, run] of cases) {
    it(what, async () => {
      const dir = tmpDir("zizq-refused-");
      let q = await open(dir);
      await seed(q.queue);
      const before = await seen(q.queue);
      q.fs.failWrite({ kind: "eio", persistent: true });
      await assert.rejects(run(q.queue), isIo);
      q.fs.clear();
      assert.deepEqual(await seen(q.queue), before, "served state after the refusal");
      // A unique key is still held: a duplicate is a duplicate.
      assert.equal((await q.queue.enqueue({ type: "t", queue: "q", payload: null, unique_key: "u0" })).duplicate, true);
      // Another write, then a checkpoint: it must not write the refused change down.
      await q.queue.enqueue({ type: "t", queue: "later", payload: null });
      assert.equal(await q.store.checkpoint(), true);
      await close(q);
      q = await open(dir);
      assert.equal(q.store.recovery.from, "checkpoint");
      assert.deepEqual(await seen(q.queue), { ...before, jobs: [...before.jobs, "later:"] }, "after the restart");
      // And the operation works once the disk does.
      await run(q.queue);
      await close(q);
    });
  }

  it("POST /reset that succeeds still empties everything, also after a restart", async () => {
    const dir = tmpDir("zizq-refused-");
    let q = await open(dir);
    await seed(q.queue);
    await q.queue.reset();
    const empty = { jobs: [], budgets: [], crons: [], paused: [] };
    assert.deepEqual(await seen(q.queue), empty);
    await close(q);
    q = await open(dir);
    assert.deepEqual(await seen(q.queue), empty);
    await close(q);
  });
});

it("a failure too large for a segment is refused (400) and changes nothing: the job stays on its stream", async () => {
  const q = await open(tmpDir("zizq-refused-large-"));
  const { job } = await q.queue.enqueue({ type: "t", queue: "q", payload: null });
  const got: JobWithPayload[] = [];
  const taker = q.queue.take({ queues: ["q"], prefetch: 0, deliver: (j) => (got.push(j), true) });
  await eventually(() => got.length === 1, 5000, "the job delivered");
  await assert.rejects(q.queue.fail(job.id, { message: "x".repeat(1_100_000) }), (e: unknown) => e instanceof QueueError && e.code === "invalid_argument");
  assert.equal(q.queue.get(job.id).job.status, "in_flight");
  assert.equal(q.queue.get(job.id).job.attempts, 0);
  taker.close();
  assert.equal(q.queue.get(job.id).job.status, "ready", "its stream still held it");
  await close(q);
});

describe("a full disk", () => {
  it("refuses PATCHes and compaction before they eat the room kept for acks; acks keep working", async () => {
    const dir = tmpDir("zizq-refused-full-");
    const q = await open(dir);
    const { queue, fs } = q;
    for (let i = 0; i < 4; i++) {
      await queue.enqueueBulk({ jobs: Array.from({ length: 200 }, (_, k) => ({ type: "t", queue: "q", payload: { k, pad: "x".repeat(400) } })) });
    }
    fs.failWrite({ kind: "enospc", match: isPreallocation, persistent: true });
    let err: unknown;
    for (let i = 0; i < 10_000 && err === undefined; i++) {
      await queue.enqueue({ type: "t", queue: "q", payload: { pad: "y".repeat(400) } }).catch((e: unknown) => { err = e; });
    }
    assert.ok(isFull(err), `enqueues are refused: ${String(err)}`);
    // Each PATCH of 800 jobs is ~80 KB: the old code took them until the preallocated
    // room ran out, then every write failed, deletes (acks) too.
    let patched = 0;
    let refusal: unknown;
    for (let i = 0; i < 200 && refusal === undefined; i++) {
      await queue.patchMany({ queues: ["q"] }, { priority: i % 100 }).then(() => { patched++; }, (e: unknown) => { refusal = e; });
    }
    assert.ok(isFull(refusal), `PATCH /jobs is refused with a 507 (${patched} taken first): ${String(refusal)}`);
    const admin = createAdminApp(queue, { logError: () => {} });
    const compact = await admin.fetch(new Request("http://admin/compact", { method: "POST" }));
    assert.ok([204, 507].includes(compact.status), `POST /compact: ${compact.status}`);
    if (compact.status === 507) assert.match((await compact.json() as { error: string }).error, /^storage is full: /);
    // Deletes of existing jobs (what an ack with no retention writes) still work.
    const ids = (await queue.list({ filter: { queues: ["q"] }, order: "asc", limit: 300 })).jobs.map((j) => j.job.id);
    for (const id of ids) await queue.deleteOne(id);
    // Space is back: the server recovers by itself. A PATCH that finds no room starts a
    // spare; until one is made it is still refused, so try until a deadline.
    fs.clear();
    await queue.enqueue({ type: "t", queue: "q", payload: null });
    const deadline = Date.now() + 10_000;
    for (;;) {
      const r = await queue.patchMany({ queues: ["q"] }, { priority: 1 }).catch((e: unknown) => e);
      if (typeof r === "number") break;
      assert.ok(isFull(r) && Date.now() < deadline, `PATCH after space came back: ${String(r)}`);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await close(q);
  });

  /**
   * A queue on a full disk with `jobs` jobs, half of them kept once completed (their ack
   * writes a META record into the reserve, the others' a DELETE), all in flight on one
   * stream. Each job's payload is ~400 bytes.
   */
  async function fullWithJobsInFlight(onError?: (err: unknown, where: string) => void) {
    const q = await open(tmpDir("zizq-refused-full-"), new FaultyFs(), onError);
    const { queue, fs } = q;
    for (let i = 0; i < 4; i++) {
      await queue.enqueueBulk({ jobs: Array.from({ length: 200 }, (_, k) => ({
        type: "t", queue: "q", payload: { k, pad: "x".repeat(400) }, ...(k % 2 === 0 ? { retention: { completed_ms: 3_600_000 } } : {}),
      })) });
    }
    fs.failWrite({ kind: "enospc", match: isPreallocation, persistent: true });
    let err: unknown;
    for (let i = 0; i < 10_000 && err === undefined; i++) {
      await queue.enqueue({ type: "t", queue: "q", payload: { pad: "y".repeat(400) } }).catch((e: unknown) => { err = e; });
    }
    assert.ok(isFull(err), `enqueues are refused: ${String(err)}`);
    const jobs = countLive(q.store);
    const got: JobWithPayload[] = [];
    const taker = queue.take({ queues: ["q"], prefetch: 0, deliver: (j) => (got.push(j), true) });
    await eventually(() => got.length === jobs, 10_000, `${jobs} jobs delivered`);
    return { ...q, got, taker };
  }

  it("refuses nacks before they eat the room kept for acks (507, nothing changed); acks of every job keep working", async () => {
    const q = await fullWithJobsInFlight();
    const { queue, store, fs, got } = q;
    // An ack needs less than the room kept for it, so acks leave room nacks may use.
    const acked = 1000;
    for (const j of got.slice(0, acked)) await queue.complete(j.job.id);
    // Each nack writes its state and a ~8 KB error record. The old code took them until
    // the preallocated room ran out; then every write failed, acks included.
    const backtrace = "Error: boom\n" + "    at handler (/app/jobs/worker.js:10:5)\n".repeat(200);
    let nacked = 0;
    let refusal: unknown;
    for (const j of got.slice(acked)) {
      const r = await queue.fail(j.job.id, { message: `boom ${nacked}`, backtrace }).catch((e: unknown) => e);
      if (r instanceof Error) { refusal = r; break; }
      nacked++;
    }
    assert.ok(nacked > 0, "nacks are taken while there is room");
    assert.ok(isFull(refusal), `a nack is refused with a 507 (${nacked} of ${got.length} taken first): ${String(refusal)}`);
    assert.match((refusal as Error).message, /^storage is full: /);
    // The refused nack changed nothing: the job is still in flight on its stream.
    const refused = got[acked + nacked].job.id;
    const slot = store.table.slotById.get(refused)!;
    assert.equal(queue.get(refused).job.status, "in_flight");
    assert.equal(store.table.attempts[slot], 0);
    assert.equal(queue.errors(refused, { order: "asc", limit: 10 }).errors.length, 0, "no error record");
    // Every other job still in flight can be acked: the room kept for that is untouched.
    for (const j of got.slice(acked + nacked + 1)) await queue.complete(j.job.id);
    // The refused job is still held by its stream: the stream's end puts it back.
    q.taker.close();
    assert.equal(queue.get(refused).job.status, "ready");
    // Space is back: its nack works again (the first may still find no spare made yet).
    fs.clear();
    const got2: JobWithPayload[] = [];
    const taker2 = queue.take({ queues: ["q"], prefetch: 1, deliver: (j) => (got2.push(j), true) });
    await eventually(() => got2.find((j) => j.job.id === refused), 5000, "the refused job delivered again");
    const deadline = Date.now() + 10_000;
    for (;;) {
      const r = await queue.fail(refused, { message: "boom", backtrace }).catch((e: unknown) => e);
      if (!(r instanceof Error)) break;
      assert.ok(isFull(r) && Date.now() < deadline, `nack after space came back: ${String(r)}`);
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(queue.get(refused).job.attempts, 1);
    taker2.close();
    await close(q);
  });

  it("requeues a dropped stream's jobs without eating the room kept for acks (the record is refused, the jobs are ready)", async () => {
    const refusals: string[] = [];
    const q = await fullWithJobsInFlight((err, where) => { if (isFull(err)) refusals.push(where); });
    const { queue, store } = q;
    let taker = q.taker;
    // Each drop writes ~90 KB of META records (one per job) on the old code; repeated
    // drops used up the room, then every write failed, acks too. Now the records are
    // refused once they would use it, and the jobs are requeued all the same.
    let drops = 0;
    for (; drops < 40 && refusals.length === 0; drops++) {
      taker.close();
      assert.equal(countInFlight(store), 0, "the dropped stream's jobs are not in flight");
      const got: JobWithPayload[] = [];
      taker = queue.take({ queues: ["q"], prefetch: 0, deliver: (j) => (got.push(j), true) });
      await eventually(() => got.length === countLive(store), 10_000, "every job delivered again");
      // A record refused after this drop is reported at once (refusalFor is synchronous).
      await new Promise((resolve) => setImmediate(resolve));
    }
    taker.close();
    assert.equal(countInFlight(store), 0, "the jobs are not in flight");
    const got: JobWithPayload[] = [];
    taker = queue.take({ queues: ["q"], prefetch: 0, deliver: (j) => (got.push(j), true) });
    await eventually(() => got.length === countLive(store), 10_000, "every job delivered again");
    for (const j of got) await queue.complete(j.job.id);
    assert.deepEqual(refusals.slice(0, 1), ["recording requeued jobs"], `a requeue's record is refused after ${drops} drops`);
    taker.close();
    await close(q);
  });

  it("an expired lease the disk refuses to record leaves the job on its stream and is tried again one lease later", async () => {
    const refusals: string[] = [];
    const q = await fullWithJobsInFlight((err, where) => { if (isFull(err)) refusals.push(where); });
    const { queue, fs } = q;
    // Use up the room left with the smallest nacks (~200 bytes; an expiry's is ~220).
    let refused: unknown;
    for (const j of q.got) {
      refused = await queue.fail(j.job.id, { message: "x" }).then(() => undefined, (e: unknown) => e);
      if (refused) break;
    }
    assert.ok(isFull(refused), String(refused));
    q.taker.close();
    const got: JobWithPayload[] = [];
    const taker = queue.take({ queues: ["q"], prefetch: 1, leaseMs: 100, deliver: (j) => (got.push(j), true) });
    await eventually(() => got.length === 1, 5000, "a job delivered");
    const id = got[0].job.id;
    await eventually(() => refusals.some((w) => w === `expiring the lease of job ${id}`), 5000, "the expiry refused");
    assert.equal(queue.get(id).job.status, "in_flight");
    assert.equal(got.length, 1, "the stream's credit is still taken");
    // Space is back: the expiry goes through on a later try.
    fs.clear();
    // The new state shows at once, the error record once written: wait for both.
    await eventually(() => queue.get(id).job.status === "scheduled" && queue.errors(id, { order: "asc", limit: 10 }).errors.length > 0,
      10_000, "the expiry recorded");
    assert.equal(queue.get(id).job.attempts, 1);
    assert.match(queue.errors(id, { order: "asc", limit: 10 }).errors[0].message, /^lease expired after 100ms$/);
    taker.close();
    await close(q);
  });
});

describe("a report whose write fails with EIO after it began", () => {
  // The job left its stream when the write was taken; the store then undid its new state
  // (in flight again). The old code left it so, held by no stream, until a restart.
  const cases: [string, Record<string, unknown>, (queue: Queue, id: string) => Promise<unknown>][] = [
    ["a nack (rescheduled)", {}, (queue, id) => queue.fail(id, { message: "boom" })],
    ["a nack that kills (kept dead)", {}, (queue, id) => queue.fail(id, { message: "boom", kill: true })],
    ["a nack that kills, dead retention 0 (a delete)", { retention: { dead_ms: 0 } }, (queue, id) => queue.fail(id, { message: "boom", kill: true })],
    ["an ack (kept completed)", { retention: { completed_ms: 3_600_000 } }, (queue, id) => queue.complete(id)],
    ["an ack (a delete)", { retention: { completed_ms: 0 } }, (queue, id) => queue.complete(id)],
  ];
  for (const [what, options, report] of cases) {
    it(`${what}: the job goes back to ready and is delivered again, its attempt not counted`, async () => {
      const q = await open(tmpDir("zizq-report-eio-"));
      const { job } = await q.queue.enqueue({ type: "t", queue: "q", payload: null, unique_key: "u", ...options });
      const got: JobWithPayload[] = [];
      const taker = q.queue.take({ queues: ["q"], prefetch: 1, deliver: (j) => (got.push(j), true) });
      await eventually(() => got.length === 1, 5000, "the job delivered");
      q.fs.failWrite({ kind: "eio" });
      await assert.rejects(report(q.queue, job.id), (e: unknown) => e instanceof QueueError || isIo(e));
      await eventually(() => got.length === 2, 5000, "the job delivered again");
      assert.equal(got[1].job.id, job.id);
      assert.equal(q.queue.get(job.id).job.status, "in_flight");
      assert.equal(q.queue.get(job.id).job.attempts, 0);
      assert.equal(q.queue.errors(job.id, { order: "asc", limit: 10 }).errors.length, 0, "no error record");
      // The disk works again: the report lands.
      await report(q.queue, job.id);
      assert.notEqual(q.store.table.slotById.has(job.id) ? q.queue.get(job.id).job.status : "gone", "in_flight");
      taker.close();
      await close(q);
    });
  }
});

describe("the room kept for acks", () => {
  it("covers acks of jobs kept as completed with large options: on a full disk every ack lands and writes keep working", async () => {
    // 64 KiB segments: little slack beyond the reserve, so an ack that overruns its
    // share soon reaches a segment that could not be preallocated.
    const fs = new FaultyFs();
    const store = await openStore({ dir: tmpDir("zizq-reserve-options-"), segmentBytes: 64 * 1024, fs });
    const queue = createQueue(store, { reaperIntervalMs: 0, globalInFlightLimit: 10_000 });
    // Each completion META carries the job's options (~1 KB here). The old reserve, 154
    // bytes + 3 per name character, kept ~64 bytes for them.
    const key = "k".repeat(1000);
    const kept = 200;
    for (let i = 0; i < kept; i += 10) {
      await queue.enqueueBulk({ jobs: Array.from({ length: 10 }, (_, k) => ({
        type: "t", queue: "q", payload: { k }, unique_key: `${key}${i + k}`, retention: { completed_ms: 3_600_000 },
      })) });
    }
    fs.failWrite({ kind: "enospc", match: isPreallocation, persistent: true });
    let err: unknown;
    for (let i = 0; i < 10_000 && err === undefined; i++) {
      await queue.enqueue({ type: "t", queue: "q", payload: { pad: "y".repeat(400) } }).catch((e: unknown) => { err = e; });
    }
    assert.ok(isFull(err), `enqueues are refused: ${String(err)}`);
    const jobs = countLive(store);
    const got: JobWithPayload[] = [];
    const taker = queue.take({ queues: ["q"], prefetch: 0, deliver: (j) => (got.push(j), true) });
    await eventually(() => got.length === jobs, 10_000, `${jobs} jobs delivered`);
    // Acks of the kept jobs first (their META records), then of the others (DELETEs).
    const order = [...got.filter((j) => j.job.unique_key !== undefined), ...got.filter((j) => j.job.unique_key === undefined)];
    let acked = 0;
    for (const j of order) {
      await queue.complete(j.job.id).catch((e: unknown) => assert.fail(`ack ${acked + 1} of ${jobs}: ${String(e)}`));
      acked++;
    }
    assert.equal(countInFlight(store), 0);
    assert.equal(queue.get(order[0].job.id).job.status, "completed");
    // The completed jobs can still be deleted (a reap): their DELETE is kept room too.
    for (const j of order.slice(0, kept)) await queue.deleteOne(j.job.id);
    assert.equal(countLive(store), 0);
    assert.equal(store.writer.reservedBytes, 0, "nothing left reserved");
    // Space is back: enqueues work again (the first may still find no spare made yet).
    fs.clear();
    const deadline = Date.now() + 10_000;
    for (;;) {
      const r = await queue.enqueue({ type: "t", queue: "q", payload: null }).catch((e: unknown) => e);
      if (!(r instanceof Error)) break;
      assert.ok(isFull(r) && Date.now() < deadline, `enqueue after space came back: ${String(r)}`);
      await new Promise((resolve) => setImmediate(resolve));
    }
    taker.close();
    queue.stop();
    await store.close();
  });
});

function countInFlight(store: Store): number {
  let n = 0;
  store.table.forEachLive((slot) => { if (store.table.status[slot] === STATUS_IN_FLIGHT) n++; });
  return n;
}

function countLive(store: Store): number {
  let n = 0;
  store.table.forEachLive(() => { n++; });
  return n;
}
