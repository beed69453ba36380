// E: the embedded queue in-process (issue 8 §4, target ≥ 300k jobs/s): enqueue N jobs
// with enqueueBulk (batches of 1,000, four in flight, the bench payload), then take them on one stream
// (prefetch 1,000) and ack them with reportSuccessBulk (batches of 500, one in flight).
// ops/s = N / (enqueue time + take-and-ack time); each phase's own rate is in `measured`,
// with the rate per CPU second of this process beside it (the honest figure on a busy box).
// A second row does the take-and-ack half with the Worker (no-op handler, concurrency 64).

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { open } from "../lib/embedded/open.ts";
import { type BenchOptions, PAD, type Row, clientPackage, embeddedPackage } from "./_lib.ts";

const TARGET = 300_000;
const kfmt = (n: number) => `${Math.round(n / 1000)}k/s`;

/** Bulk enqueues of 1,000, four in flight (an app enqueuing from several requests at once). */
async function enqueueAll(queue: Awaited<ReturnType<typeof open>>, name: string, n: number): Promise<number> {
  const started = performance.now();
  const inFlight = new Set<Promise<unknown>>();
  for (let i = 0; i < n; i += 1000) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + 1000); j++) batch.push({ type: "bench", queue: name, payload: { n: j, pad: PAD } });
    const p = queue.enqueueBulk(batch).finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= 4) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  return (performance.now() - started) / 1000;
}

async function run(n: number, mode: "stream" | "worker"): Promise<Row> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zizq-bench-embedded-"));
  // The package as users install it (the bundle under `npm run bench`), not tsx's transpile.
  const [{ open }, { Worker }] = await Promise.all([embeddedPackage(), clientPackage()]);
  const queue = await open({ dir });
  try {
    const cpu0 = process.cpuUsage();
    const enqueueS = await enqueueAll(queue, "bench", n);
    const cpu1 = process.cpuUsage();
    const started = performance.now();
    if (mode === "stream") {
      let ids: string[] = [];
      let acking: Promise<void> = Promise.resolve();
      let taken = 0;
      for await (const job of await queue.take({ prefetch: 1000 })) {
        ids.push(job.id);
        taken++;
        if (ids.length === 500 || taken === n) {
          await acking;
          acking = queue.reportSuccessBulk(ids);
          ids = [];
        }
        if (taken === n) break;
      }
      await acking;
    } else {
      let handled = 0;
      let allHandled!: () => void;
      const finished = new Promise<void>((resolve) => { allHandled = resolve; });
      const handler = () => {
        if (++handled === n) allHandled();
      };
      const worker = new Worker({ client: queue, concurrency: 64, handler, logger: { info() {}, error() {} } });
      const done = worker.run();
      await finished;
      worker.stop(); // flushes the last acks before run() resolves
      await done;
    }
    const takeS = (performance.now() - started) / 1000;
    const cpu2 = process.cpuUsage();
    // On a busy machine wall time measures the neighbours; jobs per CPU second of this
    // process (main thread and libuv's I/O threads) is the rate an idle core would give.
    const cpuS = (a: NodeJS.CpuUsage, b: NodeJS.CpuUsage) => (b.user - a.user + b.system - a.system) / 1e6;
    const left = await queue.countJobs();
    const total = n / (enqueueS + takeS);
    return {
      workload: mode === "stream" ? "E embedded" : "E embedded Worker",
      mode: "buffered",
      opsPerSec: total,
      target: mode === "stream" ? `≥ ${kfmt(TARGET)} enqueue+take+ack` : "-",
      pass: mode === "stream" ? total >= TARGET && left === 0 : undefined,
      measured: `enqueue ${kfmt(n / enqueueS)} (cpu ${kfmt(n / cpuS(cpu0, cpu1))}), take+ack ${kfmt(n / takeS)} `
        + `(cpu ${kfmt(n / cpuS(cpu1, cpu2))}), all cpu ${kfmt(n / cpuS(cpu0, cpu2))}, ${n} jobs${left ? `, ${left} LEFT` : ""}`,
      peakRssMb: process.memoryUsage().rss / 1e6,
    };
  } finally {
    await queue.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function embedded(o: BenchOptions): Promise<Row[]> {
  const n = o.quick ? 50_000 : 200_000;
  return [await run(n, "stream"), await run(n, "worker")];
}
