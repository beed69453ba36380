// A job's JSON text is written straight from its view (lib/http/job-wire.ts) while
// MessagePack packs the object form: the two must say the same thing in the same order,
// for every optional field API.md §2.1 lists, alone and together.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encodeJson } from "../../lib/http/codec.ts";
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
