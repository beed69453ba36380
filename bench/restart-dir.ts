// Restart one kept data dir again and again (the built server, as `npm start` runs it):
// each time spawn → first `/health`, the server's own `recovered` count, RSS at `/health`
// and 2 s later (an idle server: garbage left by recovery shows here), and peak RSS; then
// kill -9. The dir (90% in queue Q, 10% in K, as SCALE loads it) is built on first use and
// kept, so the same command run from a worktree of another commit compares the two
// builds on the same data, in turns:
//   npm run build && node --import tsx bench/restart-dir.ts [jobs=10000000] [runs=3]

import http from "node:http";
import { spawnServer } from "../test/helpers/server.ts";
import { keptDataDir, readMemory, request, sleep } from "./_lib.ts";

const jobs = Number(process.argv[2] ?? 10_000_000);
const runs = Number(process.argv[3] ?? 3);
process.env.ZIZQ_SPAWN_BUILT = "1";

const dir = await keptDataDir("restart", jobs);
for (let i = 0; i < runs; i++) {
  const started = performance.now();
  const server = await spawnServer(dir, ["--no-admin"], 300_000);
  const health = await request(new http.Agent({ keepAlive: false }), `${server.url}/health`, "GET");
  const ms = performance.now() - started;
  const pid = server.child.pid!;
  const atHealth = readMemory(pid);
  await sleep(2000);
  const later = readMemory(pid);
  const line = server.logs().split("\n").find((l) => l.includes('"recovered"')) ?? "";
  await server.kill9();
  console.log(`restart ${i + 1}: /health ${health.status} after ${ms.toFixed(0)} ms; server's count ${/"ms":(\d+)/.exec(line)?.[1] ?? "?"} ms`
    + ` from ${/"from":"(\w+)"/.exec(line)?.[1] ?? "?"}; RSS ${atHealth.rssMb.toFixed(0)} MB, 2 s later ${later.rssMb.toFixed(0)} MB; peak ${later.peakMb.toFixed(0)} MB`);
}
