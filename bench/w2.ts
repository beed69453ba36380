// W2: POST /jobs/bulk in batches of 1,000 (200,000 jobs; --quick 50,000), four requests
// in flight over keep-alive HTTP/1.1. Bodies are built before the clock starts, so the
// client's own JSON work is not measured. p50/p99 are per bulk request.

import http from "node:http";
import {
  type BenchOptions, JSON_HEADERS, type Row, bulkBody, expectStatus, percentile, request, startZizq, withCpu,
} from "./_lib.ts";

const BATCH = 1000;
const CONCURRENCY = 4;

export async function w2(opts: BenchOptions, mode: "buffered" | "fsync"): Promise<Row> {
  const total = opts.quick ? 50_000 : 200_000;
  const bodies = Array.from({ length: total / BATCH }, (_, i) => bulkBody("w2", i * BATCH, BATCH));
  const zizq = await startZizq(`w2-${mode}`, opts, ["--default-commit-mode", mode]);
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const latencies: number[] = [];
  let next = 0;
  let seconds = NaN;
  let cpuNote = "";
  try {
    // Warm-up: one batch per connection (opens the sockets, compiles the hot path).
    await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) =>
      request(agent, `${zizq.url}/jobs/bulk`, "POST", bulkBody("w2-warm", i * BATCH, BATCH), JSON_HEADERS)));
    const started = performance.now();
    const lane = async () => {
      while (next < bodies.length) {
        const body = bodies[next++];
        const r = expectStatus(await request(agent, `${zizq.url}/jobs/bulk`, "POST", body, JSON_HEADERS), 201);
        latencies.push(r.ms);
      }
    };
    cpuNote = (await withCpu(zizq.pid, total, () => Promise.all(Array.from({ length: CONCURRENCY }, lane)))).note;
    seconds = (performance.now() - started) / 1000;
  } finally {
    agent.destroy();
  }
  const res = await zizq.stop();
  const target = mode === "fsync" ? 50_000 : 150_000;
  const opsPerSec = total / seconds;
  return {
    workload: "W2 POST /jobs/bulk ×1000", mode, opsPerSec, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99),
    ...res, target: `≥ ${target}`, pass: opsPerSec >= target, measured: `${total} jobs; ${cpuNote}`,
  };
}

/**
 * W2-single (issue 13): one producer, one 1,000-job bulk request in flight, against a
 * freshly started server with no warm-up, the client building each body as it goes (its
 * time is in the wall clock). Server CPU per job is from the fresh process.
 */
export async function w2Single(opts: BenchOptions): Promise<Row> {
  const total = opts.quick ? 50_000 : 200_000;
  const zizq = await startZizq("w2-single", opts, []);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const latencies: number[] = [];
  const started = performance.now();
  let cpu: { note: string; serverUs: number };
  try {
    cpu = await withCpu(zizq.pid, total, async () => {
      for (let i = 0; i < total; i += BATCH) {
        const r = expectStatus(await request(agent, `${zizq.url}/jobs/bulk`, "POST", bulkBody("w2s", i, BATCH), JSON_HEADERS), 201);
        latencies.push(r.ms);
      }
    });
  } finally {
    agent.destroy();
  }
  const opsPerSec = total / ((performance.now() - started) / 1000);
  const res = await zizq.stop();
  return {
    workload: "W2-single one bulk ×1000 in flight, fresh", mode: "buffered", opsPerSec, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99),
    ...res, target: "≥ 120,000 and ≤ 6 µs/job", pass: opsPerSec >= 120_000 && cpu.serverUs <= 6, measured: `${total} jobs; ${cpu.note}`,
  };
}
