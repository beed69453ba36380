// `npm run reliability`: the reliability figures of docs/reliability.md, measured against
// the built server (dist/bin/zizq.mjs, spawned as a user runs it). Each part lives in its
// own file here; reduced runs of every part are test/reliability/*.test.ts in `npm test`.
//
//   npm run reliability -- [--only kill9,damage,disk-full,fsync-eio,churn,soak,power-loss,power-loss-queue]
//     [--cycles 100] [--modes buffered,fsync] [--ballast 0] [--positions 1000] [--streams 10000]
//     [--soak-minutes 30] [--soak-cache-size 4MB] [--seed N] [--out file.json] [--no-build]
// The storage crash-test loop is separate: bench/reliability/crash-loop.ts.

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { cleanupTmp } from "../../test/helpers/tmp.ts";
import { ROOT } from "./_harness.ts";
import { runChurn } from "./churn.ts";
import { runDamage } from "./damage.ts";
import { runDiskFull } from "./disk-full.ts";
import { runFsyncEio } from "./fsync-eio.ts";
import { runKill9 } from "./kill9.ts";
import { type PowerLossResult, runPowerLoss } from "./power-loss.ts";
import { type QueuePowerLossResult, runQueuePowerLoss } from "./power-loss-queue.ts";
import { runSoak } from "./soak.ts";

const PARTS = ["kill9", "damage", "disk-full", "fsync-eio", "churn", "soak", "power-loss", "power-loss-queue"];
const { values } = parseArgs({
  options: {
    only: { type: "string", default: PARTS.join(",") },
    cycles: { type: "string", default: "100" },
    // kill9 on a big store: jobs bulk-loaded first (docs/reliability.md, "kill -9 on a big store").
    ballast: { type: "string", default: "0" },
    modes: { type: "string", default: "buffered,fsync" },
    positions: { type: "string", default: "1000" },
    streams: { type: "string", default: "10000" },
    "soak-minutes": { type: "string", default: "30" },
    // The server's payload cache for the soak (its default 64MB otherwise): a small one
    // tells the cache filling up from a leak.
    "soak-cache-size": { type: "string" },
    seed: { type: "string", default: String(Math.floor(Math.random() * 2 ** 31)) },
    // power-loss, power-loss-queue: workloads per mode and names model (seed, seed+1, ...), each 1,500 steps and 60 cuts.
    "power-runs": { type: "string", default: "5" },
    out: { type: "string" },
    // Skip `npm run build` (another run is spawning servers from dist/ meanwhile).
    "no-build": { type: "boolean", default: false },
  },
});
const only = values.only!.split(",");
for (const p of only) if (!PARTS.includes(p)) throw new Error(`unknown part ${p} (parts: ${PARTS.join(", ")})`);
const seed = Number(values.seed);
const log = (line: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${line}`);

// The built server, as users run it (npm run build makes it; run it again when stale).
if (!values["no-build"]) execFileSync(process.execPath, [path.join(ROOT, "bin/build.mjs")], { cwd: ROOT, stdio: "inherit" });
process.env.ZIZQ_SPAWN_BUILT = "1";

const machine = {
  nproc: os.cpus().length,
  cpu: os.cpus()[0]?.model,
  memory: execFileSync("free", ["-h"], { encoding: "utf8" }).split("\n")[1]?.replace(/\s+/g, " "),
  node: process.version,
  load: os.loadavg().map((x) => x.toFixed(2)).join(" "),
  date: new Date().toISOString(),
};
log(`seed ${seed}; ${JSON.stringify(machine)}`);
const results: Record<string, unknown> = { seed, machine, argv: process.argv.slice(2) };
const save = () => {
  if (values.out) fs.writeFileSync(values.out, JSON.stringify(results, null, 2) + "\n");
};

try {
  if (only.includes("kill9")) {
    for (const mode of values.modes!.split(",") as ("buffered" | "fsync")[]) {
      results[`kill9-${mode}`] = await runKill9({ mode, cycles: Number(values.cycles), ballast: Number(values.ballast), seed, log });
      log(JSON.stringify(results[`kill9-${mode}`]));
      save();
    }
  }
  if (only.includes("damage")) {
    results.damage = await runDamage({ positions: Number(values.positions), seed, log });
    log(JSON.stringify(results.damage));
    save();
  }
  if (only.includes("disk-full")) {
    results["disk-full"] = await runDiskFull({ log });
    log(JSON.stringify(results["disk-full"]));
    save();
  }
  if (only.includes("fsync-eio")) {
    results["fsync-eio"] = await runFsyncEio({ seed, log });
    log(JSON.stringify(results["fsync-eio"]));
    save();
  }
  if (only.includes("churn")) {
    results.churn = await runChurn({ streams: Number(values.streams), log });
    log(JSON.stringify(results.churn));
    save();
  }
  if (only.includes("soak")) {
    const cache = values["soak-cache-size"];
    results.soak = await runSoak({ minutes: Number(values["soak-minutes"]), seed, log, serverArgs: cache ? ["--cache-size", cache] : [] });
    log(JSON.stringify(results.soak));
    save();
  }
  if (only.includes("power-loss")) {
    // No server: the store on a simulated disk (bench/reliability/power-loss.ts).
    for (const mode of values.modes!.split(",").filter((m) => m !== "enqueue-fsync") as ("buffered" | "fsync")[]) {
      for (const names of ["journal", "posix"] as const) {
        const runs: PowerLossResult[] = [];
        for (let i = 0; i < Number(values["power-runs"]); i++) {
          runs.push(await runPowerLoss({ seed: seed + i, mode, names, steps: 1500, cuts: 60, imagesPerCut: 2, log }));
        }
        const sum = (f: (r: PowerLossResult) => number) => runs.reduce((n, r) => n + f(r), 0);
        results[`power-loss-${mode}-${names}`] = {
          runs: runs.length, acked: sum((r) => r.acked), cuts: sum((r) => r.cuts), images: sum((r) => r.images), opened: sum((r) => r.opened),
          fromCheckpoint: sum((r) => r.fromCheckpoint), segmentsRetired: sum((r) => r.segmentsRetired), failedImages: sum((r) => r.failedImages),
          jobs: {
            acked: sum((r) => r.jobs.acked), inFlight: sum((r) => r.jobs.inFlight), older: sum((r) => r.jobs.older),
            absentUnacked: sum((r) => r.jobs.absentUnacked), checkpointed: sum((r) => r.jobs.checkpointed),
          },
          failures: runs.flatMap((r) => r.failures).slice(0, 5),
        };
        log(JSON.stringify(results[`power-loss-${mode}-${names}`]));
        save();
      }
    }
  }
  if (only.includes("power-loss-queue")) {
    // No server: a Queue over the store on a simulated disk (bench/reliability/power-loss-queue.ts).
    // --modes may add enqueue-fsync (--enqueue-commit-mode fsync over buffered writes).
    for (const mode of values.modes!.split(",") as ("buffered" | "fsync" | "enqueue-fsync")[]) {
      for (const names of ["journal", "posix"] as const) {
        const runs: QueuePowerLossResult[] = [];
        for (let i = 0; i < Number(values["power-runs"]); i++) {
          runs.push(await runQueuePowerLoss({ seed: seed + i, mode, names, steps: 1500, cuts: 60, imagesPerCut: 2, log }));
        }
        const sum = (f: (r: QueuePowerLossResult) => number) => runs.reduce((n, r) => n + f(r), 0);
        const ops: Record<string, number> = {};
        for (const r of runs) for (const [k, v] of Object.entries(r.ops)) ops[k] = (ops[k] ?? 0) + v;
        results[`power-loss-queue-${mode}-${names}`] = {
          runs: runs.length, acked: sum((r) => r.acked), ops, cuts: sum((r) => r.cuts), images: sum((r) => r.images), opened: sum((r) => r.opened),
          fromCheckpoint: sum((r) => r.fromCheckpoint), segmentsRetired: sum((r) => r.segmentsRetired), failedImages: sum((r) => r.failedImages),
          jobs: {
            acked: sum((r) => r.jobs.acked), inFlight: sum((r) => r.jobs.inFlight), older: sum((r) => r.jobs.older),
            checkpointed: sum((r) => r.jobs.checkpointed), cron: sum((r) => r.jobs.cron), retried: sum((r) => r.jobs.retried),
          },
          probes: { unique: sum((r) => r.probes.unique), duplicates: sum((r) => r.probes.duplicates), taken: sum((r) => r.probes.taken) },
          failures: runs.flatMap((r) => r.failures).slice(0, 5),
        };
        log(JSON.stringify(results[`power-loss-queue-${mode}-${names}`]));
        save();
      }
    }
  }
} finally {
  cleanupTmp();
}
console.log(JSON.stringify(results, null, 2));
