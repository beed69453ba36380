// Client W1 (issue 8 §4): `client.enqueue()` from our Client, 16 calls in flight over its
// one h2c session, against a fresh `zizq serve`. Target ≥ 20,000 enqueues/s. The same run
// measures a bare node:http2 emulation of the official client (one session, 16 streams,
// the same bodies) as the reference, so host noise shows in both numbers.

import http2 from "node:http2";
import { Client } from "../lib/client/client.ts";
import { type BenchOptions, PAD, type Row, percentile, startZizq, withCpu } from "./_lib.ts";

const IN_FLIGHT = 16;
const TARGET = 20_000;

interface LoadResult { opsPerSec: number; latencies: number[] }

/** `total` calls of `send`, IN_FLIGHT at a time; latency per call in ms. */
async function drive(total: number, send: (n: number) => Promise<unknown>): Promise<LoadResult> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
    while (next < total) {
      const n = next++;
      const t = performance.now();
      await send(n);
      latencies.push(performance.now() - t);
    }
  }));
  return { opsPerSec: total / ((performance.now() - started) / 1000), latencies };
}

function rawH2(url: string): { send: (n: number) => Promise<void>; close: () => void } {
  const session = http2.connect(url);
  const send = (n: number) => new Promise<void>((resolve, reject) => {
    const req = session.request({ ":method": "POST", ":path": "/jobs", "content-type": "application/json", accept: "application/json" });
    req.on("response", () => {});
    req.on("data", () => {});
    req.on("end", resolve);
    req.on("error", reject);
    req.end(JSON.stringify({ type: "bench", queue: "w1raw", payload: { n, pad: PAD } }));
  });
  return { send, close: () => session.close() };
}

export async function clientW1(opts: BenchOptions): Promise<Row[]> {
  const total = opts.quick ? 20_000 : 100_000;
  const zizq = await startZizq("client-w1", opts);
  const client = new Client({ url: zizq.url });
  const raw = rawH2(zizq.url);
  const enqueue = (n: number) => client.enqueue({ type: "bench", queue: "w1client", payload: { n, pad: PAD } });
  let ours: LoadResult;
  let bare: LoadResult;
  let note: string;
  try {
    await drive(5_000, raw.send); // warm-up (JIT), not counted
    await drive(5_000, enqueue);
    bare = await drive(total, raw.send);
    const measured = await withCpu(zizq.pid, total, () => drive(total, enqueue));
    ours = measured.value;
    note = measured.note;
  } finally {
    raw.close();
    await client.close();
  }
  const res = await zizq.stop();
  return [
    {
      workload: "Client W1 raw node:http2", mode: "buffered", opsPerSec: bare.opsPerSec,
      p50Ms: percentile(bare.latencies, 50), p99Ms: percentile(bare.latencies, 99), target: "reference",
      measured: `${total} POST /jobs, 1 session, ${IN_FLIGHT} in flight`,
    },
    {
      workload: "Client W1 client.enqueue", mode: "buffered", opsPerSec: ours.opsPerSec,
      p50Ms: percentile(ours.latencies, 50), p99Ms: percentile(ours.latencies, 99), ...res,
      target: `≥ ${TARGET}`, pass: ours.opsPerSec >= TARGET,
      measured: `${total} jobs, ${IN_FLIGHT} in flight, ${((ours.opsPerSec / bare.opsPerSec) * 100).toFixed(0)}% of raw; ${note}`,
    },
  ];
}
