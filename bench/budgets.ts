// Budget benchmarks (issue 9): W3 with every job bound to one time_based budget that
// never throttles (target ≥ 80% of plain W3), a concurrency budget of 4 measured from
// the worker's side (exactly 4 in flight), and, in process, a take that finds the one
// affordable job among 1M parked jobs in 10,000 budgets (target ≤ 1 ms).
//
//   npm run bench -- --only W3,B          # plain W3 rows next to the budget rows

import http from "node:http";
import { createQueue } from "../lib/queue/queue.ts";
import { openStore } from "../lib/storage/store.ts";
import { tmpDir, cleanupTmp } from "../test/helpers/tmp.ts";
import { type BenchOptions, JSON_HEADERS, type Row, expectStatus, percentile, preload, request, startZizq } from "./_lib.ts";
import { w3 } from "./w3.ts";

const NEVER_THROTTLES = JSON.stringify({ allocation: 1_000_000, strategy: { type: "time_based", duration_ms: 1 } });

async function w3Budgeted(opts: BenchOptions): Promise<Row> {
  const row = await w3(opts, "buffered", "json", {
    name: "(1 budget)",
    setup: async (url) => {
      const agent = new http.Agent();
      expectStatus(await request(agent, `${url}/budgets/never`, "POST", NEVER_THROTTLES, JSON_HEADERS), 201);
      agent.destroy();
    },
    fields: `,"budgets":[{"key":"never"}]`,
  });
  return { ...row, target: "≥ 80% of W3 take+ack buffered", pass: undefined };
}

/** Take with prefetch 50 on two streams, ack each job after 2 ms; the most held at once. */
async function concurrency4(opts: BenchOptions): Promise<Row> {
  const total = opts.quick ? 400 : 2000;
  const zizq = await startZizq("budget-c4", opts);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const takes: http.ClientRequest[] = [];
  try {
    expectStatus(await request(agent, `${zizq.url}/budgets/four`, "POST", JSON.stringify({ allocation: 4, strategy: { type: "while_in_flight" } }), JSON_HEADERS), 201);
    await preload(zizq.url, "c4", total, 500, 2, 0, `,"budgets":[{"key":"four"}]`);
    // Measured on the server: its in-flight count, polled while the run lasts. (A client
    // count races: the 204 of an ack and the next job's frame travel on different sockets.)
    let acked = 0;
    let done = false;
    const samples: number[] = [];
    const poll = (async () => {
      const pollAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      while (!done) {
        const r = expectStatus(await request(pollAgent, `${zizq.url}/jobs/count?status=in_flight`, "GET"));
        samples.push((JSON.parse(r.body.toString()) as { count: number }).count);
      }
      pollAgent.destroy();
    })();
    const started = performance.now();
    await new Promise<void>((resolve, reject) => {
      const onJob = (id: string) => {
        setTimeout(() => {
          request(agent, `${zizq.url}/jobs/${id}/success`, "POST").then((r) => {
            expectStatus(r, 204);
            if (++acked === total) resolve();
          }).catch(reject);
        }, 2);
      };
      for (let i = 0; i < 2; i++) {
        const req = http.get(`${zizq.url}/jobs/take?prefetch=50`, { agent: false, headers: { accept: "application/x-ndjson" } }, (res) => {
          let rest = "";
          res.on("data", (chunk: Buffer) => {
            const lines = (rest + chunk.toString("utf8")).split("\n");
            rest = lines.pop()!;
            for (const line of lines) if (line) onJob((JSON.parse(line) as { id: string }).id);
          });
          res.on("error", () => {});
        });
        req.on("error", () => {});
        takes.push(req);
      }
    });
    const seconds = (performance.now() - started) / 1000;
    done = true;
    await poll;
    const most = Math.max(...samples);
    const atFour = samples.filter((n) => n === 4).length / samples.length;
    return {
      workload: "budget while_in_flight 4", mode: "buffered", opsPerSec: total / seconds, target: "exactly 4 in flight",
      pass: most === 4, measured: `max in flight ${most} over ${samples.length} server samples, ${(atFour * 100).toFixed(0)}% of them at 4; ${total} jobs, 2 ms work each`,
      ...(await zizq.stop()),
    };
  } finally {
    for (const t of takes) t.destroy();
    agent.destroy();
  }
}

/** In process: 10,000 while_in_flight budgets of 1, 1M jobs parked behind them. */
async function parkedTake(opts: BenchOptions): Promise<Row> {
  const budgets = 10_000;
  const total = opts.quick ? 200_000 : 1_000_000;
  const store = await openStore({ dir: tmpDir("zizq-bench-parked-"), segmentBytes: 64 * 1024 * 1024 });
  const queue = createQueue(store, { reaperIntervalMs: 0, globalInFlightLimit: 0, maxBudgets: budgets });
  try {
    for (let b = 0; b < budgets; b++) await queue.budgets.create(`b${b}`, { allocation: 1, strategy: { type: "while_in_flight" } });
    for (let i = 0; i < total; i += 10_000) {
      const jobs = [];
      for (let j = i; j < i + 10_000; j++) jobs.push({ type: "t", queue: "q", payload: { n: j }, budgets: [{ key: `b${j % budgets}` }] });
      await queue.enqueueBulk({ jobs });
    }
    const held: string[] = [];
    queue.take({ prefetch: 0, deliver: ({ job }) => { held.push(job.id); return true; } });
    const d = queue.ctx.dispatcher;
    while (held.length < budgets) d.dispatch(); // one per budget in flight; the rest parked
    const parked = queue.stats().ready;
    // Time every dispatch round that hands out a job (the ack's wake runs it).
    const times: number[] = [];
    const dispatch = d.dispatch.bind(d);
    d.dispatch = () => {
      const before = held.length;
      const t0 = performance.now();
      dispatch();
      if (held.length > before) times.push(performance.now() - t0);
    };
    const rounds = opts.quick ? 200 : 1000;
    for (let i = 0; i < rounds; i++) {
      const id = held.splice(Math.floor(Math.random() * held.length), 1)[0];
      const before = held.length;
      await queue.complete(id); // frees one budget: exactly one parked head becomes affordable
      while (held.length === before) await new Promise((r) => setImmediate(r));
    }
    if (times.length !== rounds) throw new Error(`${times.length} timed rounds, expected ${rounds}`);
    const p99 = percentile(times, 99);
    return {
      workload: "budget take among parked", mode: "in-process", p50Ms: percentile(times, 50), p99Ms: p99,
      target: "≤ 1 ms", pass: p99 <= 1,
      measured: `${budgets} budgets, ${parked.toLocaleString("en-US")} jobs parked; one dispatch round after an ack freed one budget`,
      peakRssMb: process.memoryUsage().rss / 1e6,
    };
  } finally {
    queue.stop();
    await store.close();
    cleanupTmp();
  }
}

export async function budgetBench(opts: BenchOptions): Promise<Row[]> {
  const rows: Row[] = [];
  for (const [name, run] of [["W3 (1 budget)", w3Budgeted], ["while_in_flight 4", concurrency4], ["parked take", parkedTake]] as const) {
    try {
      rows.push(await run(opts));
    } catch (err) {
      rows.push({ workload: `budget ${name}`, mode: "-", target: "-", pass: false, measured: `error: ${(err as Error).message.split("\n")[0]}` });
    }
  }
  return rows;
}
