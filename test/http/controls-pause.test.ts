// Extension: pause and resume a queue (docs/api.md "Extensions"). A paused queue still
// accepts enqueues, take streams skip it (named or "all queues" streams alike), jobs in
// flight finish normally, a name with no jobs can be paused, GET /queues keeps its shape,
// and bad names are a 400 that changes nothing.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { toNodeHandler } from "h3/node";
import { adminJson } from "../../lib/cli/_admin-request.ts";
import { createAdminApp } from "../../lib/http/admin.ts";
import { listen, type Listener } from "../../lib/http/listen.ts";
import { eventually } from "../helpers/server.ts";
import { assertError, enqueue, getJob, openTake, req, sharedServer, uniq } from "./_client.ts";

const { s, open } = sharedServer();

describe("POST /queues/{queue}/pause and /resume", () => {
  it("a paused queue accepts enqueues but is skipped by take streams; resume delivers", async () => {
    const q = uniq();
    const other = uniq();
    const p = await req(s.url, "POST", `/queues/${q}/pause`);
    assert.equal(p.status, 200, p.text);
    assert.equal(p.body!.name, q);
    assert.equal(p.body!.paused, true);
    assert.equal(typeof p.body!.paused_at, "number");
    const job = await enqueue(s.url, { queue: q });
    assert.equal(job.status, "ready");
    const named = await openTake(s.url, `queue=${q},${other}`);
    open.push(named);
    await enqueue(s.url, { queue: other });
    // The unpaused queue's job arrives; the paused one's never does.
    const first = await named.job(0);
    assert.equal(first.queue, other);
    assert.equal((await getJob(s.url, job.id))!.status, "ready");
    assert.equal((await req(s.url, "POST", `/jobs/${first.id}/success`)).status, 204);
    const r = await req(s.url, "POST", `/queues/${q}/resume`);
    assert.equal(r.status, 200);
    assert.equal(r.body!.paused, false);
    assert.equal(typeof r.body!.resumed_at, "number");
    assert.equal(r.body!.paused_at, p.body!.paused_at);
    const second = await named.job(1);
    assert.equal(second.id, job.id);
  });

  it("streams over all queues skip paused ones too", async () => {
    const own = uniq();
    await req(s.url, "POST", `/queues/${own}/pause`);
    const job = await enqueue(s.url, { queue: own, priority: 0 });
    const all = await openTake(s.url, "prefetch=0");
    open.push(all);
    const marker = await enqueue(s.url, { queue: uniq(), priority: 65535 });
    await eventually(() => all.jobs.some((j) => j.id === marker.id), 10_000, "the unpaused job");
    assert.ok(!all.jobs.some((j) => j.id === job.id), "paused job delivered");
    await req(s.url, "POST", `/queues/${own}/resume`);
    await eventually(() => all.jobs.some((j) => j.id === job.id), 10_000, "the resumed job");
    for (const j of all.jobs) await req(s.url, "POST", `/jobs/${j.id}/success`);
  });

  it("jobs already in flight finish normally after a pause", async () => {
    const q = uniq();
    const job = await enqueue(s.url, { queue: q });
    const t = await openTake(s.url, `queue=${q}`);
    open.push(t);
    await t.job(0);
    await req(s.url, "POST", `/queues/${q}/pause`);
    const v = await req(s.url, "GET", `/queues/${q}`);
    assert.equal(v.body!.counts.in_flight, 1);
    assert.equal((await req(s.url, "POST", `/jobs/${job.id}/success`)).status, 204);
    assert.equal(await getJob(s.url, job.id), undefined);
  });

  it("pause and resume are idempotent; pausing a name with no jobs is allowed", async () => {
    const q = uniq("not-yet");
    assertError(await req(s.url, "GET", `/queues/${q}`), 404, `queue '${q}' not found`);
    const a = await req(s.url, "POST", `/queues/${q}/pause`);
    const b = await req(s.url, "POST", `/queues/${q}/pause`);
    assert.deepEqual(b.body, a.body);
    assert.deepEqual(a.body, {
      name: q, paused: true, paused_at: a.body!.paused_at,
      counts: { scheduled: 0, ready: 0, in_flight: 0, completed: 0, dead: 0 },
    });
    assert.deepEqual((await req(s.url, "GET", `/queues/${q}`)).body, a.body);
    // GET /queues keeps its 0.6 meaning: names of stored jobs only.
    assert.ok(!((await req(s.url, "GET", "/queues")).body!.queues as string[]).includes(q));
    const r1 = await req(s.url, "POST", `/queues/${q}/resume`);
    const r2 = await req(s.url, "POST", `/queues/${q}/resume`);
    assert.deepEqual(r2.body, r1.body);
    // Resuming a name never paused writes nothing and stays unknown.
    const never = uniq("never");
    assert.deepEqual((await req(s.url, "POST", `/queues/${never}/resume`)).body!.paused, false);
    assert.equal((await req(s.url, "GET", `/queues/${never}`)).status, 404);
  });

  it("GET /queues/{queue} counts jobs by status", async () => {
    const q = uniq();
    await enqueue(s.url, { queue: q });
    await enqueue(s.url, { queue: q });
    await enqueue(s.url, { queue: q, ready_at: Date.now() + 3_600_000 });
    const dead = await enqueue(s.url, { queue: q, priority: 0 });
    const t = await openTake(s.url, `queue=${q}&prefetch=1`);
    open.push(t);
    const got = await t.job(0);
    assert.equal(got.id, dead.id);
    await req(s.url, "POST", `/jobs/${dead.id}/failure`, { message: "x", kill: true });
    await t.job(1);
    const v = await req(s.url, "GET", `/queues/${encodeURIComponent(q)}`);
    assert.equal(v.status, 200);
    assert.deepEqual(v.body, { name: q, paused: false, counts: { scheduled: 1, ready: 1, in_flight: 1, completed: 0, dead: 1 } });
  });

  it("bad queue names are a 400 and change nothing; wrong methods are 405", async () => {
    assertError(await req(s.url, "POST", "/queues/a,b/pause"), 400, "queue must not contain ','");
    assertError(await req(s.url, "POST", `/queues/${encodeURIComponent("a*")}/pause`), 400, "queue must not contain '*' (reserved)");
    assertError(await req(s.url, "GET", "/queues/a%00b"), 400, "queue must not contain null bytes");
    assert.equal((await req(s.url, "GET", "/queues/a,b")).status, 400);
    const m = await req(s.url, "GET", "/queues/x/pause");
    assert.equal(m.status, 405);
    assert.equal(m.headers.get("allow"), "POST");
  });
});

describe("admin listener: GET /queues, POST /queues/{queue}/pause|resume (zizq top)", () => {
  let admin: Listener;
  before(async () => {
    admin = await listen(toNodeHandler(createAdminApp(s.queue, { logError: (err) => { throw err; } })), { host: "127.0.0.1", port: 0 });
  });
  after(() => admin.close(100));
  const config = () => ({ url: admin.url, caCertPath: undefined, clientCertPath: undefined, clientKeyPath: undefined });

  it("lists queues with jobs or a pause record, with their pause state; pauses and resumes", async () => {
    const withJobs = uniq("a-jobs");
    const pausedOnly = uniq("b-paused");
    await enqueue(s.url, { queue: withJobs });
    const paused = (await adminJson(config(), "POST", `/queues/${pausedOnly}/pause`)) as Record<string, unknown>;
    assert.equal(paused.paused, true);
    const { queues } = (await adminJson(config(), "GET", "/queues")) as { queues: { name: string; paused: boolean }[] };
    assert.deepEqual(queues.find((q) => q.name === withJobs), { name: withJobs, paused: false });
    assert.equal(queues.find((q) => q.name === pausedOnly)?.paused, true);
    assert.equal(((await req(s.url, "GET", `/queues/${pausedOnly}`)).body!).paused, true);
    await adminJson(config(), "POST", `/queues/${pausedOnly}/resume`);
    assert.equal(((await req(s.url, "GET", `/queues/${pausedOnly}`)).body!).paused, false);
    const bad = await req(admin.url, "POST", "/queues/a,b/pause");
    assertError(bad, 400, "queue must not contain ','");
    await assert.rejects(adminJson(config(), "POST", "/queues/a,b/pause"), /POST \/queues\/a,b\/pause failed: HTTP 400/);
  });
});
