// Fuzz: query strings and ranges on list/count/delete/patch/take/errors, path ids and
// names on every path-parameter route, and jq filters (grammar-built, with runaway and
// huge-value programs). Every answer is a 2xx or a 4xx JSON error, within a bounded time
// for jq; the kept jobs and cron group never change. Replay with the printed ZIZQ_SEED.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { configureJq } from "../../lib/queue/jq.ts";
import { assertAnswer, fuzz, send } from "../helpers/fuzz.ts";
import { useFuzzServer } from "./_setup.ts";

const FUZZ_QUEUE = "fuzz-q";
const KEYS = ["id", "queue", "type", "status", "priority", "ready_at", "attempts", "filter", "from", "order", "limit", "prefetch", "x", "", "queue[]"];
const rangeText = fc.oneof(
  fc.tuple(fc.option(fc.bigInt({ min: -5n, max: 2n ** 65n })), fc.option(fc.bigInt({ min: -5n, max: 2n ** 65n }))).map(([a, b]) => `${a ?? ""}..${b ?? ""}`),
  fc.bigInt({ min: -1n, max: 2n ** 65n }).map(String),
  fc.constantFrom("..", "...", "1..2..3", "a..b", "1.5", "0x10", " 1", "1e3", "-0", "65535..65536", "18446744073709551615.."),
);
const value = fc.oneof(
  rangeText,
  fc.string({ maxLength: 10 }),
  fc.constantFrom("ready", "in_flight,scheduled", "completed,dead,nope", "asc", "desc", "0", "2000", "2001", ",", ",,", "%", "%zz", "%ED%A0%80", "%00", "+", "é", "x".repeat(300)),
  fc.array(fc.constantFrom("0000000000000000000000000", "03hcv30btocchiozq2cx9um3y", "short", ""), { maxLength: 3 }).map((a) => a.join(",")),
);
const pair = fc.tuple(fc.constantFrom(...KEYS), value).map(([k, v]) => `${k}=${v.includes("%") ? v : encodeURIComponent(v)}`);
const query = fc.array(pair, { maxLength: 4 }).map((ps) => ps.join("&"));

/** jq programs from fragments: paths, literals, builtins, runaway loops, value bombs, nesting. */
const jqAtom = fc.constantFrom(
  ".", ".a", ".n", ".[0]", ".[]?", "..", "1", "\"s\"", "null", "true", "[]", "{}", "$__loc__", "input", "halt", "env",
  "@base64d", "@base64", "tostring", "tojson", "fromjson", "length", "keys", "ascii_upcase", "test(\"a\")", "not",
  "range(5)", "recurse", "limit(3; repeat(1))", "[range(1e7)] | length", "def f: f; f", "last(repeat(1))",
  "reduce range(40) as $i (\"xx\"; . + .)", "\"x\" * 100000000", "[limit(100000; repeat(\"x\" * 1000))]", "error(\"boom\")", "$x",
  "getpath([\"a\",\"b\"])", "splits(\"\")", "ltrimstr(1)", "implode", "@sh", "input_line_number", "-1", "--slurp",
);
const jqOp = fc.constantFrom(" | ", " and ", " or ", " == ", " + ", " * ", " // ", ", ", " as $x | ", "; ", " ?// ");
const jqProgram: fc.Arbitrary<string> = fc.letrec((tie) => ({
  program: fc.oneof({ depthSize: "small", withCrossShrink: true },
    jqAtom,
    fc.tuple(tie("program") as fc.Arbitrary<string>, jqOp, tie("program") as fc.Arbitrary<string>).map(([a, op, b]) => `${a}${op}${b}`),
    (tie("program") as fc.Arbitrary<string>).map((p) => `(${p})`),
    (tie("program") as fc.Arbitrary<string>).map((p) => `[${p}]`),
    (tie("program") as fc.Arbitrary<string>).map((p) => `select(${p})`),
    fc.nat({ max: 400 }).map((n) => "(".repeat(n) + "." + ")".repeat(n)),
    fc.string({ maxLength: 8 }),
  ),
})).program;

describe("fuzz: queries, path ids, jq filters", () => {
  const f = useFuzzServer(() => configureJq({ deadlineMs: 1000 }));

  it("query strings and ranges", async () => {
    const endpoint = fc.constantFrom(
      ["GET", "/jobs"], ["GET", "/jobs/count"], ["DELETE", `/jobs?queue=${FUZZ_QUEUE}`], ["PATCH", `/jobs?queue=${FUZZ_QUEUE}`],
      ["GET", "/jobs/0000000000000000000000000/errors"], ["GET", "/crons"], ["GET", "/queues"],
    );
    await fuzz("queries", fc.asyncProperty(endpoint, query, async ([method, path], q) => {
      const url = q === "" ? path : `${path}${path.includes("?") ? "&" : "?"}${q}`;
      const a = await send(f.s.url, method, url, { "content-type": "application/json", accept: "application/json" }, method === "PATCH" ? '{"priority":1}' : undefined);
      assertAnswer(a, `${method} ${url}`);
    }), 200);
    await f.assertKept();
  });

  it("path ids and names on every path-parameter route", async () => {
    const segment = fc.oneof(
      fc.string({ maxLength: 30 }).map(encodeURIComponent),
      fc.constantFrom("", ".", "..", "%2e", "%2F", "%2f..", "%", "%zz", "%00", "%ED%A0%80", "0".repeat(25), "Z".repeat(25), "x".repeat(400), "%E2%82%AC", "a%2Cb", "*"),
    );
    const route = fc.constantFrom(
      ["GET", "/jobs/:a"], ["DELETE", "/jobs/:a"], ["PATCH", "/jobs/:a"], ["POST", "/jobs/:a/success"], ["POST", "/jobs/:a/failure"],
      ["GET", "/jobs/:a/errors"], ["GET", "/jobs/:a/errors/:b"], ["GET", "/crons/:a"], ["PUT", "/crons/:a"], ["PATCH", "/crons/:a"],
      ["DELETE", "/crons/:a"], ["POST", "/crons/:a/entries"], ["GET", "/crons/:a/entries/:b"], ["PUT", "/crons/:a/entries/:b"],
      ["PATCH", "/crons/:a/entries/:b"], ["DELETE", "/crons/:a/entries/:b"], ["HEAD", "/jobs/:a"], ["OPTIONS", "/crons/:a"],
    );
    await fuzz("path ids", fc.asyncProperty(route, segment, segment, async ([method, pattern], a, b) => {
      const path = pattern.replace(":a", a).replace(":b", b);
      const body = ["PUT", "PATCH", "POST"].includes(method) ? '{"entries":[],"paused":true,"message":"m"}' : undefined;
      const r = await send(f.s.url, method, path, { "content-type": "application/json", accept: "application/json" }, body);
      assertAnswer(r, `${method} ${path}`, method === "HEAD");
    }), 200);
    await f.assertKept();
  });

  it("jq filters end in a 2xx or 4xx within a bounded time", async () => {
    for (let i = 0; i < 20; i++) {
      const r = await send(f.s.url, "POST", "/jobs", { "content-type": "application/json" }, JSON.stringify({ type: "t", queue: FUZZ_QUEUE, payload: { a: i % 3 ? "YWJj" : { b: [i] }, n: i } }));
      assert.equal(r.status, 201);
    }
    const endpoint = fc.constantFrom(["GET", "/jobs?"], ["GET", "/jobs/count?"], ["DELETE", `/jobs?queue=${FUZZ_QUEUE}&`], ["PATCH", `/jobs?queue=${FUZZ_QUEUE}&`]);
    await fuzz("jq filters", fc.asyncProperty(endpoint, jqProgram, async ([method, path], program) => {
      const started = Date.now();
      const url = `${path}filter=${encodeURIComponent(program)}`;
      const a = await send(f.s.url, method, url, { "content-type": "application/json", accept: "application/json" }, method === "PATCH" ? '{"priority":2}' : undefined);
      assertAnswer(a, `${method} filter=${program}`);
      // A hang guard, not a timing assertion: deadline 1 s per engine call, a few calls, heavy load.
      assert.ok(Date.now() - started < 60_000, `${program} took ${Date.now() - started} ms`);
    }), 40);
    await f.assertKept();
  });
});
