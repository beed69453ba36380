// Memory that grows with what a long-running process has seen, and takes among many
// queues: the numbers behind the CHANGELOG's "grew without bound" fixes, in one process
// over the sources (no server), each with a full GC before it is read.
//
//   node --expose-gc --import tsx bench/growth.ts
//
// - Worker at its concurrency limit: heap after 20k jobs, then after 200k more (a fake
//   client feeds jobs as fast as the Worker takes them; handlers finish a turn later).
// - A queue per tenant: heap growth after 50k queues each held one job, all acked.
// - Unique keys: heap growth and keys held after 200k keys of jobs that were deleted.
// - Take among many queues: 2,000 queues of 10 jobs, take+ack rate in jobs/s.
// Run it from a worktree of an older commit beside this one to compare builds.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Job, Worker, type Client } from "../lib/client/index.ts";
import { open } from "../lib/embedded/open.ts";
import { createQueue } from "../lib/queue/queue.ts";
import { openStore } from "../lib/storage/store.ts";
import { takeAndAckAll } from "../test/helpers/take-all.ts";

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with node --expose-gc");
const heapMb = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 1e6;
};
const scratch = (): string => fs.mkdtempSync(path.join(os.tmpdir(), "zizq-growth-"));
type WorkerClient = Pick<Client, "url" | "take" | "reportSuccessBulk" | "reportFailure">;

async function workerAtLimit(jobs: number): Promise<number> {
  let acked = 0;
  let allAcked!: () => void;
  const done = new Promise<void>((resolve) => { allAcked = resolve; });
  const data = { type: "t", queue: "q", priority: 0, status: "in_flight" as const, readyAt: 0, attempts: 0, budgets: [] };
  const client = {
    url: "fake:",
    async take(options: { signal?: AbortSignal }) {
      return (async function* feed() {
        for (let i = 0; i < jobs; i++) yield new Job(client as unknown as Client, { ...data, id: String(i) });
        await new Promise((_, reject) => options.signal?.addEventListener("abort", () => reject(new Error("aborted"))));
      })();
    },
    async reportSuccessBulk(ids: string[]) {
      if ((acked += ids.length) === jobs) allAcked();
    },
    async reportFailure(): Promise<Job> {
      throw new Error("no failures here");
    },
  };
  const worker = new Worker({
    client: client as unknown as WorkerClient, concurrency: 4, logger: { info() {}, error() {} },
    handler: () => new Promise<void>((resolve) => setImmediate(resolve)),
  });
  const running = worker.run();
  await done;
  const mb = heapMb();
  worker.kill();
  await running;
  return mb;
}

async function queuePerTenant(queues: number): Promise<number> {
  const dir = scratch();
  const queue = await open({ dir, reaperCheckIntervalMs: 0 });
  const before = heapMb();
  for (let i = 0; i < queues; i += 1000) {
    await queue.enqueueBulk(Array.from({ length: 1000 }, (_, j) => ({ type: "t", queue: `tenant-${i + j}`, payload: 1 })));
  }
  await takeAndAckAll(queue, queues);
  const growth = heapMb() - before;
  await queue.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return growth;
}

async function uniqueKeys(rounds: number, perRound: number): Promise<{ growth: number; held: number }> {
  const dir = scratch();
  const store = await openStore({ dir });
  const queue = createQueue(store, { reaperIntervalMs: 0 });
  const before = heapMb();
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < perRound; i += 1000) {
      await queue.enqueueBulk({ jobs: Array.from({ length: 1000 }, (_, j) => ({ type: "t", queue: "q", payload: 1, unique_key: `report:${r}:${i + j}` })) });
    }
    await queue.deleteMany({ queues: ["q"] });
  }
  const growth = heapMb() - before;
  const held = (queue as unknown as { ctx: { unique: { size?: number; holders?: Map<string, string> } } }).ctx.unique;
  queue.stop();
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return { growth, held: held.size ?? held.holders?.size ?? NaN };
}

async function takeAmongQueues(queues: number, perQueue: number): Promise<number> {
  const dir = scratch();
  const queue = await open({ dir, reaperCheckIntervalMs: 0 });
  const n = queues * perQueue;
  for (let i = 0; i < n; i += 1000) {
    await queue.enqueueBulk(Array.from({ length: 1000 }, (_, j) => ({ type: "t", queue: `tenant-${(i + j) % queues}`, payload: 1 })));
  }
  const started = performance.now();
  await takeAndAckAll(queue, n);
  const rate = n / ((performance.now() - started) / 1000);
  await queue.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return rate;
}

const small = await workerAtLimit(20_000);
const large = await workerAtLimit(200_000);
console.log(`Worker at its limit: heap ${small.toFixed(1)} MB after 20k jobs, ${large.toFixed(1)} MB after 200k`);
console.log(`queue per tenant: heap +${(await queuePerTenant(50_000)).toFixed(1)} MB after 50k queues held a job each (none left)`);
const keys = await uniqueKeys(20, 10_000);
console.log(`unique keys: heap +${keys.growth.toFixed(1)} MB, ${keys.held} keys held, after 200k keys of deleted jobs`);
console.log(`take among 2,000 queues × 10 jobs: ${Math.round(await takeAmongQueues(2000, 10))} jobs/s taken and acked`);
