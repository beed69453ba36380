// The jq worker pool (lib/queue/_jq-pool.ts): an engine broken by one call never answers
// the next caller with an error (issue 12 §3), and a call that crashes a fresh engine too
// is rejected. Uses a stand-in worker whose engine a call can break on purpose.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { JqAbortError, JqPool } from "../../lib/queue/_jq-pool.ts";
import { eventually } from "../helpers/server.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";

const workerUrl = new URL("./_breakable-jq-worker.cjs", import.meta.url);

after(() => cleanupTmp());

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

  it("a cheap call queued behind slow ones runs at the next free turn, and slow ones never hold every worker", async () => {
    // Was an HTTP test with a fixed wait and a race between real CPU-heavy filters, which
    // failed under load. Here "hold" calls keep both workers busy until the test releases
    // them; slowMs 0 makes every running call count as slow, as a CPU-heavy one does.
    const release = path.join(tmpDir(), "release");
    const pool = new JqPool({ workers: 2, workerUrl, slowMs: 0, deadlineMs: 60_000 });
    const done: string[] = [];
    const call = (tag: string, program: string, input: string) => pool.run(input, program, []).then(() => { done.push(tag); });
    try {
      // Both engines loaded first: the order of dispatch is then the pool's alone.
      pool.warm();
      const slots = (pool as unknown as { slots: Set<{ ready: boolean }> }).slots;
      await eventually(() => slots.size === 2 && [...slots].every((s) => s.ready), 30_000, "both engines ready");
      const calls = [0, 1, 2, 3].map((i) => call(`hold${i}`, "hold", release));
      const cheap = call("cheap", "ok", "c");
      fs.writeFileSync(release, "");
      await Promise.all([...calls, cheap]);
      // hold0 and hold1 took both workers. At the first free turn the cheap call went
      // before the queued holds (known slow by then); hold2 waited for both workers to be
      // free of slow work, and hold3 for hold2 (slow work holds at most one of two).
      assert.deepEqual(done.slice(3), ["hold2", "hold3"], done.join(" "));
      assert.deepEqual(done.slice(0, 3).sort(), ["cheap", "hold0", "hold1"], done.join(" "));
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
