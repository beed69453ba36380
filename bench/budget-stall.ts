// How long other requests wait while a bulk job-budget change runs (POST
// /jobs/budgets/{key} and DELETE /jobs/budgets over every job of a queue): `/health` is
// asked every 100 ms meanwhile, on its own connection, and its slowest answer printed.
// Before the change ran in slices, one synchronous run held the server (~1.1 s at 100k).
//
//   npm run build && node --import tsx bench/budget-stall.ts [jobs=100000]

import http from "node:http";
import { JSON_HEADERS, expectStatus, preload, request, sleep, startZizq } from "./_lib.ts";

process.env.ZIZQ_SPAWN_BUILT = "1";
const jobs = Number(process.argv[2] ?? 100_000);
const zizq = await startZizq("budget-stall", { quick: false, h2Client: "auto" });
try {
  await preload(zizq.url, "q", jobs, 1000, 2);
  const agent = new http.Agent({ keepAlive: true });
  const create = JSON.stringify({ create_with: { allocation: 100, strategy: { type: "while_in_flight" } } });
  for (const [method, path, body] of [["POST", "/jobs/budgets/bb?queue=q", create], ["DELETE", "/jobs/budgets?queue=q", undefined]] as const) {
    let done = false;
    const op = request(agent, `${zizq.url}${path}`, method, body, body ? JSON_HEADERS : {}).finally(() => { done = true; });
    const health: number[] = [];
    while (!done) {
      health.push(expectStatus(await request(new http.Agent(), `${zizq.url}/health`, "GET")).ms);
      await sleep(100);
    }
    const r = expectStatus(await op);
    console.log(`${method} ${path} over ${jobs} jobs: ${r.ms.toFixed(0)} ms; /health during it: ${health.length} asked, slowest ${Math.max(...health).toFixed(1)} ms`);
  }
  agent.destroy();
} finally {
  await zizq.stop();
}
