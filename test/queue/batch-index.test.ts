// The open-batch index (lib/queue/batch.ts) under keys that are used once: closed
// batches must not stay in it for good.

import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { cleanupTmp } from "../helpers/tmp.ts";
import { rig } from "./_budget-rig.ts";

after(cleanupTmp);

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
