// /events with a reader that stops reading (a `zizq top` suspended with Ctrl-Z): the
// server must not queue every change frame for it. Black-box over a real socket; the
// server side's backlog is read from the accepted socket itself (its writableLength),
// which is what would grow. Waits are deadlines; no fixed sleeps.

import assert from "node:assert/strict";
import type { Socket } from "node:net";
import { after, before, test } from "node:test";
import { toNodeHandler } from "h3/node";
import WebSocket from "ws";
import { createAdminApp } from "../../lib/http/admin.ts";
import { attachEvents } from "../../lib/http/events.ts";
import { type Listener, listen } from "../../lib/http/listen.ts";
import { type TestServer, eventually, startServer } from "../helpers/server.ts";

type Frame = Record<string, any>;

const HIGH_WATER = 64 * 1024;
let server: TestServer;
let admin: Listener;
let events: { close(): void };
/** The server's side of each accepted /events connection, in order. */
const accepted: Socket[] = [];

before(async () => {
  server = await startServer();
  admin = await listen(toNodeHandler(createAdminApp(server.queue)), { host: "127.0.0.1", port: 0 });
  admin.server.prependListener("upgrade", (_req: unknown, socket: Socket) => accepted.push(socket));
  events = attachEvents(admin.server, server.queue, { heartbeatMs: 50, debounceMs: 10, highWaterBytes: HIGH_WATER });
});

after(async () => {
  events.close();
  await admin.close(100);
  await server.close();
});

interface Reader {
  ws: WebSocket;
  frames: Frame[];
  /** The server's side of this connection. */
  serverSide: Socket;
  send(msg: unknown): void;
  next(pred: (f: Frame) => boolean, from?: number, timeoutMs?: number): Promise<Frame>;
}

async function connect(query = ""): Promise<Reader> {
  const ws = new WebSocket(`${admin.url.replace(/^http/, "ws")}/events${query}`);
  const frames: Frame[] = [];
  ws.on("message", (data) => frames.push(JSON.parse(data.toString())));
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  return {
    ws,
    frames,
    serverSide: accepted.at(-1)!,
    send: (msg) => ws.send(JSON.stringify(msg)),
    next: (pred, from = 0, timeoutMs = 10_000) =>
      eventually(() => frames.slice(from).find(pred), timeoutMs, "a matching frame") as Promise<Frame>,
  };
}

/** The client stops reading: its socket's buffers fill, then the server's. */
function stall(r: Reader): void {
  (r.ws as unknown as { _socket: Socket })._socket.pause();
}

function resume(r: Reader): void {
  (r.ws as unknown as { _socket: Socket })._socket.resume();
}

async function post(path: string, body: unknown, method = "POST"): Promise<any> {
  const res = await fetch(`${server.url}${path}`, { method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const text = await res.text();
  assert.ok(res.status < 300, `${method} ${path}: ${res.status} ${text}`);
  return text === "" ? undefined : JSON.parse(text);
}

const readyIds = (f: Frame): string[] => (f.ready?.items ?? []).map((j: { id: string }) => j.id);

test("a stalled reader of big snapshots: the server's backlog stays near its mark; on reading again it catches up with one snapshot", async () => {
  // 800 ready jobs of ~2 KB each, a window holding them all with payloads: each snapshot ~2 MB.
  const jobs = Array.from({ length: 800 }, (_, i) => ({ type: "t", queue: "big", priority: 1000, payload: { i, pad: "x".repeat(2000) } }));
  const { jobs: made } = await post("/jobs/bulk", { jobs });
  const subscribe = (r: Reader) => {
    r.send({ type: "set_detail_level", detail: true });
    r.send({ type: "subscribe", list: "ready", anchor: { kind: "head" }, limit: 1000 });
  };
  const stalled = await connect();
  const witness = await connect();
  subscribe(stalled);
  subscribe(witness);
  const full = (f: Frame) => f.event === "job_snapshot" && readyIds(f).length === 800 && f.ready.items[0].payload !== undefined;
  await stalled.next(full);
  await witness.next(full);
  stall(stalled);

  // Each patch moves one job to the head: the windows change enough for a new snapshot.
  let maxBacklog = 0;
  let lastId = "";
  for (let round = 0; round < 24; round++) {
    const from = witness.frames.length;
    lastId = made[round].id;
    await post(`/jobs/${lastId}`, { priority: 500 - round }, "PATCH");
    await witness.next((f) => f.event === "job_snapshot" && readyIds(f)[0] === lastId, from);
    maxBacklog = Math.max(maxBacklog, stalled.serverSide.writableLength);
  }
  const witnessSnapshots = witness.frames.filter((f) => f.event === "job_snapshot").length;
  assert.ok(witnessSnapshots >= 24, `the witness got ${witnessSnapshots} snapshots`);
  // At most the mark plus the frame that crossed it (one ~2 MB snapshot); every frame
  // queued (~48 MB) is what the old code held.
  assert.ok(maxBacklog <= HIGH_WATER + 4 * 1024 * 1024, `server-side backlog reached ${maxBacklog} bytes`);

  resume(stalled);
  const caughtUp = await stalled.next((f) => f.event === "job_snapshot" && readyIds(f)[0] === lastId, 0, 20_000);
  assert.equal(readyIds(caughtUp).length, 800);
  const got = stalled.frames.filter((f) => f.event === "job_snapshot").length;
  assert.ok(got < witnessSnapshots / 2, `the stalled reader got ${got} snapshots of ${witnessSnapshots}`);
  // And it is a live session again: heartbeats and diffs come.
  const from = stalled.frames.length;
  await stalled.next((f) => f.event === "heartbeat", from);
  const id = (await post("/jobs", { type: "t", queue: "big", priority: 0, payload: { late: true } })).id;
  await stalled.next((f) => (f.event === "job_changed" && f.id === id) || (f.event === "job_snapshot" && readyIds(f)[0] === id), from);
  stalled.ws.close();
  witness.ws.close();
  await post("/reset", {});
});

test("summary mode: completions while the reader was behind are all counted in its `changed` frames", async () => {
  const { jobs: made } = await post("/jobs/bulk", {
    jobs: Array.from({ length: 300 }, (_, i) => ({ type: "t", queue: "s", payload: { i, pad: "y".repeat(1000) } })),
  });
  const reader = await connect("?mode=summary");
  await reader.next((f) => f.event === "job_snapshot");
  stall(reader);
  // Summary frames are small; subscribe replies are always sent, and with details on each
  // is a ~400 KB snapshot: ask until the server holds a backlog past its mark.
  reader.send({ type: "set_detail_level", detail: true });
  await eventually(() => {
    if (reader.serverSide.writableLength > HIGH_WATER) return true;
    reader.send({ type: "subscribe", list: "ready", anchor: { kind: "head" }, limit: 1000 });
    return false;
  }, 10_000, "a backlog past the mark");

  // Take all 300 and ack them in six batches while the reader is behind.
  const take = await fetch(`${server.url}/jobs/take?prefetch=300&queue=s`, { headers: { accept: "application/x-ndjson" } });
  const body = take.body!.getReader();
  const decoder = new TextDecoder();
  const taken: string[] = [];
  let rest = "";
  while (taken.length < 300) {
    const { value, done } = await body.read();
    assert.ok(!done, "the take stream ended early");
    const lines = (rest + decoder.decode(value, { stream: true })).split("\n");
    rest = lines.pop()!;
    for (const line of lines) if (line.trim()) taken.push(JSON.parse(line).id);
  }
  for (let i = 0; i < 300; i += 50) await post("/jobs/success", { ids: taken.slice(i, i + 50) });
  await body.cancel();
  assert.deepEqual(new Set(taken), new Set(made.map((j: { id: string }) => j.id)));

  resume(reader);
  const completed = () => reader.frames.filter((f) => f.event === "changed").reduce((n, f) => n + f.completed, 0);
  await eventually(() => completed() === 300, 20_000, `300 completions counted (got ${completed()})`);
  reader.ws.close();
});
