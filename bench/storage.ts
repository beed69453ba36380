// Storage engine benchmark (issue 2): the store alone, no HTTP. Prints the machine and a
// fixed table with the issue's workloads and targets.
// Run: npm run bench:storage [-- --jobs N] [--profile DIR]
//   --jobs N      jobs per workload (default 1,000,000); smaller for a quick run
//   --profile DIR write a .cpuprofile per timed workload (summarise with bench/profile-top.ts)
// Inputs are deterministic: payload {"n":i,"pad":"x"*100}, ascending SCRU128 ids made before
// each timed call. Data lives in a fresh temp dir (removed at the end).

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import inspector from "node:inspector";
import os from "node:os";
import path from "node:path";
import { Scru128Generator } from "scru128";
import type { JobMeta } from "../lib/storage/codec.ts";
import { liveBytes } from "../lib/storage/compaction.ts";
import { type NewJob, type Store, openStore } from "../lib/storage/store.ts";

const args = process.argv.slice(2);
const arg = (name: string): string | undefined => { const i = args.indexOf(name); return i === -1 ? undefined : args[i + 1]; };

// ---- child mode: RSS of a fresh process holding an existing store ---------------------
if (arg("--child-rss")) {
  const start = performance.now();
  const store = await openStore({ dir: arg("--child-rss")! });
  const openMs = performance.now() - start;
  // Settle as a server would after start-up: V8 frees large ArrayBuffers (the 64 MiB
  // recovery read buffer, the table's outgrown arrays) on a background thread after a GC.
  const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
  for (let i = 0; i < 5; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const { rss, heapUsed } = process.memoryUsage();
  const peak = Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync("/proc/self/status", "utf8"))?.[1] ?? 0) * 1024;
  process.stdout.write(JSON.stringify({ rss, heapUsed, peak, openMs, jobs: store.table.size }));
  await store.close();
  process.exit(0);
}

const JOBS = Number(arg("--jobs") ?? 1_000_000);
const PROFILE = arg("--profile");
const PAD = "x".repeat(100);
const ids = new Scru128Generator();
const T0 = 1_735_689_600_000;

interface Row { workload: string; jobs: number; seconds: number; result: string; target: string; pass: boolean }
const rows: Row[] = [];
const rate = (jobs: number, seconds: number) => `${Math.round(jobs / seconds).toLocaleString("en-US")} jobs/s`;

function batch(from: number, count: number): NewJob[] {
  const jobs: NewJob[] = [];
  for (let i = from; i < from + count; i++) {
    const meta: JobMeta = { id: ids.generate().toString(), status: 1, priority: 0, attempts: 0, readyAtMs: T0, queue: "bench", type: "bench" };
    jobs.push({ meta, payload: Buffer.from(`{"n":${i},"pad":"${PAD}"}`) });
  }
  return jobs;
}

/** Bytes of the files in the segments dir (all, or those whose name starts with `prefix`). */
function diskBytes(dir: string, prefix = ""): number {
  let bytes = 0;
  for (const name of fs.readdirSync(path.join(dir, "segments"))) {
    if (name.startsWith(prefix)) bytes += fs.statSync(path.join(dir, "segments", name)).size;
  }
  return bytes;
}
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/** CPU profile of one timed section, when --profile is set. */
async function profiled<T>(name: string, run: () => Promise<T>): Promise<T> {
  if (!PROFILE) return run();
  const session = new inspector.Session();
  session.connect();
  const post = (method: string, params?: object) => new Promise<unknown>((resolve, reject) =>
    session.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result))));
  await post("Profiler.enable");
  await post("Profiler.start");
  try {
    return await run();
  } finally {
    const { profile } = await post("Profiler.stop") as { profile: unknown };
    fs.mkdirSync(PROFILE, { recursive: true });
    fs.writeFileSync(path.join(PROFILE, `storage-${name}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  }
}

/**
 * Append `count` jobs in batches of 1,000 from `writers` concurrent callers. Returns the
 * store's share of the wall time (the whole run minus the time spent building batches:
 * ids and payloads are the caller's work, and with several writers one builds while
 * another's insert is in flight) and the process CPU per job in µs, likewise net of
 * building (a number contention moves less).
 */
async function append(store: Store, count: number, writers: number): Promise<{ seconds: number; cpuUs: number }> {
  let buildMs = 0;
  let next = 0;
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  await Promise.all(Array.from({ length: writers }, async () => {
    while (next < count) {
      const built = performance.now();
      const jobs = batch(next, Math.min(1000, count - next));
      next += jobs.length;
      buildMs += performance.now() - built;
      await store.insert(jobs, false);
    }
  }));
  const cpu = process.cpuUsage(cpuStart);
  const storeMs = performance.now() - start - buildMs;
  return { seconds: storeMs / 1000, cpuUs: (cpu.user + cpu.system - buildMs * 1000) / count };
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), "zizq-bench-storage-"));
try {
  // 1. Append, buffered, batches of 1,000: one caller, then four at once.
  const dir = path.join(root, "append");
  let store = await openStore({ dir });
  const one = await profiled("append", () => append(store, JOBS, 1));
  rows.push({
    workload: "append, buffered, batches of 1,000", jobs: JOBS, seconds: one.seconds,
    result: `${rate(JOBS, one.seconds)} (${one.cpuUs.toFixed(1)} µs CPU/job)`, target: "≥ 300,000 jobs/s", pass: JOBS / one.seconds >= 300_000,
  });
  await store.close();
  const fourDir = path.join(root, "append-4");
  store = await openStore({ dir: fourDir });
  const four = await append(store, JOBS, 4);
  rows.push({
    workload: "append, buffered, 4 writers × batches of 1,000", jobs: JOBS, seconds: four.seconds,
    result: `${rate(JOBS, four.seconds)} (${four.cpuUs.toFixed(1)} µs CPU/job)`, target: "≥ 300,000 jobs/s", pass: JOBS / four.seconds >= 300_000,
  });
  await store.close();
  fs.rmSync(fourDir, { recursive: true, force: true });

  // 2. RSS of a fresh process holding the 1M ready jobs.
  const child = JSON.parse(execFileSync(process.execPath, ["--expose-gc", "--import", "tsx", import.meta.filename, "--child-rss", dir], { encoding: "utf8" })) as { rss: number; heapUsed: number; peak: number; jobs: number };
  rows.push({
    workload: "RSS, ready jobs in a fresh process (after gc, settled)", jobs: child.jobs, seconds: 0,
    result: `${mb(child.rss)} (heap ${mb(child.heapUsed)}, peak ${mb(child.peak)})`, target: "≤ 250 MB", pass: child.rss <= 250 * 1024 * 1024,
  });

  // 3. Reopen: by a full scan of every segment, then from the checkpoint the close wrote
  // (wall and process CPU: on a busy host CPU moves far less).
  for (const checkpoint of [false, true]) {
    const openStart = performance.now();
    const cpu = process.cpuUsage();
    store = await profiled(checkpoint ? "reopen-checkpoint" : "reopen", () => openStore({ dir, checkpoint }));
    const reopenS = (performance.now() - openStart) / 1000;
    const used = process.cpuUsage(cpu);
    rows.push({
      workload: `reopen with all jobs live, ${checkpoint ? `from the checkpoint (${store.recovery.from})` : "full scan"}`, jobs: store.table.size,
      seconds: reopenS, result: `${reopenS.toFixed(2)} s (CPU ${((used.user + used.system) / 1e6).toFixed(2)} s)`, target: checkpoint ? "≤ 2 s" : "≤ 3 s",
      pass: reopenS <= (checkpoint ? 2 : 3),
    });
    if (!checkpoint) await store.close();
  }

  // 4. Take + ack: peekReady/take, payload read, bulk ack by delete every 1,000.
  const takeS = await profiled("take-ack", async () => {
    const start = performance.now();
    const t = store.table;
    let acks: number[] = [];
    let bytes = 0;
    for (let slot = t.peekReady(); slot !== -1; slot = t.peekReady()) {
      t.take(slot, T0);
      bytes += store.payload(slot).length;
      acks.push(slot);
      if (acks.length === 1000) {
        await store.remove(acks, false);
        acks = [];
      }
    }
    await store.remove(acks, false);
    if (bytes === 0 || t.size !== 0) throw new Error("take+ack left jobs behind");
    return (performance.now() - start) / 1000;
  });
  rows.push({ workload: "take + ack (bulk delete per 1,000)", jobs: JOBS, seconds: takeS, result: rate(JOBS, takeS), target: "≥ 300,000 jobs/s", pass: JOBS / takeS >= 300_000 });
  await store.close();

  // 5. fsync mode: 64 writers, one job per insert, group commit shares the fdatasync.
  const fsyncDir = path.join(root, "fsync");
  store = await openStore({ dir: fsyncDir, syncDirs: true });
  const fsyncJobs = JOBS;
  const fsyncS = await profiled("fsync", async () => {
    let next = 0;
    const start = performance.now();
    await Promise.all(Array.from({ length: 64 }, async () => {
      while (next < fsyncJobs) await store.insert(batch(next++, 1), true);
    }));
    return (performance.now() - start) / 1000;
  });
  rows.push({ workload: "append, fsync, 64 writers × 1 job", jobs: fsyncJobs, seconds: fsyncS, result: rate(fsyncJobs, fsyncS), target: "≥ 50,000 jobs/s", pass: fsyncJobs / fsyncS >= 50_000 });
  await store.close();

  // 6. Disk: delete 90% (keep every 10th), compact, compare with the live bytes.
  for (const segmentBytes of [64 * 1024 * 1024, 4 * 1024 * 1024]) {
    const diskDir = path.join(root, `disk-${segmentBytes}`);
    store = await openStore({ dir: diskDir, segmentBytes });
    const slots: number[] = [];
    for (let i = 0; i < JOBS; i += 1000) slots.push(...await store.insert(batch(i, Math.min(1000, JOBS - i)), false));
    const before = diskBytes(diskDir);
    const doomed = slots.filter((_, i) => i % 10 !== 0);
    for (let i = 0; i < doomed.length; i += 1000) await store.remove(doomed.slice(i, i + 1000), false);
    const start = performance.now();
    await store.compactAll();
    const compactS = (performance.now() - start) / 1000;
    const after = diskBytes(diskDir);
    const spares = diskBytes(diskDir, "spare-");
    const live = liveBytes(store);
    rows.push({
      workload: `disk, delete 90% + compact (${segmentBytes / 1024 / 1024} MiB segments)`, jobs: store.table.size, seconds: compactS,
      result: `${mb(before)} → ${mb(after)} (${mb(spares)} spare), live ${mb(live)}: ${(after / live).toFixed(1)}×`,
      target: "≤ 2× live", pass: after <= 2 * live,
    });
    await store.close();
  }
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}

// ---- report -------------------------------------------------------------------------
const cpus = os.cpus();
console.log(`zizq storage bench: ${JOBS.toLocaleString("en-US")} jobs, payload ${`{"n":0,"pad":"${PAD}"}`.length} bytes`);
console.log(`machine: ${cpus[0]?.model ?? "?"}, ${cpus.length} cores, ${mb(os.totalmem())} RAM, node ${process.version}, ${os.type()} ${os.release()}, data in ${os.tmpdir()}`);
const header = ["workload", "jobs", "time", "result", "target", ""];
const table = rows.map((r) => [r.workload, r.jobs.toLocaleString("en-US"), r.seconds ? `${r.seconds.toFixed(2)} s` : "", r.result, r.target, r.pass ? "ok" : "MISS"]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
console.log(line(header));
console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
for (const row of table) console.log(line(row));
