// The two CPU phases of a restart from a checkpoint, alone and in-process: loading the
// kept dir's checkpoint into a table (read, chunk CRCs, column copies, the id index),
// then rebuilding the ready indexes as the store does after replay. Prints the wall
// and CPU time of each (and of indexRestored, the id index's share of the load), RSS
// after and peak RSS. One load per process: run it alternately from two worktrees.
//   node --import tsx bench/checkpoint-load.ts [jobs in the dir=10000000]

import { loadCheckpoint } from "../lib/storage/checkpoint.ts";
import { nodeFs } from "../lib/storage/fs-port.ts";
import { JobTable } from "../lib/storage/job-table.ts";
import { type BlobEntry, rebuildIndexes } from "../lib/storage/replay.ts";
import { keptDataDir } from "./_lib.ts";

process.env.ZIZQ_SPAWN_BUILT = "1"; // a dir built on first use is built as restart-dir.ts builds it
const dir = await keptDataDir("restart", Number(process.argv[2] ?? 10_000_000));

const cpuMs = (since: NodeJS.CpuUsage): number => {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
};

const table = new JobTable();
const blobs = new Map<string, BlobEntry>();
// The id index's share, timed from outside so the same file measures any commit.
let indexMs = 0;
const indexRestored = table.indexRestored.bind(table);
table.indexRestored = () => {
  const t0 = performance.now();
  indexRestored();
  indexMs += performance.now() - t0;
};

let cpu = process.cpuUsage();
let t0 = performance.now();
const loaded = await loadCheckpoint(nodeFs, dir, table, blobs);
if (typeof loaded === "string") throw new Error(`no usable checkpoint in ${dir}: ${loaded}`);
const load = { ms: performance.now() - t0, cpu: cpuMs(cpu) };

cpu = process.cpuUsage();
t0 = performance.now();
rebuildIndexes(table, Date.now());
const rebuild = { ms: performance.now() - t0, cpu: cpuMs(cpu) };

const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);
console.log(
  `load ${load.ms.toFixed(0)} ms (CPU ${load.cpu.toFixed(0)}; id index ${indexMs.toFixed(0)} ms wall)`
  + ` | rebuildIndexes ${rebuild.ms.toFixed(0)} ms (CPU ${rebuild.cpu.toFixed(0)})`
  + ` | total CPU ${(load.cpu + rebuild.cpu).toFixed(0)} ms | RSS ${mb(process.memoryUsage().rss)} MB, peak ${mb(process.resourceUsage().maxRSS * 1024)} MB`
  + ` | ${table.size} jobs`,
);
