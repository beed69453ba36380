// Client W1 (issue 8 §4): `client.enqueue()` from our Client, 16 calls in flight over its
// one h2c session, against a fresh `zizq serve`. Target ≥ 20,000 enqueues/s. The same run
// measures a bare node:http2 emulation of the official client (one session, 16 streams,
// the same bodies) as the reference, so host noise shows in both numbers.

import http2 from "node:http2";
import { type BenchOptions, PAD, type Row, clientPackage, cpuMicros, median, percentile, startZizq } from "./_lib.ts";

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
  const perRound = opts.quick ? 10_000 : 30_000;
  const rounds = opts.quick ? 1 : 3;
  const zizq = await startZizq("client-w1", opts);
  const { Client } = await clientPackage(); // the bundle users install, not tsx's transpile
  const client = new Client({ url: zizq.url });
  const raw = rawH2(zizq.url);
  const enqueue = (n: number) => client.enqueue({ type: "bench", queue: "w1client", payload: { n, pad: PAD } });
  // Interleaved rounds and medians: the host is shared, so one long run of each would
  // mostly measure who got the CPU when. Server CPU per call is the steadier figure.
  const ours: LoadResult[] = [];
  const bare: LoadResult[] = [];
  // Both sides' CPU per call: with the calls moving in lockstep, the rate is close to
  // 1 / (client + server µs per call) (docs/benchmarks.md, "Why Client W1 stays near 8k").
  const oursCpu: number[] = [];
  const bareCpu: number[] = [];
  const oursClient: number[] = [];
  const bareClient: number[] = [];
  const measured = async (send: (n: number) => Promise<unknown>, runs: LoadResult[], cpu: number[], client: number[]) => {
    const before = cpuMicros(zizq.pid);
    const mine = process.cpuUsage();
    runs.push(await drive(perRound, send));
    const used = process.cpuUsage(mine);
    cpu.push((cpuMicros(zizq.pid) - before) / perRound);
    client.push((used.user + used.system) / perRound);
  };
  try {
    await drive(5_000, raw.send); // warm-up (JIT), not counted
    await drive(5_000, enqueue);
    for (let i = 0; i < rounds; i++) {
      await measured(raw.send, bare, bareCpu, bareClient);
      await measured(enqueue, ours, oursCpu, oursClient);
    }
  } finally {
    raw.close();
    await client.close();
  }
  const res = await zizq.stop();
  const b = summary(bare);
  const o = summary(ours);
  const note = `${rounds}×${perRound} calls, 1 session, ${IN_FLIGHT} in flight`;
  return [
    {
      workload: "Client W1 raw node:http2", mode: "buffered", ...b, target: "reference",
      measured: `${note}; client CPU ${median(bareClient).toFixed(1)}, server CPU ${median(bareCpu).toFixed(1)} µs/call`,
    },
    {
      workload: "Client W1 client.enqueue", mode: "buffered", ...o, ...res,
      target: `≥ ${TARGET}`, pass: o.opsPerSec >= TARGET,
      measured: `${note}, ${((o.opsPerSec / b.opsPerSec) * 100).toFixed(0)}% of raw; client CPU ${median(oursClient).toFixed(1)}, server CPU ${median(oursCpu).toFixed(1)} µs/call`,
    },
  ];
}

const summary = (runs: LoadResult[]) => ({
  opsPerSec: median(runs.map((r) => r.opsPerSec)),
  p50Ms: median(runs.map((r) => percentile(r.latencies, 50))),
  p99Ms: median(runs.map((r) => percentile(r.latencies, 99))),
});
