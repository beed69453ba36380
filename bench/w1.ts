// W1: single POST /jobs under an external load generator.
// - HTTP/1.1: wrk -t1 -c16, alternating rounds against Zizq and a bare node:http handler
//   started in the same run (host noise is large here, so the ratio comes from
//   interleaved rounds and medians, not from one long run each).
// - h2c: one HTTP/2 session with 64 concurrent streams (h2load, or the Node client), with
//   a bare node:http2 handler as the reference.

import { type BenchOptions, type Row, cpuMicros, hasCommand, median, startZizq } from "./_lib.ts";
import {
  H2LOAD_HINT, type LoadResult, WRK_HINT, h2loadPost, nodeH2Post, startBare, wrkPost,
} from "./_loadgen.ts";

const medianOf = (runs: LoadResult[]): LoadResult => ({
  opsPerSec: median(runs.map((r) => r.opsPerSec)),
  p50Ms: median(runs.map((r) => r.p50Ms)),
  p99Ms: median(runs.map((r) => r.p99Ms)),
  failures: runs.reduce((s, r) => s + r.failures, 0),
});

export async function w1(opts: BenchOptions): Promise<Row[]> {
  if (!hasCommand("wrk")) {
    console.error(`W1: ${WRK_HINT}`);
    return [{ workload: "W1 POST /jobs", mode: "buffered", target: "≥ 80% of bare", measured: `skipped: ${WRK_HINT}` }];
  }
  const rounds = opts.quick ? 1 : 3;
  const seconds = opts.quick ? 3 : 5;
  const zizq = await startZizq("w1", opts);
  const bare = await startBare();
  const zRuns: LoadResult[] = [];
  const bRuns: LoadResult[] = [];
  // Server CPU per request (all threads): far steadier than req/s on a noisy shared host.
  const zCpu: number[] = [];
  const bCpu: number[] = [];
  const measured = async (url: string, pid: number, runs: LoadResult[], cpu: number[]) => {
    const before = cpuMicros(pid);
    const r = await wrkPost(`${url}/jobs`, seconds);
    runs.push(r);
    cpu.push((cpuMicros(pid) - before) / (r.opsPerSec * seconds));
  };
  try {
    await wrkPost(`${bare.url}/jobs`, opts.quick ? 1 : 2); // warm-up (JIT), not counted
    await wrkPost(`${zizq.url}/jobs`, opts.quick ? 1 : 2);
    for (let i = 0; i < rounds; i++) {
      await measured(bare.url, bare.child.pid!, bRuns, bCpu);
      await measured(zizq.url, zizq.pid, zRuns, zCpu);
    }
  } finally {
    await bare.stop();
  }
  const res = await zizq.stop();
  const b = medianOf(bRuns);
  const z = medianOf(zRuns);
  const ratio = z.opsPerSec / b.opsPerSec;
  const failed = z.failures > 0 ? `, ${z.failures} failed requests` : "";
  return [
    {
      workload: "W1 bare node:http", mode: "-", ...b, target: "reference",
      measured: `${rounds}×${seconds}s wrk -c16; server CPU ${median(bCpu).toFixed(1)} µs/req`,
    },
    {
      workload: "W1 POST /jobs", mode: "buffered", ...z, ...res,
      target: `≥ 80% of bare (${Math.round(0.8 * b.opsPerSec)})`,
      pass: ratio >= 0.8 && z.failures === 0,
      measured: `${(ratio * 100).toFixed(0)}% of bare${failed}; server CPU ${median(zCpu).toFixed(1)} µs/req`,
    },
  ];
}

export async function w1h2c(opts: BenchOptions): Promise<Row[]> {
  const useH2load = opts.h2Client === "h2load" || (opts.h2Client === "auto" && hasCommand("h2load"));
  if (opts.h2Client === "auto" && !useH2load) console.error(`W1-h2c: ${H2LOAD_HINT}`);
  const client = useH2load ? "h2load" : "node";
  const load = useH2load ? h2loadPost : nodeH2Post;
  const requests = opts.quick ? 30_000 : 150_000;
  const zizq = await startZizq("w1-h2c", opts);
  const bare = await startBare(true);
  let z: LoadResult;
  let b: LoadResult;
  let zCpu: number;
  let bCpu: number;
  try {
    await load(`${bare.url}/jobs`, 10_000); // warm-up
    let before = cpuMicros(bare.child.pid!);
    b = await load(`${bare.url}/jobs`, requests);
    bCpu = (cpuMicros(bare.child.pid!) - before) / requests;
    await load(`${zizq.url}/jobs`, 10_000);
    before = cpuMicros(zizq.pid);
    z = await load(`${zizq.url}/jobs`, requests);
    zCpu = (cpuMicros(zizq.pid) - before) / requests;
  } finally {
    await bare.stop();
  }
  const res = await zizq.stop();
  const note = `${client} -c1 -m64, ${requests} req`;
  return [
    { workload: "W1-h2c bare node:http2", mode: "-", ...b, target: "reference", measured: `${note}; server CPU ${bCpu.toFixed(1)} µs/req` },
    {
      workload: "W1-h2c POST /jobs", mode: "buffered", ...z, ...res,
      target: "≥ 25000", pass: z.opsPerSec >= 25_000 && z.failures === 0,
      measured: `${((z.opsPerSec / b.opsPerSec) * 100).toFixed(0)}% of bare${z.failures ? `, ${z.failures} failed` : ""}; server CPU ${zCpu.toFixed(1)} µs/req`,
    },
  ];
}
