// Strict wire checks for the client-compatibility tests (API.md §1.2–1.4, §2): decoders
// that keep what JSON.parse and a lenient MessagePack decoder lose (integer vs float,
// encoding width, map key types, duplicate keys), the job / error record / page-link
// shape rules as a typed client (Rust serde, Elixir) would apply them, and a raw take
// stream reader that hands over every frame's bytes. Nothing here reaches into the server.

import assert from "node:assert/strict";
import http from "node:http";
import { eventually } from "../helpers/server.ts";

/** A float as it was on the wire (JSON with `.`/`e`, MessagePack float32/float64). */
export class Float {
  constructor(readonly value: number, readonly width: 32 | 64) {}
}

export type Typed = null | boolean | number | bigint | string | Float | Typed[] | { [key: string]: Typed };
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Objects produced by the strict decoders: assertJobShape holds them to wire types. */
const strictObjects = new WeakSet<object>();

const integer = (digits: string): number | bigint => {
  const big = BigInt(digits);
  return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
};

/**
 * Compact JSON as serde_json sees it: integers (number, or bigint past 2^53) apart from
 * floats (Float). Throws on whitespace outside strings (§1.2 "compact") and duplicate keys.
 */
export function readJsonStrict(text: string): Typed {
  let i = 0;
  const fail = (what: string): never => {
    throw new Error(`strict JSON: ${what} at ${i} in ${text.slice(Math.max(0, i - 20), i + 20)}`);
  };
  const token = (re: RegExp): string => {
    re.lastIndex = i;
    const m = re.exec(text);
    if (!m) fail("bad token");
    i += m![0].length;
    return m![0];
  };
  const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
  const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
  const value = (): Typed => {
    const c = text[i];
    if (c === "{") {
      i++;
      const out: Record<string, Typed> = {};
      strictObjects.add(out);
      while (text[i] !== "}") {
        if (Object.keys(out).length > 0) text[i] === "," ? i++ : fail("expected ,");
        const key = JSON.parse(token(STRING)) as string;
        if (Object.hasOwn(out, key)) fail(`duplicate key ${key}`);
        text[i] === ":" ? i++ : fail("expected :");
        out[key] = value();
      }
      i++;
      return out;
    }
    if (c === "[") {
      i++;
      const out: Typed[] = [];
      while (text[i] !== "]") {
        if (out.length > 0) text[i] === "," ? i++ : fail("expected ,");
        out.push(value());
      }
      i++;
      return out;
    }
    if (c === '"') return JSON.parse(token(STRING)) as string;
    for (const [word, v] of [["true", true], ["false", false], ["null", null]] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    }
    const n = token(NUMBER);
    return /[.eE]/.test(n) ? new Float(Number(n), 64) : integer(n);
  };
  const out = value();
  if (i !== text.length) fail("trailing bytes");
  return out;
}

/**
 * MessagePack as rmp-serde / Msgpax see it, stricter than either: maps must be keyed by
 * strings (no duplicates), integers must use their smallest encoding (§1.4), strings
 * must be valid UTF-8, and bin/ext are refused (the contract never emits them).
 */
export function readMsgpackStrict(bytes: Uint8Array): Typed {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  let pos = 0;
  const take = (n: number): number => {
    if (pos + n > bytes.length) throw new Error(`strict msgpack: truncated at ${pos}`);
    const at = pos;
    pos += n;
    return at;
  };
  const minimal = (v: bigint, tag: number, ok: boolean): number | bigint => {
    if (!ok) throw new Error(`strict msgpack: ${v} is not in its smallest encoding (0x${tag.toString(16)})`);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const str = (n: number) => utf8.decode(bytes.subarray(take(n), pos));
  const array = (n: number): Typed[] => Array.from({ length: n }, () => value());
  const map = (n: number) => {
    const out: Record<string, Typed> = {};
    strictObjects.add(out);
    for (let k = 0; k < n; k++) {
      const key = value();
      if (typeof key !== "string") throw new Error(`strict msgpack: map key ${String(key)} is not a string`);
      if (Object.hasOwn(out, key)) throw new Error(`strict msgpack: duplicate key ${key}`);
      out[key] = value();
    }
    return out;
  };
  const value = (): Typed => {
    const tag = bytes[take(1)];
    if (tag <= 0x7f) return tag;
    if (tag >= 0xe0) return tag - 0x100;
    if ((tag & 0xf0) === 0x80) return map(tag & 0x0f);
    if ((tag & 0xf0) === 0x90) return array(tag & 0x0f);
    if ((tag & 0xe0) === 0xa0) return str(tag & 0x1f);
    switch (tag) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xca: return new Float(view.getFloat32(take(4)), 32);
      case 0xcb: return new Float(view.getFloat64(take(8)), 64);
      case 0xcc: return minimal(BigInt(view.getUint8(take(1))), tag, view.getUint8(pos - 1) >= 0x80);
      case 0xcd: return minimal(BigInt(view.getUint16(take(2))), tag, view.getUint16(pos - 2) >= 0x100);
      case 0xce: return minimal(BigInt(view.getUint32(take(4))), tag, view.getUint32(pos - 4) >= 0x10000);
      case 0xcf: { const v = view.getBigUint64(take(8)); return minimal(v, tag, v >= 0x100000000n); }
      case 0xd0: { const v = view.getInt8(take(1)); return minimal(BigInt(v), tag, v < -32); }
      case 0xd1: { const v = view.getInt16(take(2)); return minimal(BigInt(v), tag, v < -0x80); }
      case 0xd2: { const v = view.getInt32(take(4)); return minimal(BigInt(v), tag, v < -0x8000); }
      case 0xd3: { const v = view.getBigInt64(take(8)); return minimal(v, tag, v < -0x80000000n); }
      case 0xd9: return str(view.getUint8(take(1)));
      case 0xda: return str(view.getUint16(take(2)));
      case 0xdb: return str(view.getUint32(take(4)));
      case 0xdc: return array(view.getUint16(take(2)));
      case 0xdd: return array(view.getUint32(take(4)));
      case 0xde: return map(view.getUint16(take(2)));
      case 0xdf: return map(view.getUint32(take(4)));
      default: throw new Error(`strict msgpack: type 0x${tag.toString(16)} at ${pos - 1} is not allowed`);
    }
  };
  const out = value();
  if (pos !== bytes.length) throw new Error(`strict msgpack: ${bytes.length - pos} trailing bytes`);
  return out;
}

/** A response body decoded strictly by its exact Content-Type (§1.2: json or msgpack). */
export function readStrict(contentType: string | string[] | undefined, body: Uint8Array): Obj {
  if (contentType === "application/msgpack") return readMsgpackStrict(body) as Obj;
  assert.equal(contentType, "application/json");
  return readJsonStrict(Buffer.from(body).toString("utf8")) as Obj;
}

// ---- shapes ----------------------------------------------------------------------------

/** §2.1 fields in emission order. */
export const JOB_FIELDS = [
  "id", "type", "queue", "priority", "status", "payload", "ready_at", "attempts", "retry_limit", "backoff",
  "dequeued_at", "failed_at", "retention", "purge_at", "completed_at", "unique_key", "unique_while",
  "duplicate", "folded", "batch",
] as const;
const STATUSES = ["scheduled", "ready", "in_flight", "completed", "dead"];
const U16 = 0xffff;
const U32 = 0xffffffff;
const U64 = 2n ** 64n - 1n;

function assertUint(value: unknown, max: number | bigint, where: string): void {
  assert.ok(!(value instanceof Float), `${where}: an integer expected, got float ${(value as Float)?.value}`);
  assert.ok(typeof value === "bigint" || Number.isInteger(value), `${where}: integer expected, got ${String(value)}`);
  const v = BigInt(value as number | bigint);
  assert.ok(v >= 0n && v <= BigInt(max), `${where}: ${v} out of range 0..${max}`);
}

function assertKeys(obj: Obj, allowed: readonly string[], where: string): void {
  const keys = Object.keys(obj);
  for (const k of keys) assert.ok(allowed.includes(k), `${where}: unexpected key ${k}`);
  const order = keys.map((k) => allowed.indexOf(k));
  assert.deepEqual(order, [...order].sort((a, b) => a - b), `${where}: key order ${keys.join(",")}`);
  for (const k of keys) assert.notEqual(obj[k], null, `${where}.${k}: omitted fields are absent, never null`);
}

function assertPlainObject(value: unknown, where: string): asserts value is Obj {
  assert.ok(value !== null && typeof value === "object" && !Array.isArray(value) && !(value instanceof Float), `${where}: object expected`);
}

/**
 * One job object against API.md §2.1, as a typed client decodes it: exact field set and
 * order, no nulls for omitted fields, u16/u32/u64 ranges, enums, `unique_while` iff
 * `unique_key`, `payload` iff `payload`, `duplicate`/`folded` iff `enqueue`, and the
 * status-dependent presence rules. Objects from readJsonStrict/readMsgpackStrict are also
 * held to wire types (timestamps are never floats, `backoff.exponent` is always one);
 * plain JSON.parse objects (the Node client's view) only to JS number checks.
 */
export function assertJobShape(job: unknown, opts: { payload: boolean; enqueue: boolean }): Obj {
  assertPlainObject(job, "job");
  const strict = strictObjects.has(job);
  const where = `job ${String(job.id)}`;
  const allowed = JOB_FIELDS.filter((f) => (f !== "payload" || opts.payload) && ((f !== "duplicate" && f !== "folded") || opts.enqueue));
  const keys = Object.keys(job);
  assertKeys(job, allowed, where);
  for (const f of ["id", "type", "queue", "priority", "status", "ready_at", "attempts"]) assert.ok(keys.includes(f), `${where}: ${f} missing`);
  if (opts.payload) assert.ok(keys.includes("payload"), `${where}: payload missing`);
  assert.match(job.id, /^[0-9a-z]{25}$/);
  for (const f of ["type", "queue"]) assert.ok(typeof job[f] === "string" && job[f] !== "", `${where}: ${f} must be a non-empty string`);
  assertUint(job.priority, U16, `${where}.priority`);
  assert.ok(STATUSES.includes(job.status), `${where}: status ${job.status}`);
  assertUint(job.attempts, U32, `${where}.attempts`);
  for (const f of ["ready_at", "dequeued_at", "failed_at", "purge_at", "completed_at"]) {
    if (f in job) assertUint(job[f], U64, `${where}.${f}`);
  }
  if ("retry_limit" in job) assertUint(job.retry_limit, U32, `${where}.retry_limit`);
  if ("backoff" in job) {
    assertPlainObject(job.backoff, `${where}.backoff`);
    assert.deepEqual(Object.keys(job.backoff).sort(), ["base_ms", "exponent", "jitter_ms"], `${where}.backoff keys`);
    if (strict) assert.ok(job.backoff.exponent instanceof Float, `${where}.backoff.exponent must be a float on the wire`);
    else assert.equal(typeof job.backoff.exponent, "number");
    assertUint(job.backoff.base_ms, U32, `${where}.backoff.base_ms`);
    assertUint(job.backoff.jitter_ms, U32, `${where}.backoff.jitter_ms`);
  }
  if ("retention" in job) {
    assertPlainObject(job.retention, `${where}.retention`);
    assertKeys(job.retention, ["completed_ms", "dead_ms"], `${where}.retention`);
    for (const [k, v] of Object.entries(job.retention)) assertUint(v, U64, `${where}.retention.${k}`);
  }
  assert.equal("unique_key" in job, "unique_while" in job, `${where}: unique_while present iff unique_key`);
  if ("unique_key" in job) {
    assert.equal(typeof job.unique_key, "string");
    assert.ok(["queued", "active", "exists"].includes(job.unique_while), `${where}: unique_while ${job.unique_while}`);
  }
  if (opts.enqueue) {
    assert.equal(typeof job.duplicate, "boolean", `${where}: duplicate must be a boolean`);
    assert.equal(typeof job.folded, "boolean", `${where}: folded must be a boolean`);
  }
  if ("batch" in job) {
    assertPlainObject(job.batch, `${where}.batch`);
    assert.deepEqual(Object.keys(job.batch).sort(), ["fold", "key", "when"], `${where}.batch keys`);
    for (const v of Object.values(job.batch)) assert.equal(typeof v, "string");
  }
  // Status-dependent presence (§2.1, §3.7, §3.9).
  if (job.status === "in_flight") assert.ok("dequeued_at" in job, `${where}: in_flight without dequeued_at`);
  if (job.status === "completed") assert.ok("completed_at" in job && "purge_at" in job, `${where}: completed without completed_at/purge_at`);
  if ("completed_at" in job) assert.equal(job.status, "completed", `${where}: completed_at on a ${job.status} job`);
  if ("purge_at" in job) assert.ok(["completed", "dead"].includes(job.status), `${where}: purge_at on a ${job.status} job`);
  assert.equal(job.attempts !== 0, "failed_at" in job, `${where}: failed_at present iff attempts > 0`);
  return job;
}

/** An error record (§2.2). */
export function assertErrorShape(record: unknown): Obj {
  assertPlainObject(record, "error record");
  assertKeys(record, ["attempt", "message", "error_type", "backtrace", "dequeued_at", "failed_at"], "error record");
  for (const f of ["attempt", "message", "dequeued_at", "failed_at"]) assert.ok(f in record, `error record: ${f} missing`);
  assertUint(record.attempt, U32, "error record.attempt");
  assert.ok(BigInt(record.attempt) >= 1n, "attempt is 1-based");
  assert.equal(typeof record.message, "string");
  for (const f of ["error_type", "backtrace"]) if (f in record) assert.equal(typeof record[f], "string");
  assertUint(record.dequeued_at, U64, "error record.dequeued_at");
  assertUint(record.failed_at, U64, "error record.failed_at");
  return record;
}

/** `pages` (§2.3): exactly self/next/prev, absolute paths, absent links as `null`. */
export function assertPagesShape(pages: unknown): Obj {
  assertPlainObject(pages, "pages");
  assert.deepEqual(Object.keys(pages), ["self", "next", "prev"]);
  assert.equal(typeof pages.self, "string");
  for (const k of ["self", "next", "prev"]) {
    if (pages[k] !== null) assert.ok(typeof pages[k] === "string" && pages[k].startsWith("/"), `pages.${k}: ${pages[k]}`);
  }
  return pages;
}

// ---- raw take stream --------------------------------------------------------------------

export interface RawTake {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Job frames in order: NDJSON line bytes or MessagePack frame bytes (no prefix). */
  frames: Buffer[];
  /** Empty lines / zero-length frames seen (skipped, as clients do). */
  heartbeats: number;
  waitFrames(n: number, timeoutMs?: number): Promise<Buffer[]>;
  waitHeartbeats(n: number, timeoutMs?: number): Promise<void>;
  /** Destroys the socket (a client disconnect) and waits until it is closed. */
  close(): Promise<void>;
}

/**
 * GET /jobs/take over its own HTTP/1.1 socket, resolved once the headers arrive. The
 * parser is chosen from the response Content-Type as the Node client does: `msgpack` →
 * 4-byte big-endian length-prefixed frames, else NDJSON lines.
 */
export function openRawTake(base: string, query: string, accept: string): Promise<RawTake> {
  return new Promise((resolve, reject) => {
    const request = http.get(new URL(`/jobs/take?${query}`, base), { agent: false, headers: { accept } });
    request.on("error", reject);
    request.once("response", (res) => {
      const lengthPrefixed = String(res.headers["content-type"]).includes("msgpack");
      let buf = Buffer.alloc(0);
      const closed = new Promise<void>((r) => request.socket!.once("close", () => r()));
      const take: RawTake = {
        status: res.statusCode!,
        headers: res.headers,
        frames: [],
        heartbeats: 0,
        waitFrames: (n, ms = 5000) => eventually(() => take.frames.length >= n, ms, `${n} take frames`).then(() => take.frames),
        waitHeartbeats: (n, ms = 5000) => eventually(() => take.heartbeats >= n, ms, `${n} heartbeats`).then(() => undefined),
        close: async () => {
          request.destroy();
          await closed;
        },
      };
      res.on("data", (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        for (;;) {
          let frame: Buffer;
          if (lengthPrefixed) {
            if (buf.length < 4 || buf.length < 4 + buf.readUInt32BE(0)) break;
            frame = buf.subarray(4, 4 + buf.readUInt32BE(0));
            buf = buf.subarray(4 + frame.length);
          } else {
            const nl = buf.indexOf(0x0a);
            if (nl < 0) break;
            frame = buf.subarray(0, nl);
            buf = buf.subarray(nl + 1);
          }
          if (frame.length === 0) take.heartbeats++;
          else take.frames.push(Buffer.from(frame));
        }
      });
      res.on("error", () => undefined);
      resolve(take);
    });
  });
}
