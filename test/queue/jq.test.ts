// jq filters and batch expressions through the real engine (API.md §4.4, §4.6): match =
// any truthy output, runtime errors = no match, compile errors = 400, guarded builtins keep
// verdicts in step with payloads, and when/fold follow the batch rules.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { checkBatchExpressions, closeJq, compileFilter, configureJq, evalFold, evalWhen } from "../../lib/queue/jq.ts";
import { QueueError } from "../../lib/queue/types.ts";

// Verdicts, not the time-box (test/queue/jq-timebox.test.ts): a deadline far above any
// legitimate call here, so a loaded machine cannot turn a slow chunk into a wrong answer.
before(() => configureJq({ deadlineMs: 120_000 }));
after(() => closeJq());

async function matches(program: string, payloads: string[]): Promise<boolean[]> {
  return (await compileFilter(program)).matchMany(payloads);
}

async function rejectsWith(promise: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof QueueError, String(err));
    assert.equal(err.code, code);
    assert.match(err.message, message);
    return true;
  });
}

const JOBS = [
  '{"user":{"name":"ana","email":"ana@example.com"},"n":14,"tags":["a","b"],"retries":null}',
  '{"user":{"name":"bob"},"n":3,"tags":[],"retries":2}',
  '{"n":"seven"}',
  "null",
  '"plain"',
  "[3,1,2]",
];

describe("filter semantics", () => {
  const table: Array<[string, boolean[]]> = [
    [".n % 7 == 0", [true, false, false, false, false, false]],
    ['.user.email // "none" | endswith("example.com")', [true, false, false, false, false, false]],
    ['.user.name | test("^a")', [true, false, false, false, false, false]],
    ['.user.name | startswith("b")', [false, true, false, false, false, false]],
    [".tags | length > 1", [true, false, false, false, false, false]],
    ['keys == ["n"]', [false, false, true, false, false, false]],
    [".retries // 0 | . >= 2", [false, true, false, false, false, false]],
    [".n += 1 | .n == 15", [true, false, false, false, false, false]],
    ['.user |= {x: 1} | .user.x == 1', [true, true, true, true, false, false]],
    ['(.tags | sort) == ["a","b"]', [true, false, false, false, false, false]],
    // Any truthy output matches; no output or only false/null does not.
    [".[]? | numbers | . > 2", [true, true, false, false, false, true]],
    ["false, null, 1", [true, true, true, true, true, true]],
    ["empty", [false, false, false, false, false, false]],
    [". == null", [false, false, false, true, false, false]],
    // Runtime errors are no-match, per payload, without disturbing the others.
    [".n + 1 > 10", [true, false, false, false, false, false]],
    ['error("boom")', [false, false, false, false, false, false]],
    ["try error(1) catch true", [true, true, true, true, true, true]],
    // Client shapes (fast path) in the same table.
    ['. | contains({"tags":["a"]})', [true, false, false, false, false, false]],
    [".[0:2] == [3,1]", [false, false, false, false, false, true]],
  ];
  for (const [program, expected] of table) {
    it(program, async () => assert.deepEqual(await matches(program, JOBS), expected));
  }

  it("reads an empty payload text as null and pretty-printed JSON as JSON", async () => {
    assert.deepEqual(await matches(". == null", ["", "null", "1"]), [true, true, false]);
    assert.deepEqual(await matches(".a == 1", ['{\n  "a": 1\n}', '{"a":2}']), [true, false]);
  });

  it("treats a payload jq cannot parse as no match and keeps the rest in step", async () => {
    assert.deepEqual(await matches(".a == 1", ['{"a":1}', '{"a":"\\ud800"}', '{"a":', '{"a":1}']), [true, false, false, true]);
  });

  it("matches in chunks, in order", async () => {
    configureJq({ chunkPayloads: 1000 });
    try {
      const payloads = Array.from({ length: 4500 }, (_, n) => JSON.stringify({ n }));
      const verdicts = await matches(".n % 3 == 0", payloads);
      assert.deepEqual(verdicts, payloads.map((_, n) => n % 3 === 0));
    } finally {
      configureJq({ chunkPayloads: 10_000 });
    }
  });
});

// Speed is measured by bench/jq.ts (API target: 50,000 payloads/s), not asserted here: a
// timing assertion fails on a loaded machine. This pins the verdicts of a large scan.
describe("large scans", () => {
  const payloads = Array.from({ length: 100_000 }, (_, n) =>
    JSON.stringify({ n, user: { id: 100_000 + n, email: `user${n}@example.com`, plan: n % 3 ? "free" : "pro" }, tags: ["a"] }),
  );
  const cases: [string, (n: number) => boolean][] = [
    ['. | contains({"user":{"plan":"pro"}})', (n) => n % 3 === 0],
    [".n % 7 == 0", (n) => n % 7 === 0],
  ];
  for (const [program, expected] of cases) {
    it(program, async () => {
      const verdicts = await (await compileFilter(program)).matchMany(payloads);
      assert.equal(verdicts.length, payloads.length);
      const wrong = verdicts.findIndex((verdict, n) => verdict !== expected(n));
      assert.equal(wrong, -1, `payload ${wrong}`);
    });
  }
});

describe("fast-path scans share the event loop", () => {
  it("yields between ~10 ms slices", async () => {
    const payloads = Array.from({ length: 200_000 }, (_, n) => JSON.stringify({ n, s: "x".repeat(100) }));
    let ticks = 0;
    const timer = setInterval(() => ticks++, 2);
    const started = performance.now();
    try {
      const filter = await compileFilter(". | contains({\"n\":7})");
      assert.equal(filter.fast, true);
      await filter.matchMany(payloads);
    } finally {
      clearInterval(timer);
    }
    const elapsed = performance.now() - started;
    assert.ok(ticks >= Math.min(3, elapsed / 20), `${ticks} ticks in ${elapsed.toFixed(0)} ms`);
  });
});

describe("compile errors", () => {
  for (const program of [".a ====", "1) , (2", "$existing", "foo(1)", "", "def f: 1;", 'import "x" as x; .', ". |", "(1"]) {
    it(JSON.stringify(program), () => rejectsWith(compileFilter(program), "invalid_argument", /^invalid filter: \S/));
  }
  it("keeps the detail readable", async () => {
    await rejectsWith(compileFilter(".a ===="), "invalid_argument", /^invalid filter: syntax error, .*line 1/);
  });
  it("accepts a trailing comment and local definitions", async () => {
    assert.deepEqual(await matches("def big: .n > 10; big # comment", JOBS.slice(0, 2)), [true, false]);
  });
});

describe("guarded builtins keep verdicts in step with payloads", () => {
  const payloads = Array.from({ length: 10 }, (_, n) => JSON.stringify({ n }));
  for (const program of ["input", "[inputs] | length > 0", "first(inputs)", "halt", "halt_error", "halt_error(1)", "input | .n == 1"]) {
    it(`${program} matches nothing and consumes nothing`, async () => {
      assert.deepEqual(await matches(program, payloads), payloads.map(() => false));
    });
  }
  it("a guarded call in one branch leaves the other branch working", async () => {
    const verdicts = await matches("if .n % 2 == 0 then input else true end", payloads);
    assert.deepEqual(verdicts, payloads.map((_, n) => n % 2 === 1));
  });
  it("debug and stderr are pass-throughs", async () => {
    assert.deepEqual(await matches('debug | debug("x") | stderr | .n == 3', payloads), payloads.map((_, n) => n === 3));
  });
});

describe("batch expressions", () => {
  const P = ".ids";
  const when = `(($existing | ${P}) + ($new | ${P})) | length <= 3`;
  const fold = `$existing | ${P} += ($new | ${P})`;

  it("when: first output with input null and $existing/$new bound", async () => {
    assert.equal(await evalWhen(when, '{"ids":[1,2]}', '{"ids":[3]}'), true);
    assert.equal(await evalWhen(when, '{"ids":[1,2]}', '{"ids":[3,4]}'), false);
    assert.equal(await evalWhen(". == null", "1", "2"), true);
    assert.equal(await evalWhen("true, error(1)", "1", "2"), true, "later outputs are never evaluated");
    assert.equal(await evalWhen("empty", "1", "2"), false);
    assert.equal(await evalWhen("null, true", "1", "2"), false, "only the first output counts");
    assert.equal(await evalWhen("$new.x + 1", "{}", '{"x":"s"}'), false, "a runtime error seals");
  });

  it("fold: exactly one output, as compact JSON with jq's number literals", async () => {
    assert.equal(await evalFold(fold, '{"ids":[1,2],"k":"v"}', '{"ids":[3]}'), '{"ids":[1,2,3],"k":"v"}');
    assert.equal(
      await evalFold(`$existing | ${P} = ((${P}) + ($new | ${P}) | unique)`, '{"ids":[3,1]}', '{"ids":[1,2]}'),
      '{"ids":[1,2,3]}',
    );
    assert.equal(await evalFold(`$existing | ${P} = ((${P}) + ($new | ${P}) | sort)`, '{"ids":[3]}', '{"ids":[1]}'), '{"ids":[1,3]}');
    assert.equal(await evalFold("$existing", '{"big":100000000000000000001}', "1"), '{"big":100000000000000000001}');
    await rejectsWith(evalFold("$existing, $new", "1", "2"), "unprocessable", /^batch fold failed: expected exactly one output, got more than one$/);
    await rejectsWith(evalFold("empty", "1", "2"), "unprocessable", /^batch fold failed: expected exactly one output, got none$/);
    await rejectsWith(evalFold('error("nope")', "1", "2"), "unprocessable", /^batch fold failed: nope$/);
    await rejectsWith(evalFold("$existing.a + 1", '{"a":"x"}', "2"), "unprocessable", /^batch fold failed: .*cannot be added/);
  });

  it("enqueue dry-run: compile errors, then when, then fold", async () => {
    await checkBatchExpressions(when, fold, '{"ids":[1]}');
    await rejectsWith(checkBatchExpressions("(", fold, "{}"), "unprocessable", /^batch expression: when: /);
    await rejectsWith(checkBatchExpressions(when, "$nope", "{}"), "unprocessable", /^batch expression: fold: .*\$nope is not defined/);
    await rejectsWith(checkBatchExpressions('$new | error("bad")', fold, "{}"), "unprocessable", /^batch dry-run: when: bad$/);
    await rejectsWith(checkBatchExpressions("true", "empty", "{}"), "unprocessable", /^batch dry-run: fold: expected exactly one output, got none$/);
    await rejectsWith(checkBatchExpressions("true", "$existing.a.b", '{"a":1}'), "unprocessable", /^batch dry-run: fold: Cannot index number/);
    await rejectsWith(checkBatchExpressions("(", fold, "{}", "invalid_argument"), "invalid_argument", /^batch expression: when: /);
  });

  it("input/halt are guarded in batch expressions too", async () => {
    assert.equal(await evalWhen("input", "1", "2"), false);
    await rejectsWith(evalFold("halt", "1", "2"), "unprocessable", /^batch fold failed: halt is disabled$/);
  });
});
