// Fuzz: JSON and MessagePack bodies of every endpoint that takes one, as values (near-valid
// jobs, crons, failures, patches with hostile field values) and as mutated text/bytes.
// Every answer is a 2xx or a 4xx JSON error; the kept jobs and cron group never change.
// Replay a failure with the ZIZQ_SEED it prints; more runs with ZIZQ_FUZZ_RUNS=<factor>.

import { describe, it } from "node:test";
import { encode } from "@msgpack/msgpack";
import fc from "fast-check";
import { assertAnswer, fuzz, send } from "../helpers/fuzz.ts";
import { useFuzzServer } from "./_setup.ts";

const FUZZ_QUEUE = "fuzz-q";

/** Numbers around every bound a field has (u16, u32, 2^53, u64, floats, negatives). */
const number = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -1, 0.5, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 2 ** 64, 1e308, -0, Date.now() + 1e9),
);
const name = fc.oneof(
  fc.string({ maxLength: 12 }).map((s) => `f-${s}`),
  fc.constantFrom("", ",", "a,b", "*", "[x]", "a\u0000b", "q-\ud800", "q-\udc00x", "é".repeat(128), "n".repeat(300), FUZZ_QUEUE, "t"),
  fc.string({ unit: "grapheme", maxLength: 8 }),
);
const json = fc.jsonValue({ maxDepth: 3 });
const anyField = fc.oneof(number, name, json, fc.constant(null), fc.boolean());
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.oneof(arb, anyField);

const job = fc.record({
  type: maybe(name), queue: maybe(name), payload: json, priority: maybe(number), ready_at: maybe(number),
  retry_limit: maybe(number),
  backoff: maybe(fc.record({ exponent: maybe(number), base_ms: maybe(number), jitter_ms: maybe(number) }, { requiredKeys: [] })),
  retention: maybe(fc.record({ completed_ms: maybe(number), dead_ms: maybe(number) }, { requiredKeys: [] })),
  unique_key: maybe(name), unique_while: maybe(fc.constantFrom("queued", "active", "exists", "never")),
  batch: maybe(fc.record({ key: maybe(name), when: maybe(fc.constantFrom("true", "$new.n > 1", "(((", "def f: f; f")), fold: maybe(fc.constantFrom("$new", "[$existing, $new]", "empty", "@base64d")) }, { requiredKeys: [] })),
}, { requiredKeys: [] });
const entry = fc.record({
  name: maybe(name), expression: maybe(fc.constantFrom("* * * * *", "0 0 1 1 *", "61 * * * *", "@daily", "* * * * * * *", "")),
  timezone: maybe(fc.constantFrom("UTC", "Europe/Paris", "Mars/Olympus", "")), paused: maybe(fc.boolean()),
  job: maybe(job),
}, { requiredKeys: [] });

/** [method, path, body] for every endpoint with a body. Ids are random: no kept job is hit. */
const request = fc.oneof(
  job.map((b) => ["POST", "/jobs", b] as const),
  fc.array(maybe(job), { maxLength: 4 }).map((jobs) => ["POST", "/jobs/bulk", { jobs }] as const),
  fc.oneof(fc.record({ ids: fc.array(maybe(name), { maxLength: 4 }) }), anyField).map((b) => ["POST", "/jobs/success", b] as const),
  fc.record({ message: maybe(name), error_type: maybe(name), backtrace: maybe(name), retry_at: maybe(number), kill: maybe(fc.boolean()) }, { requiredKeys: [] })
    .map((b) => ["POST", "/jobs/0000000000000000000000000/failure", b] as const),
  job.map((b) => ["PATCH", `/jobs/${"z".repeat(25)}`, b] as const),
  job.map((b) => ["PATCH", `/jobs?queue=${FUZZ_QUEUE}`, b] as const),
  fc.record({ paused: maybe(fc.boolean()), entries: maybe(fc.array(maybe(entry), { maxLength: 3 })) }, { requiredKeys: [] })
    .map((b) => ["PUT", "/crons/fuzz-g", b] as const),
  fc.record({ paused: maybe(fc.boolean()) }, { requiredKeys: [] }).map((b) => ["PATCH", "/crons/fuzz-g", b] as const),
  entry.map((b) => ["POST", "/crons/fuzz-g/entries", b] as const),
  entry.map((b) => ["PUT", "/crons/fuzz-g/entries/e", b] as const),
);

/** Text fragments that break JSON in interesting ways. */
const FRAGMENTS = [",", "}", "{\"", "\"\\ud800\"", "18446744073709551616", "1e999", "-0", "[", "null", "\"__proto__\":1,", "\\u0000", "\"", "\u00ff", "\uffff"];

describe("fuzz: request bodies", () => {
  const f = useFuzzServer();

  it("JSON and MessagePack values on every endpoint", async () => {
    await fuzz("bodies: values", fc.asyncProperty(request, fc.boolean(), async ([method, path, body], msgpack) => {
      const bytes = msgpack ? encode(body) : JSON.stringify(body);
      const type = msgpack ? "application/msgpack" : "application/json";
      const a = await send(f.s.url, method, path, { "content-type": type, accept: "application/json" }, bytes);
      assertAnswer(a, `${method} ${path} ${type} ${JSON.stringify(body)?.slice(0, 300)}`);
    }), 150);
    await f.assertKept();
  });

  it("mutated JSON text and MessagePack bytes", async () => {
    const mutated = fc.tuple(request, fc.boolean(), fc.array(fc.tuple(fc.nat(), fc.oneof(fc.constantFrom(...FRAGMENTS), fc.string({ maxLength: 4 }))), { minLength: 1, maxLength: 3 }), fc.nat());
    await fuzz("bodies: mutations", fc.asyncProperty(mutated, async ([[method, path, body], msgpack, edits, cut]) => {
      let bytes: Uint8Array;
      if (msgpack) {
        const b = Buffer.from(encode(body));
        for (const [at, text] of edits) b[at % b.length] = (b[at % b.length]! + text.length * 37) & 0xff;
        bytes = b.subarray(0, b.length - (cut % 3 === 0 ? cut % Math.max(1, b.length) : 0));
      } else {
        let text = JSON.stringify(body) ?? "";
        for (const [at, frag] of edits) {
          const i = at % (text.length + 1);
          text = text.slice(0, i) + frag + text.slice(i);
        }
        bytes = Buffer.from(text);
      }
      const type = msgpack ? "application/msgpack" : "application/json";
      const a = await send(f.s.url, method, path, { "content-type": type, accept: "application/json" }, bytes);
      assertAnswer(a, `${method} ${path} ${type} ${Buffer.from(bytes).toString("hex").slice(0, 200)}`);
    }), 150);
    await f.assertKept();
  });
});
