// The open-batch index (lib/queue/batch.ts) under keys that are used once: closed
// batches must not stay in it for good.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";
import { rig } from "./_budget-rig.ts";

after(cleanupTmp);

describe("a sealed batch", () => {
  it("stays sealed across a restart, clean or by kill -9: an enqueue opens a new batch, never folds into it", async () => {
    // API.md §4.4: a batch whose `when` says no stays a normal ready job. A restart
    // rebuilt open batches from the newest ready job of each key, so once the batch that
    // sealed it was taken, the sealed one took folds again (found by an audit).
    const batch = { key: "k", when: "$new.ok", fold: "{ok: true, items: ($existing.items + $new.items)}" };
    for (const restart of ["clean", "kill"] as const) {
      const r = await rig();
      let again: Awaited<ReturnType<typeof rig>> | undefined;
      try {
        const first = await r.enqueue("slow", { batch, payload: { ok: true, items: [1] } });
        assert.equal((await r.queue.enqueue({ type: "t", queue: "slow", payload: { ok: true, items: [2] }, batch })).folded, true);
        const sealer = await r.queue.enqueue({ type: "t", queue: "q", payload: { ok: false, items: [3] }, batch });
        assert.equal(sealer.folded, false, "when said no: a new batch");
        const { got } = r.taker(["q"]);
        r.pump();
        assert.deepEqual(got, [sealer.job.id]);
        await r.queue.complete(sealer.job.id); // the open batch is gone; the sealed one is ready
        let dir = r.dir;
        if (restart === "kill") {
          dir = tmpDir();
          fs.cpSync(r.dir, dir, { recursive: true });
          fs.rmSync(path.join(dir, "zizq.lock"), { force: true });
          fs.rmSync(path.join(dir, "checkpoint"), { force: true }); // the log alone
        }
        await r.close();
        again = await rig(dir);
        const next = await again.queue.enqueue({ type: "t", queue: "slow", payload: { ok: true, items: [4] }, batch });
        assert.equal(next.folded, false, `${restart}: folded into the sealed batch`);
        assert.deepEqual(JSON.parse(again.queue.get(first).payloadJson), { ok: true, items: [1, 2] }, restart);
      } finally {
        await again?.close();
      }
    }
  });
});

describe("batch keys", () => {
  it("batches opened under keys never used again are swept out a few at a time", async () => {
    const r = await rig();
    try {
      const { got } = r.taker(["q"]); // queue "slow" is never taken: its batch stays open
      for (let i = 0; i < 3000; i++) {
        await r.enqueue("q", { batch: { key: `order-${i}`, when: "true", fold: "$existing" } });
        r.pump(); // taken: the batch is closed
        await r.queue.complete(got.at(-1)!);
      }
      assert.equal(got.length, 3000);
      const held = (r.queue.ctx.batches as unknown as { open: Map<string, string> }).open.size;
      assert.ok(held <= 8, `${held} closed batch keys held`);
      // An open batch survives the sweep and still takes folds.
      const open = await r.enqueue("slow", { batch: { key: "open", when: "true", fold: "$existing + $new" }, payload: 1 });
      for (let i = 0; i < 2000; i++) await r.enqueue("q", { batch: { key: `later-${i}`, when: "true", fold: "$existing" } });
      const folded = await r.queue.enqueue({ type: "t", queue: "slow", payload: 2, batch: { key: "open", when: "true", fold: "$existing + $new" } });
      assert.equal(folded.folded, true);
      assert.equal(folded.job.id, open);
    } finally {
      await r.close();
    }
  });
});
