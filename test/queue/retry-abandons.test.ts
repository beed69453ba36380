// A retried job starts its abandon count afresh (docs/api.md, "poison jobs"): the count is
// forgotten when the retry is made, not when its write returns. Before, a job killed as
// poison, retried, delivered again and dropped before the retry's write returned was killed
// at once, at its first abandonment since the retry (found by the queue power-loss harness's
// live abandon check, once in ~60 runs).

import assert from "node:assert/strict";
import { after, it } from "node:test";
import { STATUS_DEAD, STATUS_READY } from "../../lib/storage/format.ts";
import { openStore } from "../../lib/storage/store.ts";
import { createQueue } from "../../lib/queue/queue.ts";
import { FaultyFs, gate } from "../helpers/faulty-fs.ts";
import { eventually } from "../helpers/server.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";

after(cleanupTmp);

it("a retried poison job is not killed by its first abandonment while the retry's write is out", async () => {
  const fs = new FaultyFs();
  const store = await openStore({ dir: tmpDir("zizq-retry-abandons-"), fs, segmentBytes: 1024 * 1024 });
  const queue = createQueue(store, { reaperIntervalMs: 0, maxAbandons: 2, defaults: { deadRetentionMs: 60_000 } });
  try {
    const [{ id }] = [await queue.enqueue({ type: "t", queue: "q", payload: { n: 1 } })].map((r) => r.job);
    const slot = store.table.slotById.get(id)!;
    // Two dropped deliveries: killed as poison ("abandoned 2 times").
    for (let i = 0; i < 2; i++) {
      let got = false;
      const taker = queue.take({ prefetch: 1, deliver: () => (got = true) });
      await eventually(() => got, 5000, "a delivery");
      taker.close();
    }
    await eventually(() => store.table.status[slot] === STATUS_DEAD, 5000, "the kill after 2 abandonments");
    // Retried: ready in memory at once, its write held at a gate meanwhile.
    const held = gate();
    const reached = fs.failWrite({ kind: "pass", gate: held.promise });
    let settled = false;
    const retried = queue.retryOne(id, undefined).finally(() => { settled = true; });
    await reached;
    assert.equal(store.table.status[slot], STATUS_READY);
    let got = false;
    const taker = queue.take({ prefetch: 1, deliver: () => (got = true) });
    await eventually(() => got, 5000, "a delivery of the retried job");
    assert.ok(!settled, "delivered again while the retry's write is out");
    taker.close(); // its first abandonment since the retry
    held.open();
    await retried;
    await store.writer.idle(); // a kill, if the close started one, has landed
    assert.equal(store.table.status[slot], STATUS_READY, "put back to ready, not killed");
  } finally {
    queue.stop();
    await store.close();
  }
});
