// The jq worker pool (lib/queue/_jq-pool.ts): an engine broken by one call never answers
// the next caller with an error (issue 12 §3), and a call that crashes a fresh engine too
// is rejected. Uses a stand-in worker whose engine a call can break on purpose.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { JqAbortError, JqPool } from "../../lib/queue/_jq-pool.ts";

const workerUrl = new URL("./_breakable-jq-worker.cjs", import.meta.url);

describe("jq pool", () => {
  it("a call on an engine an earlier call broke is retried on a fresh one", async () => {
    const pool = new JqPool({ workers: 1, workerUrl });
    try {
      assert.deepEqual(await pool.run("a", "break", []), { ok: true, stdout: "a" });
      // The victim: before the fix it was rejected with "memory access out of bounds".
      assert.deepEqual(await pool.run("b", "ok", []), { ok: true, stdout: "b" });
      assert.deepEqual(await pool.run("c", "ok", []), { ok: true, stdout: "c" });
      assert.equal(pool.respawns, 1);
    } finally {
      await pool.close();
    }
  });

  it("the engine's heap has a ceiling: a program needing more fails as out of memory, and the next call works", async () => {
    // `def f: 1+f; f` grew a worker to ~1.3 GB before its deadline. Here a ceiling of
    // 64 MiB against a program needing ~100 MB; under the default (512 MiB) it runs.
    const real = new URL("../../lib/queue/_jq-worker.cjs", import.meta.url);
    const program = "[range(3000000)] | length";
    const low = new JqPool({ workers: 1, workerUrl: real, maxHeapBytes: 64 * 1024 * 1024, deadlineMs: 30_000 });
    try {
      await assert.rejects(low.run("null", program, []), (err) => err instanceof JqAbortError && /cannot allocate memory/.test(err.message));
      assert.deepEqual(await low.run("1", ". + 1", []), { ok: true, stdout: "2" });
    } finally {
      await low.close();
    }
    const usual = new JqPool({ workers: 1, workerUrl: real, deadlineMs: 30_000 });
    try {
      assert.deepEqual(await usual.run("null", program, []), { ok: true, stdout: "3000000" });
    } finally {
      await usual.close();
    }
  });

  it("a call that crashes a fresh engine as well is rejected, and the next call works", async () => {
    const pool = new JqPool({ workers: 1, workerUrl });
    try {
      await assert.rejects(pool.run("a", "crash", []), (err) => err instanceof JqAbortError && err.reason === "crash");
      assert.equal(pool.respawns, 2);
      assert.deepEqual(await pool.run("b", "ok", []), { ok: true, stdout: "b" });
    } finally {
      await pool.close();
    }
  });
});
