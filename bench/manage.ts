// Issue 4 numbers and the memory target, on one server holding 1,000,000 jobs
// (--quick 200,000) in two queues: "big" (90%) and "small" (10%, the jq count's 100k).
// Order: bulk load → RSS with every job ready → count latency → jq-filtered count →
// scan every job through `GET /jobs?limit=2000` following pages.next → DELETE /jobs?queue=big.
// Event-loop stalls come from the server's ZIZQ_DEBUG_LOOP_DELAY=1 log events.

import http from "node:http";
import {
  type BenchOptions, type BenchServer, type Row, expectStatus, median, percentile, preload, request, sleep, startZizq,
} from "./_lib.ts";

interface LoopDelay { max_ms: number; p99_ms: number }

/** Runs `fn` bracketed by SIGUSR2 reports; returns the worst loop delay seen while it ran. */
async function withLoopDelay<T>(server: BenchServer, fn: () => Promise<T>): Promise<{ value: T; stall: LoopDelay }> {
  const events = () => server.server.logs().split("\n")
    .filter((l) => l.includes('"loop_delay"'))
    .map((l) => JSON.parse(l) as LoopDelay & { reason: string });
  const mark = async () => {
    const before = events().filter((e) => e.reason === "signal").length;
    process.kill(server.pid, "SIGUSR2");
    for (let i = 0; i < 500 && events().filter((e) => e.reason === "signal").length === before; i++) await sleep(10);
    return events().length;
  };
  const from = await mark(); // resets the window: earlier stalls are not ours
  const value = await fn();
  const to = await mark();
  const mine = events().slice(from, to);
  return {
    value,
    stall: { max_ms: Math.max(...mine.map((e) => e.max_ms)), p99_ms: Math.max(...mine.map((e) => e.p99_ms)) },
  };
}

const get = async (agent: http.Agent, url: string) => JSON.parse(expectStatus(await request(agent, url, "GET")).body.toString());

export async function manage(opts: BenchOptions): Promise<Row[]> {
  const total = opts.quick ? 200_000 : 1_000_000;
  const small = total / 10;
  const big = total - small;
  const zizq = await startZizq("manage", opts, [], { ZIZQ_DEBUG_LOOP_DELAY: "1" });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const rows: Row[] = [];
  const scale = opts.quick ? ` (quick: ${total / 1000}k)` : "";
  try {
    const loadStart = performance.now();
    await preload(zizq.url, "big", big);
    await preload(zizq.url, "small", small, 1000, 4, big);
    const loadSeconds = (performance.now() - loadStart) / 1000;
    await sleep(2000); // let the commit batch, compaction and GC settle
    const { rssMb } = zizq.memory();
    rows.push({
      workload: `memory, ${total / 1000}k ready jobs`, mode: "buffered", opsPerSec: total / loadSeconds,
      target: "RSS ≤ 250 MB", pass: rssMb <= 250, measured: `RSS ${rssMb.toFixed(0)} MB; ops/s = bulk load`,
    });

    const countMs: number[] = [];
    for (let i = 0; i < 20; i++) {
      const r = expectStatus(await request(agent, `${zizq.url}/jobs/count?queue=big`, "GET"));
      countMs.push(r.ms);
      const { count } = JSON.parse(r.body.toString()) as { count: number };
      if (count !== big) throw new Error(`count: ${count}, expected ${big}`);
    }
    rows.push({
      workload: `GET /jobs/count?queue=Q${scale}`, mode: "buffered", p50Ms: median(countMs), p99Ms: percentile(countMs, 99),
      target: "p99 ≤ 50 ms", pass: percentile(countMs, 99) <= 50, measured: `${big} jobs in Q`,
    });

    const filter = encodeURIComponent(".n % 7 == 0");
    const expected = Math.floor((total - 1) / 7) - Math.floor((big - 1) / 7);
    const jqMs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = expectStatus(await request(agent, `${zizq.url}/jobs/count?queue=small&filter=${filter}`, "GET"));
      jqMs.push(r.ms);
      const { count } = JSON.parse(r.body.toString()) as { count: number };
      if (count !== expected) throw new Error(`jq count: ${count}, expected ${expected}`);
    }
    const jqRate = small / (median(jqMs) / 1000);
    rows.push({
      workload: `jq count over ${small / 1000}k jobs`, mode: "buffered", opsPerSec: jqRate, p50Ms: median(jqMs),
      p99Ms: Math.max(...jqMs), target: "≥ 50000", pass: jqRate >= 50_000, measured: "filter=.n % 7 == 0, 3 runs",
    });

    const pageMs: number[] = [];
    const scan = await withLoopDelay(zizq, async () => {
      let seen = 0;
      let next: string | null = "/jobs?limit=2000";
      const started = performance.now();
      while (next) {
        const t = performance.now();
        const page = (await get(agent, zizq.url + next)) as { jobs: unknown[]; pages: { next: string | null } };
        pageMs.push(performance.now() - t);
        seen += page.jobs.length;
        next = page.pages.next;
      }
      if (seen !== total) throw new Error(`scan saw ${seen} jobs, expected ${total}`);
      return total / ((performance.now() - started) / 1000);
    });
    rows.push({
      workload: `scan GET /jobs?limit=2000${scale}`, mode: "buffered", opsPerSec: scan.value,
      p50Ms: median(pageMs), p99Ms: percentile(pageMs, 99), target: "≥ 100000", pass: scan.value >= 100_000,
      measured: `per page; loop stall max ${scan.stall.max_ms} ms`,
    });

    const del = await withLoopDelay(zizq, async () => {
      const r = expectStatus(await request(agent, `${zizq.url}/jobs?queue=big`, "DELETE"));
      const { deleted } = JSON.parse(r.body.toString()) as { deleted: number };
      if (deleted !== big) throw new Error(`deleted ${deleted}, expected ${big}`);
      return { rate: big / (r.ms / 1000), ms: r.ms };
    });
    rows.push({
      workload: `DELETE /jobs?queue=Q${scale}`, mode: "buffered", opsPerSec: del.value.rate, p50Ms: del.value.ms,
      target: "≥ 200000", pass: del.value.rate >= 200_000, measured: `${big} jobs, one request`,
    });
    rows.push({
      workload: "DELETE event-loop stall", mode: "buffered", p99Ms: del.stall.p99_ms,
      target: "max ≤ 20 ms", pass: del.stall.max_ms <= 20, measured: `max ${del.stall.max_ms} ms`,
    });
  } finally {
    agent.destroy();
  }
  const res = await zizq.stop();
  for (const row of rows) Object.assign(row, res);
  return rows;
}
