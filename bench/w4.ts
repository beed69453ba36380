// W4: enqueue→take latency under a steady trickle. One process enqueues POST /jobs at
// 2,000 jobs/s for 10 s (--quick 3 s) with the send time in the payload, and a worker in
// the same process (same clock) takes them (prefetch 100) and bulk-acks; latency is
// receipt time minus send time. A warm-up phase (2,000 jobs at the same rate, not counted)
// runs first and is drained completely: a cold server compiles its hot path on the first
// requests (~0.3 s here), and the backlog that builds meanwhile is not steady state.
// "cold W4" (issue 13) is the same on a fresh server with no warm-up traffic from the bench
// and prefetch 1,000: what a user meets right after a start; it also prints p50/p99/max
// per second. It runs twice: as `zizq serve` starts by default, and with `--warm-up`
// (the server drives its own hot paths before `ready`, lib/cli/_warm-up.ts).

import fs from "node:fs";
import http from "node:http";
import {
  type BenchOptions, JSON_HEADERS, PAD, type Row, cpuMicros, expectStatus, percentile, request, sleep, startZizq,
} from "./_lib.ts";

const RATE = 2000;
const WARMUP = 2000;

const now = () => performance.timeOrigin + performance.now();

export async function w4(opts: BenchOptions, cold = false, warmUp = false): Promise<Row> {
  const seconds = opts.quick ? 3 : 10;
  const warmup = cold ? 0 : WARMUP;
  const total = warmup + RATE * seconds;
  let phaseEnd = warmup;
  const sentAt: number[] = [];
  let phaseDone: (() => void) | undefined;
  const zizq = await startZizq(cold ? "w4-cold" : "w4", opts, warmUp ? ["--warm-up"] : []);
  // Machine-independent signs of a cold phase: server CPU, and bytes the server wrote
  // (wchar: log records plus preallocation zeros plus responses).
  const io = () => Number(/^wchar: (\d+)/m.exec(fs.readFileSync(`/proc/${zizq.pid}/io`, "utf8"))?.[1] ?? NaN);
  const cpu0 = cpuMicros(zizq.pid);
  const io0 = io();
  let ioNote = "";
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const latencies: number[] = [];
  let received = 0;
  let pending: string[] = [];
  let flushQueued = false;
  const acks: Promise<unknown>[] = [];
  /** Keep `p` for a later await, but never let it count as an unhandled rejection meanwhile. */
  const track = (list: Promise<unknown>[], p: Promise<unknown>) => {
    p.catch(() => {});
    list.push(p);
  };
  const flushAcks = () => {
    flushQueued = false;
    const ids = pending;
    pending = [];
    track(acks, request(agent, `${zizq.url}/jobs/success`, "POST", JSON.stringify({ ids }), JSON_HEADERS)
      .then((r) => expectStatus(r, 204)));
  };
  let take: http.ClientRequest | undefined;
  const streamFailed = new Promise<never>((_, reject) => {
    take = http.get(`${zizq.url}/jobs/take?prefetch=${cold ? 1000 : 100}`, { headers: { accept: "application/x-ndjson" } }, (res) => {
      let rest = "";
      res.on("data", (chunk: Buffer) => {
        const at = now();
        const lines = (rest + chunk.toString("utf8")).split("\n");
        rest = lines.pop()!;
        for (const line of lines) {
          if (!line) continue;
          const job = JSON.parse(line) as { id: string; payload: { n: number; t: number } };
          if (job.payload.n >= warmup) {
            latencies.push(at - job.payload.t);
            sentAt.push(job.payload.t);
          }
          pending.push(job.id);
          if (++received === phaseEnd) phaseDone?.();
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
  streamFailed.catch(() => {});
  try {
    await sleep(100); // the take stream is open before the first enqueue
    const sends: Promise<unknown>[] = [];
    /** Enqueue jobs [from, to) at RATE; resolves when all of them were taken. */
    const phase = async (from: number, to: number) => {
      phaseEnd = to;
      const taken = new Promise<void>((resolve) => (phaseDone = resolve));
      const started = performance.now();
      let sent = from;
      await new Promise<void>((resolve) => {
        const tick = setInterval(() => {
          const due = Math.min(to, from + Math.floor(((performance.now() - started) / 1000) * RATE) + 1);
          for (; sent < due; sent++) {
            const body = `{"type":"bench","queue":"w4","payload":{"n":${sent},"pad":"${PAD}","t":${now()}}}`;
            track(sends, request(agent, `${zizq.url}/jobs`, "POST", body, JSON_HEADERS).then((r) => expectStatus(r, 201)));
          }
          if (sent === to) {
            clearInterval(tick);
            resolve();
          }
        }, 1);
      });
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([taken, streamFailed, new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`W4: only ${received}/${to} taken`)), 10_000);
      })]);
      clearTimeout(timer);
    };
    if (warmup > 0) await phase(0, warmup);
    await phase(warmup, total);
    await Promise.all(sends);
    await sleep(10); // the last ack flush runs in setImmediate
    await Promise.all(acks); // before closing the stream, which would requeue unacked jobs
    ioNote = `server CPU ${((cpuMicros(zizq.pid) - cpu0) / 1000).toFixed(0)} ms, wrote ${((io() - io0) / 1048576).toFixed(1)} MiB`;
  } finally {
    take?.destroy();
    agent.destroy();
  }
  const res = await zizq.stop();
  const p50 = percentile(latencies, 50);
  const p99 = percentile(latencies, 99);
  const max = Math.max(...latencies);
  if (cold) {
    // Per second of sending: p50 / p99 / max, to see how long a cold phase lasts.
    const first = Math.min(...sentAt);
    const buckets: number[][] = [];
    latencies.forEach((ms, i) => (buckets[Math.floor((sentAt[i] - first) / 1000)] ??= []).push(ms));
    console.error("cold W4 per second (p50/p99/max ms):");
    buckets.forEach((b, sec) => console.error(`  ${sec}s: ${percentile(b, 50).toFixed(2)} / ${percentile(b, 99).toFixed(2)} / ${Math.max(...b).toFixed(2)}  (${b.length})`));
    return {
      workload: `W4 cold (fresh server${warmUp ? ", --warm-up" : ""})`, mode: "buffered", opsPerSec: RATE, p50Ms: p50, p99Ms: p99, ...res,
      target: "p99 ≤ 5, max ≤ 20 ms", pass: p99 <= 5 && max <= 20, measured: `max ${max.toFixed(1)} ms, ${latencies.length} jobs; ${ioNote}`,
    };
  }
  return {
    workload: "W4 enqueue→take latency", mode: "buffered", opsPerSec: RATE, p50Ms: p50, p99Ms: p99, ...res,
    target: "p50 ≤ 0.5, p99 ≤ 2 ms", pass: p50 <= 0.5 && p99 <= 2, measured: `${latencies.length} jobs`,
  };
}
