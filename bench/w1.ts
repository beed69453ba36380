// W1: single POST /jobs under an external load generator.
// - HTTP/1.1: wrk -t1 -c16, alternating rounds against Zizq and a bare node:http handler
//   started in the same run (host noise is large here, so the ratio comes from
//   interleaved rounds and medians, not from one long run each).
// - h2c: one HTTP/2 session with 64 concurrent streams (h2load, or the Node client), with
//   a bare node:http2 handler as the reference.

import { type BenchOptions, type Row, hasCommand, median, startZizq } from "./_lib.ts";
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
  try {
    await wrkPost(`${bare.url}/jobs`, opts.quick ? 1 : 2); // warm-up (JIT), not counted
    await wrkPost(`${zizq.url}/jobs`, opts.quick ? 1 : 2);
    for (let i = 0; i < rounds; i++) {
      bRuns.push(await wrkPost(`${bare.url}/jobs`, seconds));
      zRuns.push(await wrkPost(`${zizq.url}/jobs`, seconds));
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
    { workload: "W1 bare node:http", mode: "-", ...b, target: "reference", measured: `${rounds}×${seconds}s wrk -c16` },
    {
      workload: "W1 POST /jobs", mode: "buffered", ...z, ...res,
      target: `≥ 80% of bare (${Math.round(0.8 * b.opsPerSec)})`,
      pass: ratio >= 0.8 && z.failures === 0,
      measured: `${(ratio * 100).toFixed(0)}% of bare${failed}`,
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
  try {
    await load(`${bare.url}/jobs`, 10_000); // warm-up
    b = await load(`${bare.url}/jobs`, requests);
    await load(`${zizq.url}/jobs`, 10_000);
    z = await load(`${zizq.url}/jobs`, requests);
  } finally {
    await bare.stop();
  }
  const res = await zizq.stop();
  const note = `${client} -c1 -m64, ${requests} req`;
  return [
    { workload: "W1-h2c bare node:http2", mode: "-", ...b, target: "reference", measured: note },
    {
      workload: "W1-h2c POST /jobs", mode: "buffered", ...z, ...res,
      target: "≥ 25000", pass: z.opsPerSec >= 25_000 && z.failures === 0,
      measured: `${((z.opsPerSec / b.opsPerSec) * 100).toFixed(0)}% of bare${z.failures ? `, ${z.failures} failed` : ""}`,
    },
  ];
}
