// The SCALE row's "delete 90% + compaction" stall on its own, repeatable in a minute a
// run (docs/benchmarks.md, "Delete + compaction at 10M"). A data dir of N jobs (90% in
// queue Q, 10% in K) is built once and kept in the temp dir; each run copies it, starts
// the built server on the copy with ZIZQ_DEBUG_LOOP_DELAY=1 and --trace-gc, deletes
// queue Q, writes `more` jobs in 100-job requests one at a time (segments seal, compaction
// and a checkpoint run), waits 15 s, and prints the worst loop stall, every stall over
// 15 ms, and the garbage collections from the DELETE on, with their pauses.
//
//   npm run build && node --import tsx bench/delete-stall.ts [jobs=10000000] [runs=1] [more=min(200k, jobs/10)]
//   PROFILE=/tmp/ds node --import tsx bench/delete-stall.ts   # + a CPU profile and the server's log there, per run
//   node --import tsx bench/loop-gaps.ts /tmp/ds/CPU.….cpuprofile /tmp/ds/server-PID.log   # what ran in each stall

import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { spawnServer } from "../test/helpers/server.ts";
import { bulkBody, expectStatus, JSON_HEADERS, keptDataDir, request, sleep } from "./_lib.ts";

const jobs = Number(process.argv[2] ?? 10_000_000);
const runs = Number(process.argv[3] ?? 1);
/** Jobs written after the delete: as many as the SCALE row writes (200k at 10M). */
const more = Number(process.argv[4] ?? Math.min(200_000, jobs / 10));
process.env.ZIZQ_SPAWN_BUILT = "1";

async function run(source: string): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zizq-delete-stall-run-"));
  fs.cpSync(source, dir, { recursive: true });
  fs.rmSync(path.join(dir, ".complete"));
  process.env.ZIZQ_DEBUG_LOOP_DELAY = "1";
  // Sampled every 500 µs: each `loop_gap` in the log, cut from the profile, names what ran.
  const profile = process.env.PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.PROFILE}`, "--cpu-prof-interval=500"] : [];
  const server = await spawnServer(dir, ["--no-admin"], 120_000, ["--trace-gc", ...profile]);
  delete process.env.ZIZQ_DEBUG_LOOP_DELAY;
  let gcLog = "";
  server.child.stdout!.on("data", (d: Buffer) => { gcLog += d.toString(); });
  await sleep(300); // the start-up's GC lines, still in the pipe, arrive first: not ours
  const gcFrom = gcLog.length;
  const startedAt = server.logs().length;
  try {
    const agent = new http.Agent({ keepAlive: true });
    const del = await request(agent, `${server.url}/jobs?queue=Q`, "DELETE");
    expectStatus(del);
    for (let i = 0; i < more / 100; i++) {
      expectStatus(await request(agent, `${server.url}/jobs/bulk`, "POST", bulkBody("more", i * 100, 100), JSON_HEADERS), 201);
    }
    await sleep(15_000);
    agent.destroy();
    const events = server.logs().slice(startedAt).split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, number | string>);
    const worst = Math.max(0, ...events.filter((e) => e.event === "loop_delay").map((e) => e.max_ms as number));
    const gaps = events.filter((e) => e.event === "loop_gap").map((e) => (e.ms as number).toFixed(1));
    // "1234 ms: Scavenge 12.6 (19.1) -> 11.7 (19.1) MB, 0.09 / 0.00 ms": the pause is before " / ".
    const pauses = [...gcLog.slice(gcFrom).matchAll(/ (Scavenge|Mark-Compact)\b.*?MB, ([\d.]+) \//g)].map((m) => ({ kind: m[1], ms: Number(m[2]) }));
    const count = (kind: string) => pauses.filter((p) => p.kind === kind).length;
    console.log(
      `DELETE ${del.ms.toFixed(0)} ms; worst loop stall ${worst} ms; stalls > 15 ms: ${gaps.join(" ") || "none"}; ` +
      `GCs after start: ${count("Scavenge")} scavenges, ${count("Mark-Compact")} mark-compacts, ` +
      `${pauses.reduce((a, p) => a + p.ms, 0).toFixed(0)} ms paused, ${pauses.filter((p) => p.ms > 5).length} pauses > 5 ms, ` +
      `longest ${Math.max(0, ...pauses.map((p) => p.ms)).toFixed(1)} ms`,
    );
  } finally {
    if (process.env.PROFILE) {
      await server.stop(); // the profile is written at a clean exit
      fs.writeFileSync(path.join(process.env.PROFILE, `server-${server.child.pid}.log`), server.logs());
    }
    await server.kill9();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const source = await keptDataDir("delete-stall", jobs);
for (let i = 0; i < runs; i++) await run(source);
