// Runaway jq programs are time-boxed: the call fails with a 400-style QueueError, the worker
// is replaced, the next call works, and the main event loop keeps running meanwhile.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { _internals, checkBatchExpressions, closeJq, compileFilter, configureJq, evalFold, evalWhen } from "../../lib/queue/jq.ts";
import { QueueError } from "../../lib/queue/types.ts";

// Generous: under heavy machine load a fresh worker's first call can take a few hundred ms.
const DEADLINE_MS = 1000;
const PAYLOADS = ['{"n":1}', '{"n":2}'];

before(() => configureJq({ deadlineMs: DEADLINE_MS }));
after(() => closeJq());

function isError(code: string, message: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof QueueError, String(err));
    assert.equal(err.code, code);
    assert.match(err.message, message);
    return true;
  };
}

/** Counts event-loop ticks while `work` runs: a blocked loop would show (almost) none. */
async function ticksDuring(work: Promise<unknown>): Promise<number> {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  try {
    await work.catch(() => undefined);
  } finally {
    clearInterval(timer);
  }
  return ticks;
}

/**
 * The engine answers a normal filter again. A timeout of that call is retried (on a loaded
 * machine a legitimate call can overrun the short test deadline); any other failure, such
 * as `cannot allocate memory` from an engine left broken, fails the test at once.
 */
async function worksAgain(): Promise<boolean[]> {
  const until = performance.now() + 60_000;
  for (;;) {
    try {
      return await (await compileFilter(".n == 2")).matchMany(PAYLOADS);
    } catch (err) {
      const timedOut = err instanceof QueueError && /evaluation timed out/.test(err.message);
      if (!timedOut || performance.now() > until) throw err;
    }
  }
}

describe("time-box", () => {
  for (const program of ["def f: f; f", "[range(1e9)]", "def f: 1+f; f", "last(repeat(1))", '[limit(1e9; repeat("x"))] | length']) {
    it(`${program}: times out, replaces the worker, next call works`, async () => {
      const filter = await compileFilter(program);
      const respawnsBefore = _internals.pool().respawns;
      const started = performance.now();
      const run = filter.matchMany(PAYLOADS);
      const ticks = ticksDuring(run);
      await assert.rejects(run, isError("invalid_argument", /^invalid filter: (evaluation timed out|cannot allocate memory)$/));
      const elapsed = performance.now() - started;
      assert.ok(elapsed < DEADLINE_MS + 30_000, `took ${elapsed} ms (a hang guard, not a timing assertion)`);
      assert.ok((await ticks) >= 3, "the main event loop kept running");
      // One replacement for a timeout; two for a crash (the call is retried once on a fresh engine).
      assert.ok(_internals.pool().respawns >= respawnsBefore + 1);
      assert.deepEqual(await worksAgain(), [false, true]);
    });
  }

  it("work queued behind a runaway call still completes, urgent (enqueue) work first", async (t) => {
    // One worker, so the order of the queue is the order of the work.
    configureJq({ deadlineMs: DEADLINE_MS, workers: 1 });
    t.after(() => configureJq({ deadlineMs: DEADLINE_MS, workers: 2 }));
    const done: string[] = [];
    const runaway = assert.rejects(
      (await compileFilter("def f: f; f")).matchMany(PAYLOADS),
      isError("invalid_argument", /evaluation timed out/),
    );
    const queuedFilter = compileFilter(".n > 1")
      .then((filter) => filter.matchMany(PAYLOADS))
      .finally(() => done.push("filter"));
    const queuedWhen = evalWhen("$new.n > $existing.n", '{"n":1}', '{"n":2}').finally(() => done.push("when"));
    await runaway;
    assert.equal(await queuedWhen, true);
    assert.deepEqual(await queuedFilter, [false, true]);
    assert.deepEqual(done, ["when", "filter"]);
  });

  it("batch expressions: when times out as false, fold and the dry-run as 422", async () => {
    assert.equal(await evalWhen("def f: f; f", "1", "2"), false);
    await assert.rejects(evalFold("def f: f; f", "1", "2"), isError("unprocessable", /^batch fold failed: evaluation timed out$/));
    // The compile check before the dry-run runs on the engine that the timeouts above just
    // replaced; a fresh engine's first call can pass the 1 s deadline on a loaded machine
    // (seen at load 12: "batch expression: when: evaluation timed out"). That one is asked
    // again until a deadline; the dry-run's own timeout must come in the end.
    const until = performance.now() + 60_000;
    for (;;) {
      const err = await checkBatchExpressions("def f: f; f", "$new", "{}").then(() => undefined, (e: unknown) => e);
      if (err instanceof QueueError && err.message === "batch expression: when: evaluation timed out" && performance.now() < until) continue;
      assert.ok(isError("unprocessable", /^batch dry-run: when: evaluation timed out$/)(err), String(err));
      break;
    }
    // A plain `when` works again. It reads false when it times out too, which a fresh
    // engine's first call can on a loaded machine: asked again until a deadline.
    let answer = await evalWhen("$new > $existing", "1", "2");
    while (!answer && performance.now() < until) answer = await evalWhen("$new > $existing", "1", "2");
    assert.equal(answer, true);
  });

  it("an engine that runs out of memory is replaced too", async () => {
    configureJq({ deadlineMs: 20_000 });
    try {
      const filter = await compileFilter("def f: 1+f; f");
      const respawnsBefore = _internals.pool().respawns;
      await assert.rejects(filter.matchMany(["1"]), isError("invalid_argument", /^invalid filter: cannot allocate memory$/));
      // Replaced, then the call retried once on a fresh engine (in case an earlier call broke it).
      assert.equal(_internals.pool().respawns, respawnsBefore + 2);
      assert.deepEqual(await (await compileFilter(". == 1")).matchMany(["1", "2"]), [true, false]);
      assert.deepEqual(await (await compileFilter(".n == 1")).matchMany(PAYLOADS), [true, false]);
    } finally {
      configureJq({ deadlineMs: DEADLINE_MS });
    }
  });
});
