// A reset is applied to memory when its record lands (a refused one changes nothing), so
// every write racing it must land, and show in memory, on the same side of it; and two
// background writes that a full disk or a small segment once broke. Real store and files;
// the fault port holds chosen writes at gates; waits are bounded turns or deadlines.

import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { type Queue, type QueueOptions, createQueue } from "../../lib/queue/queue.ts";
import type { JobWithPayload as TakenJob } from "../../lib/queue/types.ts";
import { type Store, openStore } from "../../lib/storage/store.ts";
import { FaultyFs, gate, isPreallocation } from "../helpers/faulty-fs.ts";
import { eventually } from "../helpers/server.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";

after(cleanupTmp);

const policy = { allocation: 5, strategy: { type: "while_in_flight" } };

/** Runs ready callbacks until `done()` or `max` event-loop turns. */
async function turnsUntil(done: () => boolean, max = 1000): Promise<void> {
  for (let i = 0; i < max && !done(); i++) await new Promise((resolve) => setImmediate(resolve));
}

async function reopened<T>(dir: string, look: (queue: Queue, store: Store) => T): Promise<T> {
  const store = await openStore({ dir, segmentBytes: 1024 * 1024 });
  const queue = createQueue(store, { reaperIntervalMs: 0 });
  try {
    return look(queue, store);
  } finally {
    queue.stop();
    await store.close();
  }
}

interface Rig {
  dir: string;
  fs: FaultyFs;
  store: Store;
  queue: Queue;
}

/** A queue over a real store in a new dir, through the fault port; stopped and closed after `body`. */
async function withQueue(body: (r: Rig) => Promise<void>, options: { segmentBytes?: number; queue?: QueueOptions } = {}): Promise<void> {
  const dir = tmpDir();
  const fs = new FaultyFs();
  const store = await openStore({ dir, segmentBytes: options.segmentBytes ?? 1024 * 1024, fs });
  const queue = createQueue(store, { reaperIntervalMs: 0, ...options.queue });
  try {
    await body({ dir, fs, store, queue });
  } finally {
    queue.stop();
    await store.close().catch(() => {}); // some tests close it themselves, to reopen the dir
  }
}

/** A take stream on `queues` keeping what it is handed. */
function collect(queue: Queue, queues: string[], prefetch: number): { got: TakenJob[]; close(): void } {
  const got: TakenJob[] = [];
  const taker = queue.take({ queues, prefetch, deliver: (j) => (got.push(j), true) });
  return { got, close: () => taker.close() };
}

describe("writes racing a reset", () => {
  for (const what of ["budget", "pause"] as const) {
    it(`a ${what} write appended with the reset: served after it if and only if a restart has it`, () => withQueue(async ({ dir, fs, store, queue }) => {
      const servedBy = (q: Queue) => (what === "budget" ? q.budgets.list().map((b) => b.key)
        : q.queueStates().filter((s) => s.paused).map((s) => s.name));
      await queue.enqueue({ type: "t", queue: "q", payload: 1 });
      // An unrelated write is held, so the next appends wait for the same batch.
      const held = gate();
      const reached = fs.failWrite({ kind: "pass", gate: held.promise });
      const other = queue.enqueue({ type: "t", queue: "q", payload: 2 });
      await reached;
      const write = what === "budget" ? queue.budgets.create("B", policy) : queue.setPaused("p", true);
      const pending = () => (store.writer as unknown as { pending: unknown[] }).pending.length;
      await turnsUntil(() => pending() > 0);
      const reset = queue.reset();
      await turnsUntil(() => pending() > 1);
      held.open();
      await Promise.allSettled([write, reset, other]);
      const now = servedBy(queue);
      queue.stop();
      await store.close();
      assert.deepEqual(await reopened(dir, servedBy), now, "served before the restart, and after it");
    }));
  }

  it("an enqueue bound to an existing budget, still writing when a reset comes: no job is left without its budget", () => withQueue(async ({ store, queue }) => {
    await queue.budgets.create("K", policy);
    // The bound enqueue's write waits (as for a spare being made on a nearly full disk).
    const held = gate();
    const insert = store.insert.bind(store);
    let waiting = false;
    store.insert = async (...args: Parameters<Store["insert"]>) => {
      waiting = true;
      await held.promise;
      return insert(...args);
    };
    const bound = queue.enqueue({ type: "t", queue: "q", payload: "bound", budgets: [{ key: "K", cost: 1 }] });
    await turnsUntil(() => waiting);
    store.insert = insert;
    const reset = queue.reset();
    await turnsUntil(() => false, 50);
    held.open();
    await Promise.all([bound, reset]);
    // Either the reset came after the job (both gone) or before it (the budget with it).
    const jobs = (await queue.list({ filter: {}, order: "asc", limit: 10 })).jobs;
    for (const j of jobs) {
      for (const b of j.job.budgets ?? []) assert.ok(queue.budgets.list().some((x) => x.key === b.key), `job ${j.job.id} draws on '${b.key}', which is gone`);
    }
  }));

  it("a keyed enqueue with create_with during a reset: its budget is served, delivered, and kept", () => withQueue(async ({ dir, fs, store, queue }) => {
    await queue.enqueue({ type: "t", queue: "q", payload: 0 });
    const held = gate();
    const reached = fs.failWrite({ kind: "pass", gate: held.promise });
    const reset = queue.reset();
    await reached; // the RESET record is being written
    const enqueued = queue.enqueue({ type: "t", queue: "q", payload: 1, unique_key: "u", budgets: [{ key: "K", create_with: policy }] });
    await turnsUntil(() => false, 20);
    held.open();
    await reset;
    const { job } = await enqueued;
    assert.deepEqual(queue.budgets.list().map((b) => b.key), ["K"], "the job's budget is served");
    const taker = collect(queue, ["q"], 0);
    await eventually(() => taker.got.some((j) => j.job.id === job.id), 10_000, "the job delivered");
    taker.close();
    queue.stop();
    await store.close();
    assert.deepEqual(await reopened(dir, (q) => q.budgets.list().map((b) => b.key)), ["K"]);
  }));
});

describe("background writes", () => {
  it("a dropped stream of 1,000 jobs on 64 KiB segments: requeued, nothing thrown, the records written", async () => {
    const errors: string[] = [];
    const onError = (e: unknown, where: string) => errors.push(`${where}: ${(e as Error).message}`);
    await withQueue(async ({ store, queue }) => {
      for (let i = 0; i < 10; i++) await queue.enqueueBulk({ jobs: Array.from({ length: 100 }, (_, k) => ({ type: "t", queue: "q", payload: k })) });
      const taker = collect(queue, ["q"], 0);
      await eventually(() => taker.got.length === 1000, 10_000, "1,000 delivered");
      taker.close(); // threw "a 92009-byte record does not fit in a segment"
      assert.equal(queue.stats().ready, 1000);
      await store.flush();
      assert.deepEqual(errors, []);
    }, { segmentBytes: 64 * 1024, queue: { globalInFlightLimit: 10_000, onError } });
  });

  it("DELETE of an in-flight job whose write fails with EIO puts it back to ready (it stayed in flight with no stream)", () => withQueue(async ({ fs, queue }) => {
    const { job } = await queue.enqueue({ type: "t", queue: "q", payload: null });
    const taker = collect(queue, ["q"], 1);
    await eventually(() => taker.got.length === 1, 10_000, "delivered");
    fs.failWrite({ kind: "eio" });
    await assert.rejects(queue.deleteOne(job.id));
    taker.close();
    const next = collect(queue, ["q"], 1);
    await eventually(() => next.got.length === 1, 10_000, "delivered again");
    next.close();
  }));

  it("a poison job's last abandonment on a full disk kills it (it was handed out again)", () => withQueue(async ({ fs, store, queue }) => {
    for (let i = 0; i < 4; i++) await queue.enqueueBulk({ jobs: Array.from({ length: 200 }, (_, k) => ({ type: "t", queue: "q", payload: { k, pad: "x".repeat(400) } })) });
    const before = store.writer.reservedBytes;
    const { job: poison } = await queue.enqueue({ type: "t", queue: "poison", payload: 1 });
    const reserve = store.writer.reservedBytes - before;
    // A full disk: no spare can be made; enqueue until refused, then nack until refused,
    // so no room is left beyond what is kept for acks.
    fs.failWrite({ kind: "enospc", match: isPreallocation, persistent: true });
    for (let i = 0; i < 10_000; i++) {
      if ((await queue.enqueue({ type: "t", queue: "q", payload: { pad: "y".repeat(400) } }).catch((e: Error) => e)) instanceof Error) break;
    }
    const taker = collect(queue, ["q"], 0);
    let refused = false;
    while (!refused) {
      await eventually(() => taker.got.length > 0, 10_000, "a job to nack");
      for (const j of taker.got.splice(0)) {
        if ((await queue.fail(j.job.id, { message: "x", retry_at: 0 }).catch((e: Error) => e)) instanceof Error) {
          refused = true;
          break;
        }
      }
    }
    taker.close();
    // The poison job is delivered, and its stream drops: the one abandonment allowed.
    const stream = collect(queue, ["poison"], 1);
    await eventually(() => stream.got.length === 1, 10_000, "the poison job delivered");
    await store.flush();
    const appended = store.writer.appendedBytes;
    stream.close();
    await eventually(() => queue.get(poison.id).job.status === "dead", 10_000, "the poison job dead");
    await store.flush();
    // Its reserve kept room for its completion and the DELETE that reaps it: the kill
    // (the dead state, with no error record on a full disk) fits what is left of it.
    assert.ok(store.writer.appendedBytes - appended <= reserve - 34, `the kill wrote ${store.writer.appendedBytes - appended} bytes; reserve ${reserve}`);
  }, { queue: { maxAbandons: 1, globalInFlightLimit: 10_000, onError: () => {} } }));
});
