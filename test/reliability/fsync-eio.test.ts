// Reduced `npm run reliability -- --only fsync-eio` (bench/reliability/fsync-eio.ts): while
// every fdatasync fails with EIO, nothing is acknowledged; everything acknowledged before
// is there after a reopen, and nothing that failed comes back.

import assert from "node:assert/strict";
import { after, it } from "node:test";
import { runFsyncEio } from "../../bench/reliability/fsync-eio.ts";
import { cleanupTmp } from "../helpers/tmp.ts";

after(() => cleanupTmp());

it("reliability: fsync EIO acknowledges nothing, loses nothing acknowledged", async (t) => {
  const r = await runFsyncEio({ seed: 1, requestsPerPhase: 200 });
  t.diagnostic(JSON.stringify(r));
  assert.ok(r.during.attempted >= 200);
  assert.equal(r.during.acknowledged, 0, JSON.stringify(r.during.statuses));
  assert.equal(r.lostAfterReopen, 0);
  assert.equal(r.failedButPresent, 0);
  assert.equal(r.after.firstStatus, 201, "writes work again once fsync does");
});
