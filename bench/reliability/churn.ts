// Part "churn": workers that die mid-job. Many take streams, each gets one job and its
// socket is destroyed without an ack (a worker killed mid-job); the server must give the
// job back. Measured: the requeue delay (socket destroyed → the job is ready again or
// already delivered to someone else) and, once every stream is gone, the jobs still
// in flight (stranded; must be 0) and the jobs that went missing (must be 0).

import { openTake, req } from "../../test/http/_client.ts";
import { tmpDir } from "../../test/helpers/tmp.ts";
import { percentile, round, start } from "./_harness.ts";

export interface ChurnOptions {
  streams: number;
  /** Streams open at once. @default 32 */
  concurrency?: number;
  /** Jobs in the queue. @default 2000 */
  jobs?: number;
  log?: (line: string) => void;
}

export interface ChurnResult {
  streamsKilled: number;
  acked: number;
  requeueMs: { p50: number; p99: number; max: number };
  stranded: number;
  missing: number;
}

export async function runChurn(options: ChurnOptions): Promise<ChurnResult> {
  const dir = tmpDir("zizq-rel-churn-");
  const { server } = await start(dir, []);
  const jobCount = options.jobs ?? 2000;
  for (let n = 0; n < jobCount; n += 500) {
    const jobs = Array.from({ length: Math.min(500, jobCount - n) }, (_, i) => ({ type: "churn", queue: "c", payload: { n: n + i } }));
    const r = await req(server.url, "POST", "/jobs/bulk", { jobs });
    if (r.status !== 201) throw new Error(`bulk: ${r.status} ${r.text}`);
  }
  const delays: number[] = [];
  let opened = 0;
  let acked = 0;
  const worker = async (w: number) => {
    for (let i = w; opened < options.streams; i++) {
      opened++;
      const stream = await openTake(server.url, "queue=c&prefetch=1", {}, 60_000);
      const job = await stream.job(0, 60_000);
      // One stream in 20 finishes its job properly, so the queue also drains a little.
      if (i % 20 === 0) {
        if ((await req(server.url, "POST", `/jobs/${job.id}/success`)).status === 204) acked++;
        await stream.close();
        continue;
      }
      await stream.close();
      const killedAt = performance.now();
      for (;;) {
        const r = await req(server.url, "GET", `/jobs/${job.id}`);
        if (r.status === 200 && (r.body!.status === "ready" || r.body!.dequeued_at !== job.dequeued_at)) break;
        // Gone: another worker got it again and acked it (so it was requeued first).
        if (r.status === 404) break;
        if (performance.now() - killedAt > 60_000) throw new Error(`job ${job.id} not requeued within 60 s`);
      }
      delays.push(performance.now() - killedAt);
      if (delays.length % 1000 === 0) options.log?.(`churn: ${delays.length} streams killed, requeue p99 ${round(percentile(delays, 99))} ms`);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 32 }, (_, w) => worker(w)));

  // Every stream is closed: nothing may stay in flight. Give the server a deadline to notice.
  const deadline = performance.now() + 30_000;
  let stranded = 0;
  for (;;) {
    stranded = (await req(server.url, "GET", "/jobs/count?status=in_flight")).body!.count as number;
    if (stranded === 0 || performance.now() > deadline) break;
  }
  const ready = (await req(server.url, "GET", "/jobs/count?status=ready")).body!.count as number;
  await server.stop();
  return {
    streamsKilled: delays.length,
    acked,
    requeueMs: { p50: round(percentile(delays, 50), 2), p99: round(percentile(delays, 99), 2), max: round(Math.max(...delays), 2) },
    stranded,
    missing: jobCount - acked - ready - stranded,
  };
}
