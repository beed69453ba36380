// W2-single shape; prints the server's minor faults and CPU per job
import fs from "node:fs";
import http from "node:http";
import { startZizq, request, bulkBody, JSON_HEADERS, expectStatus } from "./_lib.ts";
process.env.ZIZQ_SPAWN_BUILT = "1";
const total = 200_000;
const args = (process.env.ARGS ?? "").split(" ").filter(Boolean);
const z = await startZizq("w2f", { quick: false, h2Client: "node" }, args);
const stat = () => { const f = fs.readFileSync(`/proc/${z.pid}/stat`, "utf8").split(") ")[1].split(" "); return { minflt: +f[7], cpu: (+f[11] + +f[12]) * 10_000, user: +f[11] * 10_000, sys: +f[12] * 10_000 }; };
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
if (process.env.PERF) { const { spawn } = await import("node:child_process"); spawn("perf", ["record", "-e", "page-faults", "-g", "-o", "/tmp/perf.data", "-p", String(z.pid)], { stdio: "ignore" }); await new Promise((r) => setTimeout(r, 1000)); }
const a = stat(); const t = performance.now();
for (let i = 0; i < total; i += 1000) expectStatus(await request(agent, `${z.url}/jobs/bulk`, "POST", bulkBody("w2s", i, 1000), JSON_HEADERS), 201);
const s = (performance.now() - t) / 1000; const b = stat();
console.log(`${(total / s).toFixed(0)} jobs/s; server cpu ${((b.cpu - a.cpu) / total).toFixed(1)} µs/job (user ${((b.user - a.user) / total).toFixed(1)}, sys ${((b.sys - a.sys) / total).toFixed(1)}); minor faults ${b.minflt - a.minflt} (${((b.minflt - a.minflt) / total).toFixed(2)}/job)`);
agent.destroy(); await z.stop();
