// The embedded queue's hand-written job conversion stays equal to the client's generic
// one (lib/client/_wire.ts jobIn): same keys, order, undefined members and values; and
// asJson gives a body back as the server reads it off a JSON Client's request.

import assert from "node:assert/strict";
import { test } from "node:test";
import { jobIn } from "../../lib/client/_wire.ts";
import { asJson, toJobData } from "../../lib/embedded/_convert.ts";
import type { JobView } from "../../lib/queue/types.ts";

const minimal: JobView = { id: "03hcv0puxmjpole9o55ep5oe2", type: "t", queue: "q", priority: 5, status: "ready", ready_at: 1, attempts: 0 };
const full: JobView = {
  ...minimal, status: "completed", retry_limit: 3, backoff: { exponent: 2, base_ms: 10, jitter_ms: 0 }, dequeued_at: 2,
  failed_at: 3, retention: { completed_ms: 100 }, purge_at: 4, completed_at: 5, unique_key: "k", unique_while: "active",
  batch: { key: "b", when: "true", fold: "." }, budgets: [{ key: "api", cost: 2 }],
};

test("toJobData equals jobIn over the wire object, with and without payload and enqueue flags", () => {
  for (const view of [minimal, full, { ...full, retention: { dead_ms: 7 } }]) {
    const same = (a: object, b: object) => {
      assert.deepStrictEqual(a, b);
      assert.deepEqual(Object.keys(a), Object.keys(b));
    };
    same(toJobData(view), jobIn({ ...view }));
    same(toJobData(view, '{"a":[1,2.5]}'), jobIn({ ...view, payload: { a: [1, 2.5] } }));
    const result = { job: view, created: false, duplicate: true, folded: false };
    same(toJobData(view, undefined, result), jobIn({ ...view, duplicate: true, folded: false }));
  }
});

test("asJson is JSON.parse(JSON.stringify(v)), and v itself when JSON changes nothing", () => {
  const odd = [
    { a: 1, b: undefined, c: () => 1, d: [undefined, NaN, Infinity, () => 1, null], e: new Date(0), f: { g: undefined } },
    { backoff: { base_ms: 1, exponent: undefined }, ready_at: NaN, n: new Number(2), s: new String("x"), m: new Map([[1, 2]]) },
    [new Date(1), { toJSON: (key: string) => `key:${key}` }], { nested: { deep: [{ x: -Infinity }] } },
  ];
  for (const v of odd) assert.deepStrictEqual(asJson(v), JSON.parse(JSON.stringify(v)));
  const clean = { type: "t", queue: "q", priority: 3, backoff: { base_ms: 1, exponent: 2, jitter_ms: 0 }, budgets: [{ key: "k", cost: 1 }], x: null };
  assert.equal(asJson(clean), clean);
  assert.throws(() => asJson({ big: 1n }), TypeError);
  // The payload is the queue's to stringify (JSON.stringify): left as it is, unless JSON drops it.
  const payload = { when: new Date(0) };
  assert.equal((asJson({ payload, ready_at: NaN }, "", "payload") as { payload: unknown }).payload, payload);
  assert.deepEqual(asJson({ type: "t", payload: () => 1 }, "", "payload"), { type: "t" });
});
