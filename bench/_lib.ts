// Shared bench plumbing: fresh servers in fresh temp dirs (via test/helpers/server.ts),
// their peak RSS and bytes on disk, a keep-alive HTTP/1.1 client, percentiles, the
// deterministic payload, and the result row every workload returns.

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { type SpawnedServer, spawnServer } from "../test/helpers/server.ts";

export interface BenchOptions {
  quick: boolean;
  /** Directory for server CPU profiles (`node --cpu-prof`); unset = no profiling. */
  profileDir?: string;
  /** W1-h2c load generator: h2load when installed, else the Node client. */
  h2Client: "auto" | "h2load" | "node";
}

/** One line of the result table. `measured` holds a value that is not ops/s or a latency. */
export interface Row {
  workload: string;
  mode: string;
  opsPerSec?: number;
  p50Ms?: number;
  p99Ms?: number;
  target: string;
  pass?: boolean;
  measured?: string;
  peakRssMb?: number;
  diskMb?: number;
}

export const PAD = "x".repeat(100);
/** The bench payload, API body of one enqueue: `{"n":i,"pad":"x"*100}`. */
export const jobBody = (queue: string, n: number, extra = "", fields = ""): string =>
  `{"type":"bench","queue":"${queue}","payload":{"n":${n},"pad":"${PAD}"${extra}}${fields}}`;
/** `fields`: extra job fields, e.g. `,"budgets":[{"key":"k"}]`. */
export const bulkBody = (queue: string, from: number, count: number, fields = ""): string => {
  const parts: string[] = [];
  for (let i = from; i < from + count; i++) parts.push(jobBody(queue, i, "", fields));
  return `{"jobs":[${parts.join(",")}]}`;
};

export interface BenchServer {
  url: string;
  /** The admin listener, when started with `admin` (else undefined). */
  adminUrl?: string;
  pid: number;
  dir: string;
  server: SpawnedServer;
  /** VmHWM and VmRSS of the server process, in MB. */
  memory(): { peakMb: number; rssMb: number };
  /** SIGTERM the server; returns its peak RSS and bytes on disk, then removes the dir. */
  stop(): Promise<{ peakRssMb: number; diskMb: number }>;
}

/** `zizq serve` in a fresh temp dir; `env` is added to the child's environment; no admin listener unless `admin`. */
export async function startZizq(
  name: string, opts: BenchOptions, args: string[] = [], env: Record<string, string> = {}, admin = false,
): Promise<BenchServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `zizq-bench-${name}-`));
  const nodeArgs: string[] = [];
  if (opts.profileDir) {
    const profDir = path.join(opts.profileDir, name);
    fs.mkdirSync(profDir, { recursive: true });
    nodeArgs.push("--cpu-prof", `--cpu-prof-dir=${profDir}`); // not allowed in NODE_OPTIONS
  }
  // spawnServer() copies process.env synchronously when called, so a temporary overlay is
  // enough to pass `env` to the child.
  const saved = new Map(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  const pending = spawnServer(dir, [...(admin ? [] : ["--no-admin"]), ...args], 20_000, nodeArgs);
  for (const [k, v] of saved) v === undefined ? delete process.env[k] : (process.env[k] = v);
  const server = await pending;
  const pid = server.child.pid!;
  const memory = () => readMemory(pid);
  return {
    url: server.url,
    adminUrl: server.adminUrl,
    pid,
    dir,
    server,
    memory,
    stop: async () => {
      const { peakMb } = memory();
      const diskMb = diskBytes(dir) / 1e6;
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
      return { peakRssMb: peakMb, diskMb };
    },
  };
}

export function readMemory(pid: number): { peakMb: number; rssMb: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { peakMb: kb("VmHWM") / 1024, rssMb: kb("VmRSS") / 1024 };
}

/** User + system CPU time of a process and all its threads so far, in µs (/proc, CLK_TCK 100). */
export function cpuMicros(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/**
 * User + system CPU time, in µs, of every live process descended from `root` (this
 * process by default), not counting `exclude` and its descendants: e.g. the browser a
 * bench launched, without the server it also spawned.
 */
export function descendantCpuMicros(exclude: number[] = [], root = process.pid): number {
  const parent = new Map<number, number>();
  const cpu = new Map<number, number>();
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const fields = fs.readFileSync(`/proc/${name}/stat`, "utf8").split(") ")[1].split(" ");
      parent.set(Number(name), Number(fields[1]));
      cpu.set(Number(name), (Number(fields[11]) + Number(fields[12])) * 10_000);
    } catch {
      // exited meanwhile
    }
  }
  const skip = new Set(exclude);
  let total = 0;
  for (const [pid, us] of cpu) {
    if (skip.has(pid)) continue;
    let p = parent.get(pid);
    while (p !== undefined && p > 1 && p !== root && !skip.has(p)) p = parent.get(p);
    if (p === root) total += us;
  }
  return total;
}

/**
 * CPU used while `fn` runs: this (client) process as % of one core, and the server's µs
 * per op. A client near 100% would make the run client-bound, not a server figure.
 */
export async function withCpu<T>(serverPid: number, ops: number, fn: () => Promise<T>): Promise<{ value: T; note: string; serverUs: number }> {
  const client = process.cpuUsage();
  const server = cpuMicros(serverPid);
  const started = performance.now();
  const value = await fn();
  const wallUs = (performance.now() - started) * 1000;
  const used = process.cpuUsage(client);
  const clientPct = ((used.user + used.system) / wallUs) * 100;
  const serverUs = (cpuMicros(serverPid) - server) / ops;
  return { value, serverUs, note: `server CPU ${serverUs.toFixed(1)} µs/job, client CPU ${clientPct.toFixed(0)}%` };
}

/** Allocated bytes of every file under `dir` (what `du` counts; segments are preallocated). */
export function diskBytes(dir: string): number {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    total += fs.statSync(path.join(entry.parentPath ?? entry.path, entry.name)).blocks * 512;
  }
  return total;
}

export interface HttpResult {
  status: number;
  body: Buffer;
  ms: number;
}

/** One request over `agent`; resolves with the whole response body. */
export function request(
  agent: http.Agent, url: string, method: string, body?: string | Uint8Array, headers: Record<string, string> = {},
): Promise<HttpResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({
        status: res.statusCode ?? 0,
        body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks),
        ms: performance.now() - started,
      }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

export const JSON_HEADERS = { "content-type": "application/json" };

export function expectStatus(r: HttpResult, ...expected: number[]): HttpResult {
  const ok = expected.length ? expected : [200];
  if (!ok.includes(r.status)) throw new Error(`HTTP ${r.status}: ${r.body.toString().slice(0, 300)}`);
  return r;
}

/** Enqueue `total` jobs into `queue` as bulk requests of `batch`, `concurrency` at a time. */
export async function preload(url: string, queue: string, total: number, batch = 1000, concurrency = 4, from = 0, fields = ""): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  let next = from;
  const end = from + total;
  const lane = async () => {
    while (next < end) {
      const start = next;
      const count = Math.min(batch, end - start);
      next += count;
      expectStatus(await request(agent, `${url}/jobs/bulk`, "POST", bulkBody(queue, start, count, fields), JSON_HEADERS), 201);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  agent.destroy();
}

/**
 * A data dir of `jobs` jobs (90% in queue Q, 10% in K, bulk-loaded as the SCALE row
 * loads them), built on first use and kept in the temp dir under `name` (~2.5 min at 10M
 * jobs); stopped cleanly, so it holds a checkpoint. Needs ZIZQ_SPAWN_BUILT=1 to build it
 * with the bundle.
 */
export async function keptDataDir(name: string, jobs: number): Promise<string> {
  const dir = path.join(os.tmpdir(), `zizq-${name}-${jobs}`);
  if (fs.existsSync(path.join(dir, ".complete"))) return dir;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir);
  const server = await spawnServer(dir, ["--no-admin"], 60_000);
  await preload(server.url, "Q", jobs * 0.9, 1000, 2);
  await preload(server.url, "K", jobs / 10, 1000, 2, jobs * 0.9);
  await server.stop(); // a clean stop writes the checkpoint: each run starts from it
  fs.writeFileSync(path.join(dir, ".complete"), "");
  return dir;
}

/** Nearest-rank percentile of unsorted samples (sorts a copy). */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = Float64Array.from(samples).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export const median = (xs: number[]): number => percentile(xs, 50);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function hasCommand(cmd: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const DIST = path.join(import.meta.dirname, "..", "dist");

/**
 * The package as users import it. Under `npm run bench` (which builds first and sets
 * ZIZQ_SPAWN_BUILT=1, as for the servers) that is the bundle: `zizq/client` is
 * dist/client.mjs and `zizq` is dist/zizq.mjs. Run alone, the sources through tsx. Why it
 * matters: tsx transpiles file by file and wraps functions in helpers (`__name`) that run
 * in hot paths; the embedded cycle measured 42–45k jobs per CPU second from the sources
 * against 50–57k from the bundle, in alternating runs.
 */
export async function clientPackage(): Promise<typeof import("../lib/client/index.ts")> {
  return process.env.ZIZQ_SPAWN_BUILT === "1"
    ? import(pathToFileURL(path.join(DIST, "client.mjs")).href)
    : import("../lib/client/index.ts");
}

/** `zizq` (open, serve) as users import it: see clientPackage(). */
export async function embeddedPackage(): Promise<typeof import("../lib/entry/zizq.ts")> {
  return process.env.ZIZQ_SPAWN_BUILT === "1"
    ? import(pathToFileURL(path.join(DIST, "zizq.mjs")).href)
    : import("../lib/entry/zizq.ts");
}
