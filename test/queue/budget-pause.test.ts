// Budgets and paused queues together (the two dispatcher gates from issues 9 and 10): a
// budget-parked job sits outside the ready index, so the pause check must reach it too.

import assert from "node:assert/strict";
import { after, it } from "node:test";
import { cleanupTmp } from "../helpers/tmp.ts";
import { rig, timeBased } from "./_budget-rig.ts";

after(cleanupTmp);

it("a paused queue's budget-parked jobs stay put when tokens return, and go after resume", async () => {
  const r = await rig();
  try {
    await r.budget("api", timeBased(1, 1_000));
    const first = await r.enqueue("paused-q", { budgets: [{ key: "api" }] });
    const parked = await r.enqueue("paused-q", { budgets: [{ key: "api" }] });
    const other = await r.enqueue("open-q");
    const { got } = r.taker();
    r.pump();
    assert.deepEqual(got.sort(), [first, other].sort(), "one token: the second budgeted job is parked");
    await r.queue.setPaused("paused-q", true);
    r.advance(1_000);
    r.pump();
    assert.equal(got.includes(parked), false, "paused: the parked job is not handed out");
    await r.queue.setPaused("paused-q", false);
    r.pump();
    assert.equal(got.includes(parked), true, "resumed: it goes");
  } finally {
    await r.close();
  }
});
