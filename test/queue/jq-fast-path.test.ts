// The JS fast path must agree with jq-web on every client filter shape (API.md §4.6):
// each filter × payload verdict is compared with the real engine running the same
// wrapped program the server uses, and non-client shapes must stay off the fast path.

import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { compileFastPath, jqContains, jqEqual } from "../../lib/queue/jq-fast-path.ts";
import { _internals, closeJq, compileFilter } from "../../lib/queue/jq.ts";

interface JqWeb {
  raw(input: string, program: string, flags: string[]): string | undefined;
}
const jqWeb = (await (createRequire(import.meta.url)("jq-web") as Promise<JqWeb>));

/** The engine's verdicts, straight from jq-web on this thread (tests only). */
function engineVerdicts(program: string, payloads: string[]): boolean[] {
  const lines = payloads.map((p) => (p === "" ? "null" : p)).join("\n");
  const stdout = jqWeb.raw(lines, _internals.filterProgram(program), ["-c", "-R"]) ?? "";
  return stdout.split("\n").map((line) => line === "1");
}

const PAYLOADS = [
  "null", "true", "false", "0", "5", "5.0", "-0", "1.5", "1e2", "100",
  '""', '"hello"', '"héllo"', '"hé😀x"', '"ll"',
  "[]", "[1]", "[1,2]", "[1,2,3]", "[2,1]", "[[1,2],3]", '[{"a":1}]', '["hello","x"]', "[1,[2,3]]",
  "{}", '{"a":1}', '{"a":1.0}', '{"b":[1,2],"a":1}', '{"a":1,"b":[1,2]}', '{"a":1,"b":[1,2],"c":null}',
  '{"a":null}', '{"flag":false}', '{"flag":true}', '{"s":"hello"}', '{"tags":["x","y"]}', '{"tags":"x"}',
  '{"nested":{"deep":[{"k":"v","z":1}]}}', '{"nested":{"deep":[{"k":"w"}]}}', '{"a":1,"b":[2,1,1]}',
  '{"a":"1"}', '{"a":[1]}', '{"A":1}', '{"a":{"a":1}}', '{"user":{"id":7,"email":"x@y.z"},"n":3}',
  // Payloads the fast path must hand to the engine: decimal-precision numbers and surrogates.
  '{"a":100000000000000000001}', '{"a":100000000000000000000}', "1e1000", '"\\ud800"', '"\\ud83d\\ude00"',
  '{"a":12345678901234.56}', '{"a":1,"b":[1,2],"c":"\\udfff"}', '{"a":', "",
];

const CLIENT_SHAPES = [
  '. == {"a":1,"b":[1,2]}',
  '. == {"b":[1,2],"a":1.0}',
  '. == "héllo"', ". == 5", ". == 1e2", ". == -0", ". == null", ". == true", ". == false", ". == []", ". == {}",
  ". == [1,[2,3]]",
  '. | contains({"a":1})', '. | contains({"tags":["x"]})', '. | contains({"s":"ell"})',
  '. | contains({"nested":{"deep":[{"k":"v"}]}})', '. | contains({"a":null})', '. | contains({"flag":false})',
  ". | contains([1])", ". | contains([[2]])", '. | contains(["ll"])', '. | contains("ll")', '. | contains("")',
  ". | contains(5)", ". | contains(true)", ". | contains(null)", ". | contains({})", ". | contains([])",
  '. | contains({"user":{"email":"@y"}})',
  ".[0:2] == [1,2]", ".[0:0] == []", '.[0:3] == "hé😀"', ".[1:3] == [2,3]", ".[0:1] == [[1,2]]", '.[0:2] == "he"',
  '. == {"a":1} and (. | contains({"b":[1]}))',
  '(. | contains({"a":1})) and (. | contains({"b":[2]}))',
  "(.[0:1] == [1]) and (. | contains([3]))",
  '. | contains({"a":1}) and . == {"a":1}',
  '.==5', '.  |  contains( {"a" : 1} )', '(\n. == {"a": 1}\n)',
  '((. | contains({"a":1}))) and (. == {"a":1,"b":[1,2]}) and (.[0:0] == null)',
];

after(() => closeJq());

describe("fast path agrees with jq-web", () => {
  for (const program of CLIENT_SHAPES) {
    it(program, async () => {
      const filter = await compileFilter(program);
      assert.equal(filter.fast, true, "expected a client shape to take the fast path");
      assert.deepEqual(await filter.matchMany(PAYLOADS), engineVerdicts(program, PAYLOADS));
      // Only the precision/surrogate/broken payloads at the end of the list go to the engine.
      const fast = compileFastPath(program)!;
      const handedOff = PAYLOADS.filter((p) => fast.test(p) === undefined);
      assert.ok(handedOff.every((p) => PAYLOADS.indexOf(p) >= PAYLOADS.indexOf('{"a":100000000000000000001}')), String(handedOff));
    });
  }
  it("leaves a literal with more digits than a double holds to the engine, which still agrees", async () => {
    const program = '. == {"a":100000000000000000000}';
    const filter = await compileFilter(program);
    assert.equal(filter.fast, false);
    assert.deepEqual(await filter.matchMany(PAYLOADS), engineVerdicts(program, PAYLOADS));
    assert.deepEqual(await filter.matchMany(['{"a":100000000000000000001}', '{"a":100000000000000000000}']), [false, true]);
  });
  it("judges ordinary payloads itself and hands precision/surrogate cases to the engine", () => {
    const fast = compileFastPath(". == 1")!;
    assert.equal(fast.test('{"a":1}'), false);
    assert.equal(fast.test("1"), true);
    assert.equal(fast.test('{"a":"1"}'), false);
    for (const p of ['{"a":100000000000000000001}', "1e1000", '"\\ud800"', '{"a":', '{"a":1.234567890123456}']) {
      assert.equal(fast.test(p), undefined, p);
    }
  });
});

describe("non-client shapes stay on the engine", () => {
  const others = [
    ".a == 1", ". == 1 or . == 2", ". != 1", ". == 1 == 2", ". == 1 | not", ". == 1 # c", '. == "\\(1)"',
    ".[0:2][0] == 1", ". == {a: 1}", ".[:2] == [1]", ".[-1:2] == [1]", ". | contains(1; 2)", "contains(1)?",
    ". == 100000000000000000001", ". == 1, 2", ". == 1 // 2", ". == 1 and", ". == .5", ". as $x | $x == 1",
    ".", "1", "null", ".[0:2]", ". == 1andx", "(. == 1", "def f: 1; f == 1", ". |= 1", ". == 01",
  ];
  for (const program of others) {
    it(program, () => assert.equal(compileFastPath(program), undefined));
  }
});

describe("jq equality and containment rules", () => {
  it("== ignores key order and compares numbers by value", () => {
    assert.equal(jqEqual({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2.0 }], a: 1 }), true);
    assert.equal(jqEqual([1, 2], [2, 1]), false);
    assert.equal(jqEqual({ a: null }, {}), false);
    assert.equal(jqEqual(true, 1), false);
  });
  it("contains: substring, recursive subset, any-element for arrays, kind errors at the top", () => {
    assert.equal(jqContains("foobar", "oba"), true);
    assert.equal(jqContains({ a: [1, 2, 3], b: "xyz" }, { a: [3], b: "y" }), true);
    assert.equal(jqContains([[1, 2], 3], [[2]]), true);
    assert.equal(jqContains({ a: true }, { a: false }), false);
    assert.throws(() => jqContains(true, false));
    assert.throws(() => jqContains({}, []));
  });
});
