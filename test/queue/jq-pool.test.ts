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
