// A Worker running at its concurrency limit for a long time keeps a flat heap. Its take
// loop used to wait for a free slot with Promise.race over the running handlers and a
// promise that settles only at shutdown; each race left a reaction on that promise, about
// 300 bytes a job for as long as the Worker ran (62 MB after 200k jobs). A fake client
// feeds jobs as fast as the loop takes them, so only the Worker's own memory is measured.

import assert from "node:assert/strict";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { test } from "node:test";
import { Job, Worker, type Client } from "../../lib/client/index.ts";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const JOBS = 100_000;

function fakeClient(total: number, onAllAcked: () => void): Pick<Client, "url" | "take" | "reportSuccessBulk" | "reportFailure"> {
  let acked = 0;
  const data = { type: "t", queue: "q", priority: 0, status: "in_flight" as const, readyAt: 0, attempts: 0, budgets: [] };
  const self = {
    url: "fake:",
    async take(options: { signal?: AbortSignal }) {
      return (async function* jobs() {
        for (let i = 0; i < total; i++) yield new Job(self as unknown as Client, { ...data, id: String(i) });
        // An idle stream, as a server's, until the Worker aborts it.
        await new Promise((_, reject) => options.signal?.addEventListener("abort", () => reject(new Error("aborted"))));
      })();
    },
    async reportSuccessBulk(ids: string[]) {
      acked += ids.length;
      if (acked === total) onAllAcked();
    },
    async reportFailure(): Promise<Job> {
      throw new Error("no failures here");
    },
  };
  return self as unknown as Pick<Client, "url" | "take" | "reportSuccessBulk" | "reportFailure">;
}

test("a Worker at its concurrency limit does not grow its heap with the jobs it has run", { timeout: 120_000 }, async () => {
  const heapAfter = async (jobs: number): Promise<number> => {
    let allAcked!: () => void;
    const acked = new Promise<void>((resolve) => { allAcked = resolve; });
    let measured = 0;
    // Handlers that finish on a later turn keep the Worker at its limit (4 running).
    const worker = new Worker({
      client: fakeClient(jobs, allAcked), concurrency: 4, logger: { info() {}, error() {} },
      handler: () => new Promise<void>((resolve) => setImmediate(resolve)),
    });
    const running = worker.run();
    await acked;
    gc();
    measured = process.memoryUsage().heapUsed;
    worker.kill();
    await running;
    return measured;
  };
  const small = await heapAfter(JOBS / 10);
  const large = await heapAfter(JOBS);
  const growthMb = (large - small) / 1e6;
  assert.ok(growthMb < 10, `the heap grew ${growthMb.toFixed(1)} MB between ${JOBS / 10} and ${JOBS} jobs`);
});
