// Page faults of a bulk enqueue (docs/benchmarks.md, "Page faults"): W2-single's shape (one
// 1,000-job POST /jobs/bulk in flight) against a fresh server from the bundle, printing
// jobs/s, the server's CPU per job split into user and sys, and its minor faults per job,
// all read from /proc/PID/stat. Where a page fault is slow (~11 µs on the bench VM), the
// faults are a visible part of the CPU, and unlike time they barely vary between runs.
//
//   npm run build && node --import tsx bench/faults.ts
//   PERF=1 NODEARGS=--perf-basic-prof node --import tsx bench/faults.ts   # + perf record → /tmp/perf.data
//   perf report -i /tmp/perf.data --no-children --sort sym --stdio -g caller

import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { spawnServer } from "../test/helpers/server.ts";
import { JSON_HEADERS, bulkBody, expectStatus, request, sleep } from "./_lib.ts";

const TOTAL = Number(process.env.JOBS ?? 200_000);
const BATCH = 1000;
/** /proc/PID/stat counts CPU in clock ticks of 10 ms (USER_HZ 100 on Linux). */
const TICK_US = 10_000;

process.env.ZIZQ_SPAWN_BUILT = "1";
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zizq-bench-faults-"));
const nodeArgs = (process.env.NODEARGS ?? "").split(" ").filter(Boolean);
const server = await spawnServer(dir, ["--no-admin"], 20_000, nodeArgs);
const pid = server.child.pid!;

function sample(): { faults: number; userUs: number; sysUs: number } {
  // Fields after the ")" of the command name: minflt is the 8th, utime the 12th, stime the 13th.
  const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return { faults: Number(f[7]), userUs: Number(f[11]) * TICK_US, sysUs: Number(f[12]) * TICK_US };
}

if (process.env.PERF) {
  spawn("perf", ["record", "-e", "page-faults", "-g", "-o", "/tmp/perf.data", "-p", String(pid)], { stdio: "ignore" });
  await sleep(1000); // perf attaches
}
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
try {
  const before = sample();
  const started = performance.now();
  for (let i = 0; i < TOTAL; i += BATCH) {
    expectStatus(await request(agent, `${server.url}/jobs/bulk`, "POST", bulkBody("faults", i, BATCH), JSON_HEADERS), 201);
  }
  const seconds = (performance.now() - started) / 1000;
  const after = sample();
  const perJob = (n: number) => (n / TOTAL).toFixed(1);
  console.log(`${Math.round(TOTAL / seconds)} jobs/s; server CPU ${perJob(after.userUs - before.userUs + after.sysUs - before.sysUs)} µs/job `
    + `(user ${perJob(after.userUs - before.userUs)}, sys ${perJob(after.sysUs - before.sysUs)}); `
    + `minor faults ${after.faults - before.faults} (${((after.faults - before.faults) / TOTAL).toFixed(2)}/job)`);
} finally {
  agent.destroy();
  await server.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
