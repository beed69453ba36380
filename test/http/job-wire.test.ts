// A job's JSON text is written straight from its view (lib/http/job-wire.ts) while
// MessagePack packs the object form: the two must say the same thing in the same order,
// for every optional field API.md §2.1 lists, alone and together.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encodeJson, encodeMsgpack } from "../../lib/http/codec.ts";
import { Unpackr } from "msgpackr";
import { ByteSink } from "../../lib/http/_json-msgpack.ts";
import { wireJob } from "../../lib/http/job-wire.ts";
import type { JobView } from "../../lib/queue/types.ts";

const base: JobView = {
  id: "0a1b2c3d4e5f6g7h8i9j0k1l2",
  type: 'send "mail" \u2028 ü',
  queue: "q\\1",
  priority: 65535,
  status: "in_flight",
  ready_at: 1_765_000_000_000,
  attempts: 3,
};

// Each optional field as viewOfMeta (lib/queue/job.ts) sets it, in its order.
const optional: Partial<JobView>[] = [
  { retry_limit: 0 },
  { backoff: { exponent: 2, base_ms: 10, jitter_ms: 0 } },
  { backoff: { exponent: 1.5, base_ms: 4_294_967_295, jitter_ms: 7 } },
  { backoff: { exponent: -0, base_ms: 0, jitter_ms: 0 } },
  { dequeued_at: 1_765_000_000_001 },
  { failed_at: 1_765_000_000_002 },
  { retention: {} },
  { retention: { completed_ms: 1, dead_ms: 18_446_744_073_709_551_615 } },
  { purge_at: 1_765_000_000_003 },
  { completed_at: 1_765_000_000_004 },
  { unique_key: 'k"\n', unique_while: "active" },
  { batch: { key: "b", when: "size >= 3", fold: ".n" } },
  { budgets: Object.freeze([Object.freeze({ key: "api", cost: 2 })]) as JobView["budgets"] },
];

const generic = (view: JobView, payload?: string, flags?: { duplicate: boolean; folded: boolean }) =>
  encodeJson(wireJob(view, payload, flags).toJSON());

describe("a job's JSON text", () => {
  it("equals the object form's, field by field and all together, with and without payload and flags", () => {
    const all: JobView = Object.assign({}, base, ...optional.slice(0, 2), ...optional.slice(4));
    const views = [base, ...optional.map((o) => ({ ...base, ...o })), all];
    let checked = 0;
    for (const view of views) {
      for (const payload of [undefined, "null", '{"n":1.0,"big":123456789012345678901234567890}']) {
        for (const flags of [undefined, { duplicate: false, folded: true }]) {
          const text = wireJob(view, payload, flags).jsonText();
          assert.equal(text, generic(view, payload, flags));
          assert.equal(encodeJson(wireJob(view, payload, flags)), text, "writeJson splices jsonText");
          checked++;
        }
      }
    }
    assert.equal(checked, views.length * 6);
  });

  it("reads back as the view with its payload where the contract puts it", () => {
    const view: JobView = { ...base, dequeued_at: 5, unique_key: "u", unique_while: "queued" };
    const parsed = JSON.parse(wireJob(view, '{"a":[1,2]}', { duplicate: true, folded: false }).jsonText());
    assert.deepEqual(Object.keys(parsed), ["id", "type", "queue", "priority", "status", "payload", "ready_at", "attempts", "dequeued_at", "unique_key", "unique_while", "duplicate", "folded"]);
    assert.deepEqual(parsed.payload, { a: [1, 2] });
    assert.equal(parsed.type, base.type);
    assert.equal(parsed.queue, base.queue);
  });
});

describe("a job's MessagePack", () => {
  const packed = (value: unknown) => Buffer.from(encodeMsgpack(value));
  // Values at every header boundary the writers choose between (string bytes 31/32/255/256,
  // 65,536; integers 127/128, 255/256, 65,535/65,536, 2^32 − 1 / 2^32, 2^53 − 1).
  const edges: Partial<JobView>[] = [
    { type: "t".repeat(31), queue: "q".repeat(32) },
    { type: "é".repeat(128), queue: "q".repeat(256) },
    { type: "x".repeat(65_536), queue: "\u{1F600}" },
    { priority: 127, attempts: 128, ready_at: 255 },
    { priority: 256, attempts: 65_535, ready_at: 65_536 },
    { priority: 0, attempts: 4_294_967_295, ready_at: 4_294_967_296, dequeued_at: Number.MAX_SAFE_INTEGER },
    { retry_limit: 4_294_967_295, backoff: { exponent: 0.1, base_ms: 128, jitter_ms: 65_536 } },
  ];

  it("written directly is byte for byte what packing the object form gives", () => {
    const all: JobView = Object.assign({}, base, ...optional.slice(0, 2), ...optional.slice(4));
    const views = [base, ...optional.map((o) => ({ ...base, ...o })), ...edges.map((o) => ({ ...base, ...o })), all];
    let direct = 0;
    for (const view of views) {
      for (const payload of [undefined, "null", '{"n":1.0,"big":123456789012345678901234567890}', "[1e10,4294967296.0,-1,\"é\"]"]) {
        for (const flags of [undefined, { duplicate: false, folded: true }]) {
          const job = wireJob(view, payload, flags);
          assert.deepEqual(packed(job), packed(job.toJSON()), JSON.stringify({ view, payload, flags }).slice(0, 200));
          const framed = Buffer.from(encodeMsgpack(job, true)).subarray(4);
          assert.deepEqual(framed, packed(job.toJSON()), "with the frame's prefix reserved");
          if (job.msgpackInto(new ByteSink())) direct++;
        }
      }
    }
    // All but the views with retention, batch or budgets (five of them).
    assert.equal(direct, (views.length - 5) * 8, "the direct writer took the others");
  });

  it("leaves a job it does not write to the generic path, and reads back as the view", () => {
    const view: JobView = { ...base, retention: { completed_ms: 5 } };
    assert.deepEqual(packed(wireJob(view, "1")), packed(wireJob(view, "1").toJSON()));
    const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number" });
    const back = unpackr.unpack(Buffer.from(encodeMsgpack(wireJob({ ...base, dequeued_at: 2 ** 40 }, '{"a":[1,2.5]}')))) as Record<string, unknown>;
    assert.deepEqual(back, { ...base, dequeued_at: 2 ** 40, payload: { a: [1, 2.5] } });
  });
});
