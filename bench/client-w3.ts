// Client W3 (issue 8 §4): our Worker with a no-op handler at concurrency 64 drains
// pre-enqueued jobs from a fresh `zizq serve` (take stream + its bulk acks). Target ≥ 60,000
// jobs/s. The clock runs from run() to the last job acked (the server count reaching zero).
// Rows: the default prefetch (= concurrency, as the official Worker: at most 64 unacked
// jobs, so one ack round trip per 64 jobs) and prefetch 1000 (near the server's global
// in-flight cap of 1024), which is what a throughput-minded user would set.

import type { Format } from "../lib/client/types.ts";
import { type BenchOptions, type Row, clientPackage, preload, startZizq, withCpu } from "./_lib.ts";

const CONCURRENCY = 64;
const TARGET = 60_000;
const STALL_MS = 30_000;

export async function clientW3(opts: BenchOptions, format: Format, prefetch?: number): Promise<Row> {
  const total = opts.quick ? 30_000 : 100_000;
  const zizq = await startZizq(`client-w3-${format}-${prefetch ?? "default"}`, opts);
  await preload(zizq.url, "w3", total);
  const { Client, Worker } = await clientPackage(); // the bundle users install, not tsx's transpile
  const client = new Client({ url: zizq.url, format });
  let handled = 0;
  const quiet = { info: () => {}, error: (...args: unknown[]) => console.error(...args) };
  const worker = new Worker({ client, concurrency: CONCURRENCY, prefetch, logger: quiet, handler: () => { handled++; } });
  let seconds = NaN;
  let note = "";
  try {
    note = (await withCpu(zizq.pid, total, async () => {
      const started = performance.now();
      const running = worker.run();
      let lastProgress = Date.now();
      let lastHandled = 0;
      // Done = every job acked: the server has nothing ready or in flight left.
      for (;;) {
        await new Promise((r) => setTimeout(r, 20));
        if (handled !== lastHandled) [lastHandled, lastProgress] = [handled, Date.now()];
        if (handled >= total && (await client.countJobs({ status: ["ready", "in_flight"] })) === 0) break;
        if (Date.now() - lastProgress > STALL_MS) throw new Error(`Client W3 stalled at ${handled} handled`);
      }
      seconds = (performance.now() - started) / 1000;
      worker.stop();
      await running;
    })).note;
  } finally {
    worker.kill();
    await client.destroy();
  }
  const res = await zizq.stop();
  const opsPerSec = total / seconds;
  return {
    workload: `Client W3 Worker${format === "msgpack" ? " msgpack" : ""} prefetch ${prefetch ?? CONCURRENCY}`, mode: "buffered", opsPerSec, ...res,
    target: `≥ ${TARGET}`, pass: opsPerSec >= TARGET,
    measured: `${total} jobs, concurrency ${CONCURRENCY}, no-op handler; ${note}`,
  };
}
