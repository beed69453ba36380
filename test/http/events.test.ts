// The admin WebSocket /events (API.md §5.1), black-box: a real primary listener for
// enqueue/take/ack over HTTP, an admin listener with the event stream on the same queue,
// and a `ws` client. Waits poll the received frames; no fixed sleeps.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { toNodeHandler } from "h3/node";
import WebSocket from "ws";
import { createAdminApp } from "../../lib/http/admin.ts";
import { attachEvents } from "../../lib/http/events.ts";
import { enqueue as enqueueParsed } from "../../lib/queue/enqueue.ts";
import { type Listener, listen } from "../../lib/http/listen.ts";
import { type TestServer, eventually, spawnServer, startServer } from "../helpers/server.ts";
import { tmpDir } from "../helpers/tmp.ts";

type Frame = Record<string, any>;

let server: TestServer;
let admin: Listener;
let events: { close(): void };

before(async () => {
  server = await startServer();
  admin = await listen(toNodeHandler(createAdminApp(server.queue)), { host: "127.0.0.1", port: 0 });
  events = attachEvents(admin.server, server.queue, { heartbeatMs: 100, debounceMs: 20 });
});

after(async () => {
  events.close();
  await admin.close(100);
  await server.close();
});

interface Client {
  frames: Frame[];
  /** When each frame arrived (performance.now()), by index. */
  at: number[];
  raw: string[];
  send(msg: unknown): void;
  /** The first frame after index `from` that satisfies `pred`. */
  next(pred: (f: Frame) => boolean, from?: number): Promise<Frame>;
  close(): void;
}

async function connect(query = ""): Promise<Client> {
  const ws = new WebSocket(`${admin.url.replace(/^http/, "ws")}/events${query}`);
  const frames: Frame[] = [];
  const at: number[] = [];
  const raw: string[] = [];
  ws.on("message", (data) => {
    at.push(performance.now());
    raw.push(data.toString());
    frames.push(JSON.parse(data.toString()));
  });
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  return {
    frames,
    at,
    raw,
    send: (msg) => ws.send(typeof msg === "string" ? msg : JSON.stringify(msg)),
    next: (pred, from = 0) => eventually(() => frames.slice(from).find(pred), 5000, "a matching frame") as Promise<Frame>,
    close: () => ws.close(),
  };
}

async function enqueue(body: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${server.url}/jobs`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ type: "t", queue: "q", payload: {}, ...body }),
  });
  assert.equal(res.status, 201);
  return ((await res.json()) as { id: string }).id;
}

const reset = () => fetch(`${server.url}/reset`, { method: "POST" });
const ids = (w: { items: { id: string }[] }) => w.items.map((j) => j.id);
const snapshotAfter = (c: Client, from: number) => c.next((f) => f.event === "job_snapshot", from);

test("connect: a job_snapshot with three windows; frames start with server; no subscription_limit", async () => {
  await reset();
  const a = await enqueue({ priority: 5 });
  const c = await connect();
  const snap = await c.next((f) => f.event === "job_snapshot");
  for (const list of ["ready", "in_flight", "scheduled"]) assert.equal(snap[list].first_position, 0);
  assert.deepEqual(ids(snap.ready), [a]);
  assert.equal(snap.ready.total, 1);
  assert.deepEqual(Object.keys(snap.ready.items[0]).sort(), ["attempts", "id", "job_type", "priority", "queue", "ready_at"]);
  assert.equal(snap.server.tier, "pro");
  assert.equal(snap.server.total_ready, 1);
  await c.next((f) => f.event === "heartbeat");
  for (const text of c.raw) {
    assert.ok(text.startsWith('{"server":'), text.slice(0, 40));
    assert.ok(!text.includes("subscription_limit"));
  }
  c.close();
});

test("enqueue, take, ack and schedule produce job_changed diffs, removals first", async () => {
  await reset();
  const c = await connect();
  await c.next((f) => f.event === "job_snapshot");
  let from = c.frames.length;
  const a = await enqueue({});
  const added = await c.next((f) => f.event === "job_changed" && f.id === a, from);
  assert.equal(added.status, "ready");
  assert.equal(added.job.job_type, "t");

  from = c.frames.length;
  const jobs: string[] = [];
  const taker = server.queue.take({ prefetch: 1, deliver: (j) => { jobs.push(j.job.id); return true; } });
  await c.next((f) => f.event === "job_changed" && f.status === "in_flight" && f.id === a, from);
  const diff = c.frames.slice(from).filter((f) => f.event === "job_changed");
  const removedAt = diff.findIndex((f) => f.status === "ready_removed" && f.id === a);
  const addedAt = diff.findIndex((f) => f.status === "in_flight" && f.id === a);
  assert.ok(removedAt >= 0 && removedAt < addedAt, JSON.stringify(diff));
  assert.equal(typeof diff[addedAt].job.dequeued_at, "number");

  from = c.frames.length;
  assert.equal((await fetch(`${server.url}/jobs/${a}/success`, { method: "POST" })).status, 204);
  await c.next((f) => f.event === "job_changed" && f.status === "in_flight_removed" && f.id === a, from);
  const done = c.frames.slice(from).filter((f) => f.event === "job_changed").map((f) => f.status);
  assert.deepEqual(done, ["completed", "in_flight_removed"]);
  taker.close();

  from = c.frames.length;
  const s = await enqueue({ ready_at: Date.now() + 3_600_000 });
  const sched = await c.next((f) => f.event === "job_changed" && f.id === s, from);
  assert.equal(sched.status, "scheduled");
  c.close();
});

test("subscribe anchors: head, tail, offset clamped, around with fallback", async () => {
  await reset();
  const all: string[] = [];
  for (let i = 0; i < 10; i++) all.push(await enqueue({ priority: 100 }));
  const c = await connect();
  await c.next((f) => f.event === "job_snapshot");
  const sub = async (anchor: unknown, limit = 4) => {
    const from = c.frames.length;
    c.send({ type: "subscribe", list: "ready", anchor, limit });
    return (await snapshotAfter(c, from)).ready;
  };
  assert.deepEqual(ids(await sub({ kind: "head" })), all.slice(0, 4));
  const tail = await sub({ kind: "tail" });
  assert.deepEqual([ids(tail), tail.first_position, tail.total], [all.slice(6), 6, 10]);
  assert.equal((await sub({ kind: "offset", offset: 3 })).first_position, 3);
  assert.equal((await sub({ kind: "offset", offset: 99 })).first_position, 6);
  const around = await sub({ kind: "around", id: all[5] });
  assert.deepEqual([around.first_position, around.resolved_anchor], [3, all[5]]);
  const gone = "0".repeat(26);
  assert.deepEqual((await sub({ kind: "around", id: gone })).items, []);
  assert.deepEqual(ids(await sub({ kind: "around", id: gone, fallback: "tail" })), all.slice(6));
  c.close();
});

test("find: forward, backward, locate, null results; set_detail_level; delete_job; bad frames ignored", async () => {
  await reset();
  const a = await enqueue({ queue: "emails", type: "welcome" });
  const b = await enqueue({ queue: "billing", type: "invoice" });
  // A budgeted (parked) job is in the ready list like any ready job; its budgets show at detail level.
  const budget = await fetch(`${server.url}/budgets/ev`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ allocation: 1, strategy: { type: "while_in_flight" } }),
  });
  assert.equal(budget.status, 201);
  const d = await enqueue({ queue: "emails-bulk", type: "digest", payload: { n: 1 }, retry_limit: 3, budgets: [{ key: "ev", cost: 1 }] });
  const c = await connect();
  await c.next((f) => f.event === "job_snapshot");
  const find = async (msg: Record<string, unknown>) => {
    const from = c.frames.length;
    c.send({ type: "find", list: "ready", limit: 10, ...msg });
    return c.next((f) => f.event === "find_result", from);
  };
  c.send("not json");
  let r = await find({ anchor: { kind: "start" }, direction: "forward", query: { queues: ["mail"] } });
  assert.equal(r.matched_position, 0);
  assert.deepEqual(ids(r.window), [a, b, d]);
  r = await find({ anchor: { kind: "job_id", id: a }, direction: "forward", query: { queues: ["mail"] } });
  assert.equal(r.matched_position, 2);
  r = await find({ anchor: { kind: "end" }, direction: "backward", query: { queues: ["bill", "nothing"], types: ["voice"] } });
  assert.equal(r.matched_position, 1);
  r = await find({ anchor: { kind: "job_id", id: d }, direction: "locate" });
  assert.equal(r.matched_position, 2);
  assert.equal(r.window.items[2].payload, undefined);
  assert.equal(r.window.items[2].budgets, undefined, "budgets only at detail level");
  for (const miss of [
    { anchor: { kind: "start" }, direction: "backward" },
    { anchor: { kind: "end" }, direction: "forward" },
    { anchor: { kind: "start" }, direction: "forward", query: { types: ["nope"] } },
    { anchor: { kind: "job_id", id: "0".repeat(26) }, direction: "locate" },
  ]) {
    r = await find(miss);
    assert.equal(r.matched_position, null);
    assert.deepEqual(r.window.items, []);
  }

  let from = c.frames.length;
  c.send({ type: "set_detail_level", detail: true });
  const detailed = (await snapshotAfter(c, from)).ready.items.find((j: Frame) => j.id === d);
  assert.deepEqual([detailed.payload, detailed.retry_limit, detailed.budgets], [{ n: 1 }, 3, [{ key: "ev", cost: 1 }]]);

  from = c.frames.length;
  c.send({ type: "delete_job", id: b });
  await c.next((f) => f.event === "job_changed" && f.status === "ready_removed" && f.id === b, from);
  assert.equal((await fetch(`${server.url}/jobs/${b}`)).status, 404);

  from = c.frames.length;
  const patched = await fetch(`${server.url}/jobs/${a}`, {
    method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify({ priority: 7 }),
  });
  assert.equal(patched.status, 200);
  const after = await snapshotAfter(c, from);
  assert.deepEqual(ids(after.ready), [a, d]);
  c.close();
});

test("a client message over 64 KiB closes that session (1009); the server goes on", async () => {
  const closed = new Promise<number>((resolve) => {
    const raw = new WebSocket(`${admin.url.replace(/^http/, "ws")}/events`);
    raw.once("open", () => raw.send("[".repeat(70_000)));
    raw.once("close", (code) => resolve(code));
    setTimeout(() => { resolve(-1); raw.terminate(); }, 10_000).unref(); // a deadline, not a wait
  });
  assert.equal(await closed, 1009);
  const c = await connect(); // others still connect and get their snapshot
  await c.next((f) => f.event === "job_snapshot");
  c.close();
});

test("zizq serve wires /events on the admin listener; other upgrade paths are refused", async () => {
  const spawned = await spawnServer(tmpDir());
  try {
    const base = spawned.adminUrl!.replace(/^http/, "ws");
    const ws = new WebSocket(`${base}/events`);
    const first = await new Promise<string>((resolve, reject) => {
      ws.once("message", (data) => resolve(data.toString()));
      ws.once("error", reject);
    });
    assert.match(first, /^\{"server":\{"version":"[^"]+","uptime_ms":\d+,"tier":"pro"/);
    assert.equal(JSON.parse(first).event, "job_snapshot");
    ws.close();
    const other = new WebSocket(`${base}/nope`);
    await new Promise<void>((resolve) => other.once("error", () => resolve()));
  } finally {
    await spawned.stop();
  }
});

test("deeply nested payloads with details on: snapshots and diffs still come, payloads exact (issue 12 §5)", async () => {
  await reset();
  const depth = 20_000;
  const deep = "[".repeat(depth) + "]".repeat(depth);
  // Enqueue refuses payloads jq cannot read (256 units, test/http/limits.test.ts), but a
  // batch fold's output or a data dir from before that rule can hold one: put it in the
  // way they do, past the request parser.
  const enqueueRaw = async (payloadJson: string) => {
    const [done] = await enqueueParsed(server.queue.ctx, [{ type: "t", queue: "deep", payloadJson, priority: 32768, options: {} }], Date.now());
    return done.job.id;
  };
  const a = await enqueueRaw(deep);
  const c = await connect();
  await c.next((f) => f.event === "job_snapshot");
  let from = c.frames.length;
  c.send({ type: "set_detail_level", detail: true });
  const snap = await snapshotAfter(c, from);
  const rawSnap = c.raw[c.frames.indexOf(snap)]!;
  assert.ok(rawSnap.includes(`"payload":${deep}`), "the payload is in the frame, exactly");
  assert.equal(snap.ready.items[0].id, a);
  from = c.frames.length;
  c.send({ type: "subscribe", list: "ready", anchor: { kind: "head" }, limit: 10 });
  await snapshotAfter(c, from);
  from = c.frames.length;
  const b = await enqueueRaw(`{"k":${deep}}`);
  const added = await c.next((f) => f.event === "job_changed" && f.id === b && f.status === "ready", from);
  assert.ok(c.raw[c.frames.indexOf(added)]!.includes(`"payload":{"k":${deep}}`));
  c.close();
});

test("summary mode: `changed` frames ≥ 250 ms apart under steady changes, the first after a quiet spell at once; completed counts add up", async () => {
  await reset();
  const c = await connect();
  await c.next((f) => f.event === "job_snapshot");
  c.send({ type: "set_change_mode", mode: "summary" });
  for (const list of ["ready", "in_flight", "scheduled"]) c.send({ type: "subscribe", list, anchor: { kind: "head" }, limit: 0 });
  await eventually(() => c.frames.filter((f) => f.event === "job_snapshot").length >= 4, 5000, "the subscribes' snapshots");
  const from = c.frames.length;
  const started = performance.now();
  // An isolated change: out after the debounce (20 ms here), not after the gap.
  await enqueue({ queue: "sum" });
  const first = await c.next((f) => f.event === "changed", from);
  const firstMs = c.at[c.frames.indexOf(first)] - started;
  assert.ok(firstMs < 200, `first changed frame after ${Math.round(firstMs)} ms`);
  // Then a change every 10 ms for a second, taken and acked in batches.
  const held: string[] = [];
  const take = server.queue.take({ prefetch: 0, queues: ["sum"], deliver: (j) => (held.push(j.job.id), true) });
  let acked = 0;
  const steadyFrom = c.frames.length;
  const steadyAt = performance.now();
  while (performance.now() - steadyAt < 1000) {
    await server.queue.enqueueBulk({ jobs: [{ type: "t", queue: "sum", payload: 1 }, { type: "t", queue: "sum", payload: 2 }] });
    const ids = held.splice(0);
    if (ids.length > 0) acked += ids.length - (await server.queue.completeMany({ ids })).length;
    await new Promise((r) => setTimeout(r, 10));
  }
  await eventually(() => acked > 0 && c.frames.slice(steadyFrom).filter((f) => f.event === "changed").reduce((n, f) => n + f.completed, 0) === acked,
    5000, "changed frames counting every ack");
  const steady = c.at.filter((_, i) => i >= steadyFrom && c.frames[i].event === "changed");
  const gaps = steady.slice(1).map((t, i) => t - steady[i]);
  assert.ok(gaps.length >= 2 && gaps.length <= 6, `${steady.length} changed frames in ~1 s: ${gaps.map(Math.round)}`);
  // The server keeps 250 ms between flushes; arrival times here add some jitter.
  for (const gap of gaps) assert.ok(gap >= 150, `changed frames ${Math.round(gap)} ms apart (debounce 20 ms)`);
  assert.equal(c.frames.slice(from).filter((f) => f.event === "job_changed").length, 0);
  take.close();
  c.close();
});

test("?mode=summary: summary mode and no windows from the handshake on; subscribe still opens a window", async () => {
  await reset();
  const [a, b] = [await enqueue({ queue: "hs" }), await enqueue({ queue: "hs" })];
  const c = await connect("?mode=summary");
  const first = await c.next(() => true);
  assert.equal(first.event, "job_snapshot");
  for (const list of ["ready", "in_flight", "scheduled"]) assert.deepEqual(first[list].items, [], list);
  assert.equal(first.ready.total, 2);
  assert.equal(first.server.total_ready, 2);
  let from = c.frames.length;
  await enqueue({ queue: "hs" });
  const changed = await c.next((f) => f.event === "changed", from);
  assert.equal(changed.server.total_ready, 3);
  assert.equal(c.frames.slice(from).filter((f) => f.event === "job_changed").length, 0);
  from = c.frames.length;
  c.send({ type: "subscribe", list: "ready", anchor: { kind: "head" }, limit: 2 });
  assert.deepEqual(ids((await snapshotAfter(c, from)).ready), [a, b]);
  c.close();
});
