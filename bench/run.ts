// `npm run bench`: the HTTP benchmark (issues 3, 4, 5). Each workload runs against a
// fresh `zizq serve` child in a fresh temp dir on 127.0.0.1 and returns table rows;
// this file parses options, prints the machine, and prints one fixed table.
//
//   npm run bench                        # everything (~5 min on the 2-core bench machine)
//   npm run bench -- --quick             # short smoke run (smaller counts and durations)
//   npm run bench -- --only W1,W3        # a subset: W1, W1-h2c, W2, W2-single, W3, W4 (cold and warm), Q (issue 4 + memory), RESTART, DISK,
//                                        #   W3-lease, W1-auth (issue 10: bench/controls.ts), B (budgets), D (dashboard, /metrics;
//                                        #   D-W3: only its W3 rows, idle / replayed / Chromium at nice 19 / normal),
//                                        #   Client-W1, Client-W3 (our Client and Worker, issue 8),
//                                        #   E (the embedded queue in-process, issue 8);
//                                        #   SCALE (10M jobs, minutes; --quick: 1M) only when named
//   npm run bench -- --profile DIR       # also write server CPU profiles (node --cpu-prof) to DIR/<workload>/
//   npm run bench -- --h2-client node    # W1-h2c load from Node instead of h2load

import { execFileSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { type BenchOptions, type Row, hasCommand } from "./_lib.ts";
import { budgetBench } from "./budgets.ts";
import { clientW1 } from "./client-w1.ts";
import { clientW3 } from "./client-w3.ts";
import { dashboard, dashboardUnderW3 } from "./dashboard.ts";
import { w1Auth, w3Lease } from "./controls.ts";
import { embedded } from "./embedded.ts";
import { manage } from "./manage.ts";
import { w1, w1h2c } from "./w1.ts";
import { w2, w2Single } from "./w2.ts";
import { w3 } from "./w3.ts";
import { w4 } from "./w4.ts";
import { restart } from "./restart.ts";
import { disk } from "./disk.ts";
import { scale } from "./scale.ts";

const WORKLOADS: Record<string, (o: BenchOptions) => Promise<Row[]>> = {
  W1: w1,
  "W1-h2c": w1h2c,
  W2: async (o) => [await w2(o, "buffered"), await w2(o, "fsync")],
  "W2-single": async (o) => [await w2Single(o)],
  W3: async (o) => [await w3(o, "buffered", "json"), await w3(o, "buffered", "msgpack"), await w3(o, "fsync", "json")],
  W4: async (o) => [await w4(o, true), await w4(o, true, true), await w4(o)],
  Q: manage,
  D: dashboard,
  "D-W3": dashboardUnderW3,
  "W3-lease": w3Lease,
  "W1-auth": w1Auth,
  B: budgetBench,
  "Client-W1": clientW1,
  "Client-W3": async (o) => [await clientW3(o, "json"), await clientW3(o, "json", 1000), await clientW3(o, "msgpack", 1000)],
  E: embedded,
  RESTART: restart,
  DISK: disk,
  SCALE: scale,
};
/** Minutes long: only with --only. */
const OPT_IN = new Set(["SCALE"]);

function parseArgs(argv: string[]): { opts: BenchOptions; only: string[] } {
  const opts: BenchOptions = { quick: false, h2Client: "auto" };
  let only = Object.keys(WORKLOADS).filter((w) => !OPT_IN.has(w));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--quick") opts.quick = true;
    else if (arg === "--only") only = argv[++i].split(",").map((s) => s.trim());
    else if (arg === "--profile") opts.profileDir = path.resolve(argv[++i]);
    else if (arg === "--h2-client") opts.h2Client = argv[++i] as BenchOptions["h2Client"];
    else throw new Error(`unknown option ${arg} (see the header of bench/run.ts)`);
  }
  const unknown = only.filter((w) => !(w in WORKLOADS));
  if (unknown.length) throw new Error(`unknown workload ${unknown.join(",")}; known: ${Object.keys(WORKLOADS).join(",")}`);
  if (!["auto", "h2load", "node"].includes(opts.h2Client)) throw new Error("--h2-client is auto, h2load or node");
  return { opts, only };
}

function version(cmd: string, args: string[]): string {
  if (!hasCommand(cmd)) return "missing";
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).split("\n")[0].trim();
  } catch (err) {
    return String((err as { stdout?: string }).stdout ?? "").split("\n")[0].trim() || "?";
  }
}

const num = (x: number | undefined, digits = 0) =>
  x === undefined || Number.isNaN(x) ? "-" : x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

function printTable(rows: Row[]): void {
  const header = ["workload", "mode", "ops/s", "p50 ms", "p99 ms", "target", "result", "peak RSS MB", "disk MB"];
  const cells = rows.map((r) => [
    r.workload, r.mode, num(r.opsPerSec), num(r.p50Ms, 2), num(r.p99Ms, 2), r.target,
    (r.pass === undefined ? "-" : r.pass ? "pass" : "FAIL") + (r.measured ? ` (${r.measured})` : ""),
    num(r.peakRssMb), num(r.diskMb, 1),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => `| ${c.map((x, i) => x.padEnd(widths[i])).join(" | ")} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const c of cells) console.log(line(c));
}

async function main(): Promise<void> {
  const { opts, only } = parseArgs(process.argv.slice(2));
  // Servers run as users run them: the production bundle under plain node (`npm start`),
  // not through the tsx loader, which alone adds ~54 MB of RSS (docs/decisions.md).
  execFileSync(process.execPath, [path.join(import.meta.dirname, "../bin/build.mjs")], { stdio: "inherit" });
  process.env.ZIZQ_SPAWN_BUILT = "1";
  const cpus = os.cpus();
  console.log(`# Zizq HTTP bench${opts.quick ? " (--quick)" : ""}  ${new Date().toISOString()}`);
  console.log(`cpu: ${cpus[0]?.model ?? "?"} × ${cpus.length}  node: ${process.version}  kernel: ${os.release()}`);
  console.log(`wrk: ${version("wrk", ["-v"])}  h2load: ${version("h2load", ["--version"])}`);
  console.log(`workloads: ${only.join(", ")}; server and load share the machine; 127.0.0.1 only\n`);
  const rows: Row[] = [];
  for (const name of only) {
    const started = Date.now();
    try {
      rows.push(...(await WORKLOADS[name](opts)));
    } catch (err) {
      rows.push({ workload: name, mode: "-", target: "-", pass: false, measured: `error: ${(err as Error).message.split("\n")[0]}` });
    }
    console.error(`${name} done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
  const json = rows.find((r) => r.workload === "W3 take+ack" && r.mode === "buffered");
  const mp = rows.find((r) => r.workload === "W3 take+ack msgpack");
  if (json?.opsPerSec && mp?.opsPerSec) {
    mp.target = `≥ W3 JSON (${num(json.opsPerSec)})`;
    mp.pass = mp.opsPerSec >= json.opsPerSec;
  }
  const budgeted = rows.find((r) => r.workload === "W3 take+ack (1 budget)");
  if (json?.opsPerSec && budgeted?.opsPerSec) {
    budgeted.target = `≥ 80% of W3 JSON (${num(json.opsPerSec * 0.8)})`;
    budgeted.pass = budgeted.opsPerSec >= json.opsPerSec * 0.8;
  }
  console.log("");
  printTable(rows);
  if (opts.profileDir) console.log(`\nCPU profiles: ${opts.profileDir}/<workload>/ (summarise: node --import tsx bench/profile-top.ts FILE)`);
}

await main();
