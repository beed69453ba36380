// Restart one kept data dir again and again (the built server, as `npm start` runs it):
// each time spawn → first `/health`, the server's own `recovered` count, its CPU time
// (all threads) at `/health`, RSS at `/health` and 2 s later (an idle server: garbage
// left by recovery shows here), and peak RSS; then kill -9. The dir (90% in queue Q, 10%
// in K, as SCALE loads it) is built on first use and kept, so the same command run from
// a worktree of another commit compares the two builds on the same data, in turns:
//   npm run build && node --import tsx bench/restart-dir.ts [jobs=10000000] [runs=3]
//
// `--tail N`: what SCALE's restart meets after its W3 rounds. Each run copies the kept
// dir afresh, starts a server on the copy, takes and acks N jobs as W3 does (bench/w3.ts
// takeAndAck: the acks are DELETE records, the closed take streams' jobs META records),
// kill -9s it, and times the restart of the copy. `--prof DIR` runs that restart under
// `--cpu-prof` (stopped by SIGTERM, so the profile also holds the close; read its start
// with `bench/profile-top.ts FILE 25 <ms>`).
//   node --import tsx bench/restart-dir.ts 10000000 3 --tail 300000

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { type SpawnedServer, spawnServer } from "../test/helpers/server.ts";
import { cpuMicros, keptDataDir, readMemory, request, sleep } from "./_lib.ts";
import { takeAndAck } from "./w3.ts";

const { values, positionals } = parseArgs({ allowPositionals: true, options: { tail: { type: "string" }, prof: { type: "string" } } });
const jobs = Number(positionals[0] ?? 10_000_000);
const runs = Number(positionals[1] ?? 3);
const tail = values.tail === undefined ? undefined : Number(values.tail);
const profDir = values.prof === undefined ? undefined : path.resolve(values.prof);
process.env.ZIZQ_SPAWN_BUILT = "1";

const kept = await keptDataDir("restart", jobs);

/** A fresh copy of the kept dir with N jobs taken and acked after its checkpoint, by a server then killed. */
async function withTail(n: number): Promise<{ dir: string; note: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zizq-restart-tail-"));
  execFileSync("cp", ["-a", `${kept}/.`, dir]);
  // The copy's 2.8 GB of dirty pages, written back during the restart, doubled it (11 s).
  execFileSync("sync");
  const server = await spawnServer(dir, ["--no-admin"], 300_000);
  const { seconds } = n > 0 ? await takeAndAck(server.url, n, "json") : { seconds: 0 };
  await server.kill9();
  return { dir, note: `tail of ${n} acks (${(n / Math.max(seconds, 1e-9) / 1000).toFixed(0)}k/s); ` };
}

for (let i = 0; i < runs; i++) {
  const { dir, note } = tail === undefined ? { dir: kept, note: "" } : await withTail(tail);
  let server: SpawnedServer | undefined;
  try {
    const started = performance.now();
    server = await spawnServer(dir, ["--no-admin"], 300_000, profDir ? ["--cpu-prof", "--cpu-prof-dir", profDir] : []);
    const health = await request(new http.Agent({ keepAlive: false }), `${server.url}/health`, "GET");
    const ms = performance.now() - started;
    const pid = server.child.pid!;
    const cpuMs = cpuMicros(pid) / 1000;
    const atHealth = readMemory(pid);
    await sleep(2000);
    const later = readMemory(pid);
    const line = server.logs().split("\n").find((l) => l.includes('"recovered"')) ?? "";
    if (profDir) await server.stop();
    else await server.kill9();
    console.log(`restart ${i + 1}: ${note}/health ${health.status} after ${ms.toFixed(0)} ms; server's count ${/"ms":(\d+)/.exec(line)?.[1] ?? "?"} ms`
      + ` from ${/"from":"(\w+)"/.exec(line)?.[1] ?? "?"} (replayed ${/"replayed_bytes":(\d+)/.exec(line)?.[1] ?? "?"} bytes); CPU ${cpuMs.toFixed(0)} ms at /health;`
      + ` RSS ${atHealth.rssMb.toFixed(0)} MB, 2 s later ${later.rssMb.toFixed(0)} MB; peak ${later.peakMb.toFixed(0)} MB`);
  } finally {
    await server?.kill9();
    if (dir !== kept) fs.rmSync(dir, { recursive: true, force: true });
  }
}
