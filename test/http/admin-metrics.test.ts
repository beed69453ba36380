// Admin extensions, black-box against a real `zizq serve`: GET /metrics (Prometheus
// text), GET /stats (the dashboard's overview), the /api mount of the primary API, and
// the cross-site check on the admin listener's actions and its /events WebSocket.

import assert from "node:assert/strict";
import http from "node:http";
import { after, before, it } from "node:test";
import WebSocket from "ws";
import { openTake, req, uniq } from "./_client.ts";
import { type SpawnedServer, eventually, spawnServer } from "../helpers/server.ts";
import { type Seeded, seedEveryStatus } from "../helpers/seed.ts";
import { tmpDir } from "../helpers/tmp.ts";

let server: SpawnedServer;
let admin: string;
let seeded: Seeded;
const qa = uniq("mail");
const qb = uniq("img");

before(async () => {
  server = await spawnServer(tmpDir(), ["--default-commit-mode", "fsync"]);
  admin = server.adminUrl!;
  seeded = await seedEveryStatus(server.url, [qa, qb]);
});
after(async () => {
  await seeded?.take.close();
  await server?.stop();
});

/** `name{labels} value` lines of a Prometheus text body, as a lookup. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

it("GET /metrics: jobs by queue and status, totals, wait histogram, commit and process metrics", async () => {
  const r = await fetch(`${admin}/metrics`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
  const m = samples(await r.text());
  for (const q of [qa, qb]) {
    for (const status of ["scheduled", "ready", "in_flight", "completed", "dead"]) {
      assert.equal(m.get(`zizq_jobs{queue="${q}",status="${status}"}`), 1, `${q} ${status}`);
    }
    assert.equal(m.get(`zizq_jobs_enqueued_total{queue="${q}"}`), 5);
    assert.equal(m.get(`zizq_jobs_completed_total{queue="${q}"}`), 1);
    assert.equal(m.get(`zizq_jobs_failed_total{queue="${q}"}`), 1);
    assert.equal(m.get(`zizq_jobs_dead_total{queue="${q}"}`), 1);
    assert.equal(m.get(`zizq_job_wait_seconds_count{queue="${q}"}`), 3);
    assert.equal(m.get(`zizq_job_wait_seconds_bucket{queue="${q}",le="+Inf"}`), 3);
  }
  assert.equal(m.get("zizq_take_streams"), 1);
  assert.ok(m.get("zizq_commit_batch_records_count")! > 0);
  assert.ok(m.get("zizq_fsync_seconds_count")! > 0, "fsync commit mode syncs every write");
  assert.ok(m.get("zizq_disk_bytes")! > 0);
  assert.ok(m.get("process_resident_memory_bytes")! > 0);
  assert.ok(m.has("nodejs_heap_size_used_bytes"));
  assert.ok(m.has("nodejs_eventloop_lag_p99_seconds") && m.has("nodejs_eventloop_lag_max_seconds"));
  assert.ok(m.has("zizq_compaction_segments_total"));
});

it("GET /stats: counts by queue, the 15-minute ring, wait quantiles and server facts", async () => {
  const r = await req(admin, "GET", "/stats");
  assert.equal(r.status, 200);
  const s = r.body!;
  assert.equal(s.server.commit_mode, "fsync");
  assert.ok(s.server.rss_bytes > 0 && s.server.disk_bytes > 0 && s.server.uptime_ms >= 0);
  const a = s.queues.find((q: { name: string }) => q.name === qa);
  assert.deepEqual(a.counts, { scheduled: 1, ready: 1, in_flight: 1, completed: 1, dead: 1 });
  assert.equal(a.totals.enqueued, 5);
  assert.equal(a.paused, false);
  assert.equal(s.throughput.seconds, 900);
  assert.equal(s.throughput.enqueued.length, 900);
  assert.ok(s.throughput.enqueued.reduce((x: number, y: number) => x + y) >= 10);
  assert.equal(typeof s.wait[0].p50_ms, "number");
  assert.equal((await req(admin, "GET", "/stats?seconds=60")).body!.throughput.enqueued.length, 60);
  const bad = await req(admin, "GET", "/stats?seconds=0");
  assert.equal(bad.status, 400);
  assert.match(bad.body!.error, /seconds must be/);
});

it("/api mounts the primary API (read and write) but not take streams", async () => {
  const id = seeded.byStatus.ready[0].id;
  const got = await req(admin, "GET", `/api/jobs/${id}`);
  assert.equal(got.status, 200);
  assert.deepEqual(got.body!.payload, { q: qa, i: 3 });
  const missing = await req(admin, "GET", "/api/jobs/nope");
  assert.equal(missing.status, 404);
  assert.equal(missing.body!.error, "job not found");
  const take = await req(admin, "GET", "/api/jobs/take");
  assert.equal(take.status, 404);
  const patched = await req(admin, "PATCH", `/api/jobs/${id}`, { priority: 7 });
  assert.equal(patched.status, 200);
  assert.equal((await req(server.url, "GET", `/jobs/${id}`)).body!.priority, 7);
});

it("/api caps request bodies as the primary does: a chunked body over 1 MiB is a JSON 413", async () => {
  const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const r = http.request(`${admin}/api/jobs`, { method: "POST", headers: { "content-type": "application/json", "transfer-encoding": "chunked" } }, (response) => {
      let body = "";
      response.setEncoding("utf8").on("data", (c: string) => (body += c)).on("end", () => resolve({ status: response.statusCode!, body }));
    });
    r.on("error", reject);
    // No content-length: the cap must hold while the body streams in.
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    for (let i = 0; i < 32; i++) r.write(chunk);
    r.end();
  });
  assert.equal(res.status, 413);
  assert.match(JSON.parse(res.body).error, /request body too large/);
  assert.equal((await req(admin, "GET", "/stats?seconds=1")).status, 200);
});

it("cross-site browser requests are refused on actions and on /events; same-origin and non-browser pass", async () => {
  const id = seeded.byStatus.scheduled[1].id;
  const foreign = await req(admin, "DELETE", `/api/jobs/${id}`, undefined, { origin: "https://evil.example" });
  assert.equal(foreign.status, 403);
  assert.match(foreign.body!.error, /cross-site/);
  const fetchSite = await req(admin, "POST", "/compact", undefined, { "sec-fetch-site": "cross-site" });
  assert.equal(fetchSite.status, 403);
  assert.equal((await req(server.url, "GET", `/jobs/${id}`)).status, 200, "nothing was deleted");
  const host = new URL(admin).host;
  const same = await req(admin, "DELETE", `/api/jobs/${id}`, undefined, { origin: `http://${host}`, "sec-fetch-site": "same-origin" });
  assert.equal(same.status, 204);
  assert.equal((await req(server.url, "GET", `/jobs/${id}`)).status, 404);
  const wsUrl = `${admin.replace(/^http/, "ws")}/events`;
  const refused = await new Promise<number>((resolve) => {
    const ws = new WebSocket(wsUrl, { origin: "https://evil.example" });
    ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
    ws.on("open", () => { ws.close(); resolve(101); });
    ws.on("error", () => {});
  });
  assert.equal(refused, 403);
  const accepted = await new Promise<boolean>((resolve) => {
    const ws = new WebSocket(wsUrl, { origin: `http://${host}` });
    ws.on("message", () => { ws.close(); resolve(true); });
    ws.on("error", () => resolve(false));
  });
  assert.ok(accepted);
});

it("/events summary mode (set_change_mode): one `changed` frame per batch of changes, no per-job completed frames", async () => {
  const q = uniq("sum");
  const ws = new WebSocket(`${admin.replace(/^http/, "ws")}/events`);
  const frames: { event: string; completed?: number; status?: string }[] = [];
  ws.on("message", (d) => frames.push(JSON.parse(d.toString())));
  await new Promise((resolve) => ws.once("open", resolve));
  ws.send(JSON.stringify({ type: "set_change_mode", mode: "summary" }));
  // limit 0 (summary mode only): an empty window that still carries the list's total.
  ws.send(JSON.stringify({ type: "subscribe", list: "scheduled", anchor: { kind: "head" }, limit: 0 }));
  await eventually(() => frames.filter((f) => f.event === "job_snapshot").length >= 2, 20_000, "the subscribe's snapshot");
  const snap = frames.filter((f) => f.event === "job_snapshot")[1] as unknown as { scheduled: { items: unknown[]; total: number } };
  assert.deepEqual(snap.scheduled.items, []);
  assert.equal(snap.scheduled.total, (await req(admin, "GET", "/stats")).body!.counts.scheduled);
  const take = await openTake(server.url, `queue=${q}&prefetch=1`);
  const job = (await req(server.url, "POST", "/jobs", { type: "t", queue: q, payload: null })).body!;
  await take.waitJobs(1, 20_000);
  assert.equal((await req(server.url, "POST", `/jobs/${job.id}/success`)).status, 204);
  await eventually(() => frames.some((f) => f.event === "changed" && f.completed! >= 1), 20_000, "a changed frame counting the ack");
  assert.equal(frames.filter((f) => f.event === "job_changed" && f.status === "completed").length, 0);
  await take.close();
  ws.close();
});

it("a retry counts in zizq_jobs_retried_total and in the /stats totals", async () => {
  const dead = seeded.byStatus.dead[1];
  assert.equal((await req(server.url, "POST", `/jobs/${dead.id}/retry`)).status, 200);
  const m = samples(await (await fetch(`${admin}/metrics`)).text());
  assert.equal(m.get(`zizq_jobs_retried_total{queue="${qb}"}`), 1);
  const s = (await req(admin, "GET", "/stats")).body!;
  assert.equal(s.queues.find((q: { name: string }) => q.name === qb).totals.retried, 1);
});
