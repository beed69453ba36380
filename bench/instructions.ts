// Instructions the server executes per job, counted by valgrind's callgrind: the same
// count for the same build and inputs whatever else the machine is doing, so an A/B of a
// hot-path change reads within ~2% on a VM whose wall-clock and CPU-time figures swing
// 2× from one hour to the next (docs/benchmarks.md, "Instruction counts"). It counts the
// built server as `npm start` runs it, JIT compilation and GC included, only over the
// phase measured (callgrind_control zeroes the counters before it and dumps after).
//
//   npm run build && node --import tsx bench/instructions.ts [W2-single|W3|W3-msgpack|W1]... [--jobs N] [--runs R] [--warm N]
//     [--node-flag F]...   (passed to node before the server's script, e.g. a V8 flag)
//
// `--warm N` (W2-single) sends N jobs more before the count starts, so the count is the
// hot path as compiled, without the JIT's warm-up (~half of a 40,000-job count). Not
// steadier here: the server's checkpoints, O(jobs) each and paced by wall time (which
// valgrind stretches), land in the window a varying number of times (docs/benchmarks.md).
//
// Under valgrind the server runs ~50× slower, so the counts are small (20k jobs by
// default) and a row takes a minute or two. Not part of `npm run bench`: it needs valgrind.

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { bulkBody, expectStatus, jobBody, JSON_HEADERS, median, request } from "./_lib.ts";
import { takeAndAck } from "./w3.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const SERVER = path.join(ROOT, "dist/bin/zizq.mjs");

interface Counted {
  child: ChildProcess;
  url: string;
  dir: string;
  outFile: string;
}

async function startCounted(nodeFlags: readonly string[]): Promise<Counted> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zizq-instr-"));
  const outFile = path.join(dir, "callgrind.out");
  const child = spawn("valgrind", [
    "--tool=callgrind", `--callgrind-out-file=${outFile}`, "--dump-line=no", "--dump-instr=no",
    process.execPath, ...nodeFlags, SERVER, "serve", "--dir", path.join(dir, "data"), "--port", "0", "--no-admin",
  ], { stdio: ["ignore", "pipe", "pipe"] });
  const url = await new Promise<string>((resolve, reject) => {
    let seen = "";
    const deadline = setTimeout(() => reject(new Error(`no port within 120 s:\n${seen}`)), 120_000);
    const onData = (d: Buffer) => {
      seen += d;
      const m = /Listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(seen);
      if (m) {
        clearTimeout(deadline);
        resolve(m[1]);
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.on("exit", (code) => reject(new Error(`valgrind exited ${code}:\n${seen}`)));
  });
  return { child, url, dir, outFile };
}

/** Instructions the server runs during `phase`. */
async function countPhase(c: Counted, phase: () => Promise<void>): Promise<number> {
  const pid = String(c.child.pid);
  execFileSync("callgrind_control", ["--zero", pid], { stdio: "ignore" });
  await phase();
  execFileSync("callgrind_control", ["--dump=phase", pid], { stdio: "ignore" });
  // The dump's file is the out-file with a counter appended.
  const dumps = fs.readdirSync(c.dir).filter((f) => f.startsWith("callgrind.out.")).sort();
  const text = fs.readFileSync(path.join(c.dir, dumps[dumps.length - 1]), "utf8");
  const m = /^summary: (\d+)/m.exec(text) ?? /^totals: (\d+)/m.exec(text);
  if (!m) throw new Error("no summary in the callgrind dump");
  return Number(m[1]);
}

async function stop(c: Counted): Promise<void> {
  c.child.kill("SIGKILL");
  await new Promise((r) => c.child.once("exit", r));
  fs.rmSync(c.dir, { recursive: true, force: true });
}

const BATCH = 1000;

/** One row's phases: `prepare` is not counted, `measure` is. */
const WORKLOADS: Record<string, (url: string, jobs: number, warm: number) => { prepare(): Promise<void>; measure(): Promise<void> }> = {
  // One 1,000-job bulk request in flight (W2-single's shape).
  "W2-single": (url, jobs, warm) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    return {
      prepare: async () => {
        // A first request outside the count, as every row has one: the first request's
        // lazy module loads are start-up, not per-job cost.
        expectStatus(await request(agent, `${url}/jobs/bulk`, "POST", bulkBody("warm", 0, 10), JSON_HEADERS), 201);
        for (let i = 0; i < warm; i += BATCH) {
          expectStatus(await request(agent, `${url}/jobs/bulk`, "POST", bulkBody("warm", i, BATCH), JSON_HEADERS), 201);
        }
      },
      measure: async () => {
        for (let i = 0; i < jobs; i += BATCH) {
          expectStatus(await request(agent, `${url}/jobs/bulk`, "POST", bulkBody("w2s", i, BATCH), JSON_HEADERS), 201);
        }
        agent.destroy();
      },
    };
  },
  // Take + bulk ack of preloaded jobs (W3's client).
  W3: (url, jobs) => ({
    prepare: async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      for (let i = 0; i < jobs; i += BATCH) {
        expectStatus(await request(agent, `${url}/jobs/bulk`, "POST", bulkBody("w3", i, BATCH), JSON_HEADERS), 201);
      }
      agent.destroy();
    },
    measure: async () => {
      await takeAndAck(url, jobs, "json");
    },
  }),
  // The same with a MessagePack take stream and MessagePack acks (issue 13 §6).
  "W3-msgpack": (url, jobs) => ({
    prepare: WORKLOADS.W3(url, jobs, 0).prepare,
    measure: async () => {
      await takeAndAck(url, jobs, "msgpack");
    },
  }),
  // One `POST /jobs` at a time over keep-alive (W1's request, without wrk's concurrency).
  W1: (url, jobs) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const wave = async (from: number, n: number) => {
      const calls: Promise<unknown>[] = [];
      for (let i = 0; i < n; i++) calls.push(request(agent, `${url}/jobs`, "POST", jobBody("w1", from + i), JSON_HEADERS).then((r) => expectStatus(r, 201)));
      await Promise.all(calls);
    };
    return {
      prepare: () => wave(0, 16),
      measure: async () => {
        for (let i = 0; i < jobs; i += 16) await wave(i, 16);
        agent.destroy();
      },
    };
  },
};

function parseArgs(argv: string[]): { names: string[]; jobs: number; runs: number; warm: number; nodeFlags: string[] } {
  const names: string[] = [];
  const nodeFlags: string[] = [];
  let jobs = 20_000;
  let runs = 2;
  let warm = 0;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--jobs") jobs = Number(argv[++i]);
    else if (argv[i] === "--warm") warm = Number(argv[++i]);
    else if (argv[i] === "--runs") runs = Number(argv[++i]);
    else if (argv[i] === "--node-flag") nodeFlags.push(argv[++i]);
    else if (WORKLOADS[argv[i]]) names.push(argv[i]);
    else throw new Error(`unknown argument ${argv[i]} (workloads: ${Object.keys(WORKLOADS).join(", ")})`);
  }
  if (!(jobs >= BATCH && jobs % BATCH === 0)) throw new Error("--jobs must be a multiple of 1000");
  if (!(warm >= 0 && warm % BATCH === 0)) throw new Error("--warm must be a multiple of 1000");
  return { names: names.length ? names : ["W2-single", "W3"], jobs, runs, warm, nodeFlags };
}

async function main(): Promise<void> {
  const { names, jobs, runs, warm, nodeFlags } = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(SERVER)) throw new Error("no dist/bin/zizq.mjs: run `npm run build` first");
  const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
  console.log(`instructions per job (callgrind), ${jobs} jobs a run${warm ? ` after ${warm} not counted` : ""}, ${runs} runs, build of ${commit}${nodeFlags.length ? `, node ${nodeFlags.join(" ")}` : ""}`);
  console.log("| workload | per job, each run | median |\n|---|---|---|");
  for (const name of names) {
    const perJob: number[] = [];
    for (let r = 0; r < runs; r++) {
      const c = await startCounted(nodeFlags);
      try {
        const w = WORKLOADS[name](c.url, jobs, warm);
        await w.prepare();
        perJob.push((await countPhase(c, w.measure)) / jobs);
      } finally {
        await stop(c);
      }
    }
    const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
    console.log(`| ${name} | ${perJob.map(fmt).join(", ")} | ${fmt(median(perJob))} |`);
  }
}

await main();
