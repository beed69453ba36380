// The typed clients' view of the wire. Ruby (MessagePack for everything, msgpack-stream
// takes, over HTTP/1.1): integer timestamps in and out, floats stay floats, 64-bit
// integers stay exact, errors in MessagePack. A take over h2c, for a client with HTTP/2
// prior knowledge everywhere. Rust and Elixir (serde / Jason / Msgpax, both formats):
// every job object on every endpoint decoded strictly and held to the §2.1 types and
// omission rules by assertJobShape (test/http/_shape.ts).

import assert from "node:assert/strict";
import http2 from "node:http2";
import { after, before, describe, it } from "node:test";
import { encode } from "@msgpack/msgpack";
import { eventually, startServer, type TestServer } from "../helpers/server.ts";
import { cleanupTmp } from "../helpers/tmp.ts";
import { rawReq, uniq } from "./_client.ts";
import { h2Connect } from "./_transport.ts";
import {
  assertErrorShape, assertJobShape, assertPagesShape, Float, JOB_FIELDS, openRawTake, readMsgpackStrict, readStrict,
  type RawTake,
} from "./_shape.ts";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Format = "json" | "msgpack";

const MSGPACK = "application/msgpack";
const STREAM = "application/vnd.zizq.msgpack-stream";
const TIMESTAMPS = ["ready_at", "dequeued_at", "failed_at", "purge_at", "completed_at"];

let s: TestServer;
const takes: RawTake[] = [];
before(async () => {
  s = await startServer({ heartbeatMs: 20 }); // heartbeats interleave with job frames
});
after(async () => {
  await Promise.all(takes.map((t) => t.close()));
  await s.close();
  cleanupTmp();
});

// ---- MessagePack as Ruby's msgpack gem writes it -------------------------------------------

/** Integers in their smallest encoding: a ms timestamp (> 2^32) is uint64 `0xcf`. */
const mp = (value: unknown) => Buffer.from(encode(value));
/** A Ruby Float is always float64 `0xcb`, even 10.0. */
const f64 = (value: number) => Buffer.from(encode(value, { forceIntegerToFloat: true }));
/** Ruby Integers past 2^53 (bignum-free up to 64 bits): uint64 `0xcf` / int64 `0xd3`. */
const i64 = (value: bigint) => Buffer.from(encode(value, { useBigInt64: true }));
/** A map of already-encoded values, so each member keeps the encoding chosen above. */
function mpMap(entries: [string, Buffer][]): Buffer {
  const header = entries.length < 16 ? Buffer.from([0x80 | entries.length]) : Buffer.from([0xde, entries.length >> 8, entries.length & 0xff]);
  return Buffer.concat([header, ...entries.flatMap(([k, v]) => [mp(k), v])]);
}
const mpArray = (items: Buffer[]) => Buffer.concat([Buffer.from([0x90 | items.length]), ...items]);

/** The type byte right after each timestamp key in raw MessagePack bytes. */
function timestampTags(bytes: Buffer): number[] {
  const tags: number[] = [];
  for (const key of TIMESTAMPS) {
    const needle = mp(key);
    for (let at = bytes.indexOf(needle); at >= 0; at = bytes.indexOf(needle, at + 1)) tags.push(bytes[at + needle.length]);
  }
  return tags;
}

/** One Ruby-style request over HTTP/1.1: MessagePack both ways. */
async function ruby(method: string, path: string, body?: Buffer) {
  const headers: Record<string, string> = { accept: MSGPACK };
  if (body) headers["content-type"] = MSGPACK;
  const r = await rawReq(s.url, method, path, headers, body);
  if (r.status !== 204) {
    assert.equal(r.headers["content-type"], MSGPACK, `${method} ${path}: ${r.body.toString()}`);
    assert.ok(timestampTags(r.body).every((tag) => tag === 0xcf), `${method} ${path}: timestamps are uint64 integers`);
  }
  const decoded = r.status === 204 ? undefined : readStrict(r.headers["content-type"], r.body);
  return { status: r.status, headers: r.headers, bytes: r.body, body: decoded as Json };
}

async function rawTake(query: string, accept: string): Promise<RawTake> {
  const t = await openRawTake(s.url, query, accept);
  takes.push(t);
  assert.equal(t.status, 200);
  return t;
}

const RUBY_PAYLOAD = () => mpMap([
  ["f", f64(10)], ["half", f64(0.5)], ["neg", f64(-0)], ["u64", i64(18446744073709551615n)],
  ["i64", i64(-9223372036854775808n)], ["past53", i64(9007199254740993n)], ["s", mp("ü😀")],
  ["list", mpArray([mp(1), mp(null), mp(true), f64(1)])],
]);
const RUBY_PAYLOAD_DECODED = {
  f: new Float(10, 64), half: new Float(0.5, 64), neg: new Float(-0, 64), u64: 18446744073709551615n,
  i64: -9223372036854775808n, past53: 9007199254740993n, s: "ü😀", list: [1, null, true, new Float(1, 64)],
};

describe("Ruby client: MessagePack over HTTP/1.1", () => {
  it("enqueue with a uint64 ready_at, float and 64-bit payload numbers; read back exactly", async () => {
    const q = uniq();
    const readyAt = Date.now() + 3_600_000;
    const body = mpMap([
      ["type", mp("Ruby::Job")], ["queue", mp(q)], ["payload", RUBY_PAYLOAD()], ["priority", mp(10)],
      ["ready_at", mp(readyAt)], ["retry_limit", mp(5)],
      ["backoff", mpMap([["exponent", f64(2)], ["base_ms", mp(1000)], ["jitter_ms", mp(0)]])],
    ]);
    assert.ok(body.includes(Buffer.concat([mp("ready_at"), Buffer.from([0xcf])])), "the request spells ready_at as uint64");
    const r = await ruby("POST", "/jobs", body);
    assert.equal(r.status, 201);
    const j = assertJobShape(r.body, { payload: false, enqueue: true });
    assert.deepEqual([j.status, j.ready_at, j.priority, j.retry_limit], ["scheduled", readyAt, 10, 5]);
    assert.deepEqual(j.backoff, { exponent: new Float(2, 32), base_ms: 1000, jitter_ms: 0 }, "exponent is float32 0xca");
    assert.ok(!r.bytes.includes(Buffer.concat([mp("ready_at"), Buffer.from([0xcb])])));

    const got = await ruby("GET", `/jobs/${j.id}`);
    assertJobShape(got.body, { payload: true, enqueue: false });
    assert.deepEqual(got.body.payload, RUBY_PAYLOAD_DECODED);
    const listed = await ruby("GET", `/jobs?queue=${q}`);
    assert.deepEqual(listed.body.jobs.map((x: Json) => x.payload), [RUBY_PAYLOAD_DECODED]);
    assertPagesShape(listed.body.pages);
  });

  it("take as a msgpack stream: length-prefixed frames, zero-length heartbeats skipped; fail with retry_at; bulk ack", async () => {
    const q = uniq();
    const t = await rawTake(`prefetch=3&queue=${q}`, STREAM);
    assert.equal(t.headers["content-type"], STREAM);
    assert.equal(t.headers["transfer-encoding"], "chunked");
    await t.waitHeartbeats(1);
    const bulk = mpMap([["jobs", mpArray([0, 1, 2].map((n) =>
      mpMap([["type", mp("Ruby::Job")], ["queue", mp(q)], ["payload", mpMap([["n", mp(n)], ["f", f64(n + 0.25)]])]])))]]);
    const made = await ruby("POST", "/jobs/bulk", bulk);
    assert.equal(made.status, 201);
    const ids = made.body.jobs.map((j: Json) => assertJobShape(j, { payload: false, enqueue: true }).id);
    const frames = await t.waitFrames(3);
    for (const [n, frame] of frames.entries()) {
      assert.ok(timestampTags(frame).every((tag) => tag === 0xcf));
      const j = assertJobShape(readMsgpackStrict(frame), { payload: true, enqueue: false });
      assert.deepEqual([j.id, j.status, j.payload], [ids[n], "in_flight", { n, f: new Float(n + 0.25, 64) }]);
    }

    const retryAt = Date.now() + 3_600_000;
    const failed = await ruby("POST", `/jobs/${ids[0]}/failure`, mpMap([
      ["message", mp("boom")], ["error_type", mp("RuntimeError")], ["backtrace", mp("job.rb:3\njob.rb:9")], ["retry_at", mp(retryAt)],
    ]));
    assert.equal(failed.status, 200);
    const j = assertJobShape(failed.body, { payload: false, enqueue: false });
    assert.deepEqual([j.status, j.ready_at, j.attempts], ["scheduled", retryAt, 1]);
    const errors = await ruby("GET", `/jobs/${ids[0]}/errors`);
    assert.deepEqual(errors.body.errors.map(assertErrorShape).map((e: Json) => [e.attempt, e.message, e.error_type, e.backtrace]),
      [[1, "boom", "RuntimeError", "job.rb:3\njob.rb:9"]]);

    const acked = await ruby("POST", "/jobs/success", mpMap([["ids", mpArray([mp(ids[1]), mp(ids[2])])]]));
    assert.deepEqual([acked.status, acked.bytes.length], [204, 0]);
    const again = await ruby("POST", "/jobs/success", mpMap([["ids", mpArray([mp(ids[1])])]]));
    assert.deepEqual([again.status, again.body], [422, { not_found: [ids[1]] }]);
  });

  it("error bodies are MessagePack when Accept asks for it; 406 is always JSON", async () => {
    const missing = await ruby("GET", `/jobs/${uniq()}`);
    assert.deepEqual([missing.status, missing.body], [404, { error: "job not found" }]);
    assert.deepEqual((await ruby("GET", "/nope")).body, { error: "not found" });
    const bad = await ruby("POST", "/jobs", mpMap([["type", mp("t")], ["queue", mp("q")], ["payload", Buffer.from([0xc4, 1, 0])]]));
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /^invalid MessagePack: /);
    const nameless = await ruby("POST", "/jobs", mpMap([["type", mp("")], ["queue", mp("q")], ["payload", mp(null)]]));
    assert.deepEqual([nameless.status, nameless.body], [400, { error: "type must not be empty" }]);
    const unsupported = await rawReq(s.url, "POST", "/jobs", { accept: MSGPACK, "content-type": "text/plain" }, "x");
    assert.equal(unsupported.headers["content-type"], MSGPACK);
    assert.deepEqual(readStrict(MSGPACK, unsupported.body),
      { error: "unsupported media type", supported: ["application/json", "application/msgpack"] });
    for (const accept of ["text/xml", STREAM]) {
      const r = await rawReq(s.url, "GET", "/health", { accept });
      assert.deepEqual([r.status, r.headers["content-type"]], [406, "application/json"]);
      assert.deepEqual(JSON.parse(r.body.toString()), { error: "not acceptable", supported: ["application/json", "application/msgpack"] });
    }
  });
});

describe("a typed client taking over h2c (a client with HTTP/2 prior knowledge everywhere)", () => {
  it("msgpack-stream frames on an HTTP/2 stream; cancelling the stream puts the job back to ready", async () => {
    const q = uniq();
    const session = await h2Connect(s.url);
    try {
      const stream = session.request({ ":path": `/jobs/take?prefetch=1&queue=${q}`, accept: STREAM }, { endStream: true });
      stream.on("error", () => undefined); // the cancel below
      const frames: Buffer[] = [];
      let heartbeats = 0;
      let status = 0;
      let buf = Buffer.alloc(0);
      stream.on("response", (h) => (status = Number(h[":status"])));
      stream.on("data", (chunk: Buffer) => {
        for (buf = Buffer.concat([buf, chunk]); buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0); buf = buf.subarray(4 + buf.readUInt32BE(0))) {
          if (buf.readUInt32BE(0) === 0) heartbeats++;
          else frames.push(Buffer.from(buf.subarray(4, 4 + buf.readUInt32BE(0))));
        }
      });
      await eventually(() => status === 200 && heartbeats > 0, 5000, "h2 take headers and a heartbeat");
      const { body: made } = await ruby("POST", "/jobs", mpMap([["type", mp("t")], ["queue", mp(q)], ["payload", f64(1)]]));
      await eventually(() => frames.length === 1, 5000, "a job frame");
      const j = assertJobShape(readMsgpackStrict(frames[0]), { payload: true, enqueue: false });
      assert.deepEqual([j.id, j.status, j.payload], [made.id, "in_flight", new Float(1, 64)]);
      stream.close(http2.constants.NGHTTP2_CANCEL);
      await eventually(async () => (await ruby("GET", `/jobs/${j.id}`)).body.status === "ready", 5000, "requeue after RST_STREAM");
    } finally {
      session.destroy();
    }
  });
});

// ---- Rust / Elixir: strict decoding of every job object --------------------------------------

const TYPE: Record<Format, string> = { json: "application/json", msgpack: MSGPACK };

async function call(format: Format, method: string, path: string, body?: unknown) {
  const headers: Record<string, string> = { accept: TYPE[format] };
  let data: Buffer | string | undefined;
  if (body !== undefined) {
    headers["content-type"] = TYPE[format];
    data = format === "json" ? JSON.stringify(body) : mp(body);
  }
  const r = await rawReq(s.url, method, path, headers, data);
  assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${r.body.toString()}`);
  if (r.status === 204) return { status: 204, body: undefined as unknown as Json };
  assert.equal(r.headers["content-type"], TYPE[format]);
  if (format === "msgpack") assert.ok(timestampTags(r.body).every((tag) => tag === 0xcf), `${method} ${path}: timestamps`);
  return { status: r.status, body: readStrict(r.headers["content-type"], r.body) };
}

for (const format of ["json", "msgpack"] as const) {
  describe(`Rust/Elixir clients (${format}): every job object has the contract types`, () => {
    const seen = new Set<string>();
    const shape = (job: unknown, opts: { payload: boolean; enqueue: boolean }) => {
      const j = assertJobShape(job, opts);
      Object.keys(j).forEach((k) => seen.add(k));
      if (j.backoff) assert.equal(j.backoff.exponent.width, format === "json" ? 64 : 32);
      return j;
    };

    it("enqueue, bulk, duplicate, fold, take, fail, patch, get, list, ack, errors", async () => {
      const [q, qa] = [uniq(), uniq()];
      const far = Date.now() + 3_600_000;
      const enq = (body: Json) => call(format, "POST", "/jobs", { type: "Typed", queue: q, payload: null, ...body });
      shape((await enq({ payload: { n: 1.5 } })).body, { payload: false, enqueue: true });
      const full = {
        queue: qa, payload: { big: 12345678901234 }, priority: 3, retry_limit: 4,
        backoff: { exponent: 2, base_ms: 10, jitter_ms: 0 }, retention: { completed_ms: 600_000, dead_ms: 600_000 },
        unique_key: uniq("k"), unique_while: "active",
      };
      const opts = shape((await enq(full)).body, { payload: false, enqueue: true });
      const dup = await enq(full);
      assert.deepEqual([dup.status, shape(dup.body, { payload: false, enqueue: true }).duplicate], [200, true]);
      const batch = { key: uniq("b"), when: "true", fold: "$existing + $new" };
      shape((await enq({ payload: [1], batch })).body, { payload: false, enqueue: true });
      const folded = shape((await enq({ payload: [2], batch })).body, { payload: false, enqueue: true });
      assert.deepEqual([folded.folded, folded.batch], [true, batch]);
      const bulk = (await call(format, "POST", "/jobs/bulk", { jobs: [
        { type: "Typed", queue: qa, payload: "d", priority: 5, retention: {} },
        { type: "Typed", queue: q, payload: 0, ready_at: far, retention: { dead_ms: 1 } },
      ] })).body.jobs.map((j: unknown) => shape(j, { payload: false, enqueue: true }));
      const d = bulk[0];

      // Take in the format's framing: NDJSON lines or length-prefixed msgpack frames.
      const t = await rawTake(`prefetch=0&queue=${qa}`, format === "json" ? "application/x-ndjson" : STREAM);
      const decodeFrame = (frame: Buffer) => readStrict(TYPE[format], frame);
      const taken = (await t.waitFrames(2)).map((f) => shape(decodeFrame(f), { payload: true, enqueue: false }));
      assert.deepEqual(taken.map((j) => j.id), [opts.id, d.id]);

      const retry = shape((await call(format, "POST", `/jobs/${d.id}/failure`, { message: "m", retry_at: far })).body, { payload: false, enqueue: false });
      assert.deepEqual([retry.status, retry.ready_at], ["scheduled", far]);
      shape((await call(format, "PATCH", `/jobs/${d.id}`, { ready_at: null })).body, { payload: false, enqueue: false });
      const again = shape(decodeFrame((await t.waitFrames(3))[2]), { payload: true, enqueue: false });
      assert.deepEqual([again.id, again.attempts], [d.id, 1]);
      const dead = shape((await call(format, "POST", `/jobs/${d.id}/failure`, { message: "m2", error_type: "E", backtrace: "b", kill: true })).body,
        { payload: false, enqueue: false });
      assert.deepEqual([dead.status, dead.attempts], ["dead", 2]);
      shape((await call(format, "GET", `/jobs/${d.id}`)).body, { payload: true, enqueue: false });
      const errors = (await call(format, "GET", `/jobs/${d.id}/errors?limit=1`)).body;
      errors.errors.forEach(assertErrorShape);
      assertPagesShape(errors.pages);
      assertErrorShape((await call(format, "GET", `/jobs/${d.id}/errors/2`)).body);

      assert.equal((await call(format, "POST", `/jobs/${opts.id}/success`)).status, 204);
      const done = shape((await call(format, "GET", `/jobs/${opts.id}`)).body, { payload: true, enqueue: false });
      assert.equal(done.status, "completed");
      assert.deepEqual(done.payload, { big: 12345678901234 });

      const patched = shape((await call(format, "PATCH", `/jobs/${bulk[1].id}`, { retention: { dead_ms: null }, retry_limit: 1 })).body,
        { payload: false, enqueue: false });
      assert.deepEqual(["retention" in patched, patched.retry_limit], [false, 1]);

      const list = (await call(format, "GET", `/jobs?queue=${q},${qa}&limit=3`)).body;
      assertPagesShape(list.pages);
      list.jobs.forEach((j: unknown) => shape(j, { payload: true, enqueue: false }));
      const desc = (await call(format, "GET", `/jobs?queue=${q},${qa}&order=desc`)).body;
      desc.jobs.forEach((j: unknown) => shape(j, { payload: true, enqueue: false }));
      assert.equal(desc.jobs.length, 5);

      assert.deepEqual([...JOB_FIELDS].filter((f) => !seen.has(f)), [], "every §2.1 field was seen and checked");
    });
  });
}
