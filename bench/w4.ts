// W4: enqueue→take latency under a steady trickle. One process enqueues POST /jobs at
// 2,000 jobs/s for 10 s (--quick 3 s) with the send time in the payload, and a worker in
// the same process (same clock) takes them (prefetch 100) and bulk-acks; latency is
// receipt time minus send time. The first 1,000 jobs are warm-up and not counted.

import http from "node:http";
import {
  type BenchOptions, JSON_HEADERS, PAD, type Row, expectStatus, percentile, request, sleep, startZizq,
} from "./_lib.ts";

const RATE = 2000;
const WARMUP = 1000;

const now = () => performance.timeOrigin + performance.now();

export async function w4(opts: BenchOptions): Promise<Row> {
  const seconds = opts.quick ? 3 : 10;
  const total = WARMUP + RATE * seconds;
  const zizq = await startZizq("w4", opts);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const latencies: number[] = [];
  let received = 0;
  let pending: string[] = [];
  let flushQueued = false;
  const acks: Promise<unknown>[] = [];
  const flushAcks = () => {
    flushQueued = false;
    const ids = pending;
    pending = [];
    acks.push(request(agent, `${zizq.url}/jobs/success`, "POST", JSON.stringify({ ids }), JSON_HEADERS)
      .then((r) => expectStatus(r, 204)));
  };
  let take: http.ClientRequest | undefined;
  const allTaken = new Promise<void>((resolve, reject) => {
    take = http.get(`${zizq.url}/jobs/take?prefetch=100`, { headers: { accept: "application/x-ndjson" } }, (res) => {
      let rest = "";
      res.on("data", (chunk: Buffer) => {
        const at = now();
        const lines = (rest + chunk.toString("utf8")).split("\n");
        rest = lines.pop()!;
        for (const line of lines) {
          if (!line) continue;
          const job = JSON.parse(line) as { id: string; payload: { n: number; t: number } };
          if (job.payload.n >= WARMUP) latencies.push(at - job.payload.t);
          pending.push(job.id);
          if (++received === total) resolve();
        }
        if (!flushQueued && pending.length) {
          flushQueued = true;
          setImmediate(flushAcks);
        }
      });
      res.on("error", () => {});
    });
    take.on("error", reject);
  });
  try {
    await sleep(100); // the take stream is open before the first enqueue
    const started = performance.now();
    let sent = 0;
    const sends: Promise<unknown>[] = [];
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * RATE) + 1);
        for (; sent < due; sent++) {
          const body = `{"type":"bench","queue":"w4","payload":{"n":${sent},"pad":"${PAD}","t":${now()}}}`;
          sends.push(request(agent, `${zizq.url}/jobs`, "POST", body, JSON_HEADERS).then((r) => expectStatus(r, 201)));
        }
        if (sent === total) {
          clearInterval(tick);
          resolve();
        }
      }, 1);
    });
    await Promise.all(sends);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([allTaken, new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`W4: only ${received}/${total} taken`)), 10_000);
    })]);
    clearTimeout(timer);
    await sleep(10); // the last ack flush runs in setImmediate
    await Promise.all(acks); // before closing the stream, which would requeue unacked jobs
  } finally {
    take?.destroy();
    agent.destroy();
  }
  const res = await zizq.stop();
  const p50 = percentile(latencies, 50);
  const p99 = percentile(latencies, 99);
  return {
    workload: "W4 enqueue→take latency", mode: "buffered", opsPerSec: RATE, p50Ms: p50, p99Ms: p99, ...res,
    target: "p50 ≤ 0.5, p99 ≤ 2 ms", pass: p50 <= 0.5 && p99 <= 2, measured: `${latencies.length} jobs`,
  };
}
