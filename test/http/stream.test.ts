// Take-stream transport (API.md §1.3, §3.6): framing byte by byte, heartbeats, coalescing,
// congestion and cancel; then over real sockets (HTTP/1.1 and h2c) with the test app.

import assert from "node:assert/strict";
import http from "node:http";
import type http2 from "node:http2";
import { after, before, describe, it } from "node:test";
import { decode } from "@msgpack/msgpack";
import { toNodeHandler } from "h3/node";
import { RawJson } from "../../lib/http/codec.ts";
import { listen, type Listener } from "../../lib/http/listen.ts";
import { createTakeStream, frameJob, HEARTBEAT_FRAMES } from "../../lib/http/stream.ts";
import { createTestApp, h2Connect, waitFor, type TestApp } from "./_transport.ts";

const JOB = { id: "03fr1jkpcsipbsckqj0y6pgr7", status: "in_flight", payload: new RawJson('{"n":1}'), ready_at: 1_735_689_600_000 };
const JOB_JSON = '{"id":"03fr1jkpcsipbsckqj0y6pgr7","status":"in_flight","payload":{"n":1},"ready_at":1735689600000}';
const JOB_VALUE = JSON.parse(JOB_JSON);
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString();

/** Splits a msgpack stream into its complete frames; heartbeats come back as null. */
function msgpackFrames(bytes: Buffer): unknown[] {
  const frames: unknown[] = [];
  for (let pos = 0; pos + 4 <= bytes.length; ) {
    const length = bytes.readUInt32BE(pos);
    if (pos + 4 + length > bytes.length) break;
    frames.push(length === 0 ? null : decode(bytes.subarray(pos + 4, pos + 4 + length)));
    pos += 4 + length;
  }
  return frames;
}

describe("frameJob and heartbeat frames", () => {
  it("ndjson: compact JSON + newline; heartbeat is a lone newline", () => {
    assert.equal(text(frameJob(JOB, "ndjson")), JOB_JSON + "\n");
    assert.equal(text(HEARTBEAT_FRAMES.ndjson), "\n");
  });
  it("sse: data line + blank line; heartbeat is a comment", () => {
    assert.equal(text(frameJob(JOB, "sse")), `data: ${JOB_JSON}\n\n`);
    assert.equal(text(HEARTBEAT_FRAMES.sse), ": heartbeat\n\n");
  });
  it("msgpack: 4-byte big-endian length, then a string-keyed map; heartbeat is 00 00 00 00", () => {
    const frame = Buffer.from(frameJob(JOB, "msgpack"));
    assert.equal(frame.readUInt32BE(0), frame.length - 4);
    assert.equal(frame[4], 0x84, "fixmap of 4 entries");
    assert.deepEqual(decode(frame.subarray(4)), JOB_VALUE);
    assert.ok(frame.includes(Buffer.from("cf000001941f297c00", "hex")), "ready_at as uint64");
    assert.deepEqual([...HEARTBEAT_FRAMES.msgpack], [0, 0, 0, 0]);
  });
});

describe("createTakeStream (reading its body directly)", () => {
  it("starts with an empty chunk, then heartbeats after silence", async () => {
    const s = createTakeStream({ format: "msgpack", heartbeatMs: 10, onCancel: () => {} });
    const reader = s.body.getReader();
    assert.equal((await reader.read()).value!.length, 0);
    assert.deepEqual([...(await reader.read()).value!], [0, 0, 0, 0]);
    assert.deepEqual([...(await reader.read()).value!], [0, 0, 0, 0]);
    s.close();
    assert.equal((await reader.read()).done, true);
  });
  it("coalesces jobs pushed in one tick into one chunk", async () => {
    const s = createTakeStream({ format: "ndjson", heartbeatMs: 60_000, onCancel: () => {} });
    const reader = s.body.getReader();
    await reader.read(); // the empty first chunk
    assert.equal(s.push(JOB) && s.push(JOB) && s.push(JOB), true);
    assert.equal(text((await reader.read()).value!), (JOB_JSON + "\n").repeat(3));
    s.close();
  });
  it("coalesces msgpack frames byte-exactly", async () => {
    const s = createTakeStream({ format: "msgpack", heartbeatMs: 60_000, onCancel: () => {} });
    const reader = s.body.getReader();
    await reader.read();
    s.push(JOB);
    s.push({ ...JOB, id: "b" });
    const chunk = Buffer.from((await reader.read()).value!);
    assert.deepEqual(msgpackFrames(chunk), [JOB_VALUE, { ...JOB_VALUE, id: "b" }]);
    s.close();
  });
  it("reports congestion past the high-water mark and calls onDrain when read", async () => {
    const s = createTakeStream({ format: "ndjson", heartbeatMs: 60_000, onCancel: () => {}, highWaterMarkBytes: 150 });
    let drains = 0;
    s.onDrain(() => drains++);
    assert.equal(s.push(JOB), true);
    assert.equal(s.push(JOB), false, "two frames exceed 150 bytes");
    const reader = s.body.getReader();
    while (drains === 0) await reader.read();
    assert.equal(drains, 1);
    s.close();
  });
  it("onCancel fires exactly once when the consumer cancels; then push is refused", async () => {
    let cancels = 0;
    const s = createTakeStream({ format: "sse", heartbeatMs: 5, onCancel: () => cancels++ });
    const reader = s.body.getReader();
    await reader.read();
    await reader.cancel();
    await reader.cancel().catch(() => {});
    assert.equal(cancels, 1);
    assert.equal(s.push(JOB), false);
    s.close(); // idempotent after cancel
    assert.equal(cancels, 1);
  });
  it("close() ends the stream without onCancel and flushes pushed jobs", async () => {
    let cancels = 0;
    const s = createTakeStream({ format: "ndjson", heartbeatMs: 60_000, onCancel: () => cancels++ });
    s.push(JOB);
    s.close();
    const chunks: string[] = [];
    for await (const chunk of s.body) chunks.push(text(chunk));
    assert.equal(chunks.join(""), JOB_JSON + "\n");
    assert.equal(cancels, 0);
  });
});

describe("take stream over HTTP/1.1 and h2c", () => {
  let t: TestApp;
  let listener: Listener;
  let session: http2.ClientHttp2Session;
  before(async () => {
    t = createTestApp(20);
    listener = await listen(toNodeHandler(t.app), { host: "127.0.0.1", port: 0 });
    session = await h2Connect(listener.url);
  });
  after(async () => {
    session.close();
    await listener.close(100);
  });

  /** Opens /take over HTTP/1.1; resolves at the response headers, before any job exists. */
  function openH1(accept: string) {
    return new Promise<{ res: http.IncomingMessage; req: http.ClientRequest; bytes: () => Buffer }>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const req = http.get(`${listener.url}/take`, { headers: { accept } }, (res) => {
        res.on("data", (c: Buffer) => chunks.push(c));
        resolve({ res, req, bytes: () => Buffer.concat(chunks) });
      });
      req.on("error", reject);
    });
  }

  it("HTTP/1.1 msgpack: headers at once, chunked, job frames and heartbeats byte-exact", async () => {
    const before = t.streams.length;
    const { res, req, bytes } = await openH1("application/vnd.zizq.msgpack-stream");
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers["content-type"], "application/vnd.zizq.msgpack-stream");
    assert.equal(res.headers["transfer-encoding"], "chunked");
    const entry = t.streams[before];
    await waitFor(() => bytes().length >= 4, "first heartbeat");
    entry.stream.push(JOB);
    await waitFor(() => msgpackFrames(bytes()).some((f) => f !== null), "job frame");
    await waitFor(() => msgpackFrames(bytes()).at(-1) === null && msgpackFrames(bytes()).length >= 3, "heartbeat after the job");
    const frames = msgpackFrames(bytes());
    assert.deepEqual(frames.filter((f) => f !== null), [JOB_VALUE]);
    req.destroy();
    await waitFor(() => entry.cancelled === 1, "onCancel after client abort");
  });

  it("HTTP/1.1 ndjson and SSE framing", async () => {
    for (const [accept, frame, heartbeat] of [
      ["application/x-ndjson", JOB_JSON + "\n", "\n"],
      ["text/event-stream", `data: ${JOB_JSON}\n\n`, ": heartbeat\n\n"],
    ]) {
      const before = t.streams.length;
      const { res, req, bytes } = await openH1(accept);
      assert.equal(res.headers["content-type"], accept);
      t.streams[before].stream.push(JOB);
      await waitFor(() => bytes().toString().includes(frame), `${accept} frame`);
      await waitFor(() => bytes().toString().endsWith(frame + heartbeat), `${accept} heartbeat after the frame`);
      assert.match(bytes().toString(), new RegExp(`^(${heartbeat})*${frame.replace(/[{}[\]()|.*+?^$\\]/g, "\\$&")}`));
      req.destroy();
      await waitFor(() => t.streams[before].cancelled === 1, "onCancel");
    }
  });

  it("h2c: headers at once, frames arrive, RST_STREAM cancels once", async () => {
    const before = t.streams.length;
    const stream = session.request({ ":path": "/take", accept: "application/x-ndjson" });
    const headers = await new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once("response", resolve));
    assert.equal(headers[":status"], 200);
    assert.equal(headers["content-type"], "application/x-ndjson");
    let received = "";
    stream.on("data", (c: Buffer) => (received += c.toString()));
    t.streams[before].stream.push(JOB);
    await waitFor(() => received.includes(JOB_JSON + "\n"), "job over h2");
    stream.close();
    await waitFor(() => t.streams[before].cancelled === 1, "onCancel after RST_STREAM");
  });
});

describe("take stream headers flush before any frame", () => {
  it("over HTTP/1.1 and h2c, with the first heartbeat a minute away", { timeout: 10_000 }, async () => {
    const t = createTestApp(60_000);
    const listener = await listen(toNodeHandler(t.app), { host: "127.0.0.1", port: 0 });
    const h1 = await new Promise<http.IncomingMessage>((resolve) => {
      http.get(`${listener.url}/take`, (res) => resolve(res));
    });
    assert.equal(h1.statusCode, 200);
    const session = await h2Connect(listener.url);
    const h2 = session.request({ ":path": "/take" });
    const headers = await new Promise<http2.IncomingHttpHeaders>((resolve) => h2.once("response", resolve));
    assert.equal(headers[":status"], 200);
    assert.equal(headers["content-type"], "application/x-ndjson");
    h1.destroy();
    h2.close();
    session.close();
    await waitFor(() => t.streams.every((s) => s.cancelled === 1), "both streams cancelled");
    await listener.close(100);
  });
});
