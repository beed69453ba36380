// Reduced `npm run reliability -- --only disk-full` (bench/reliability/disk-full.ts): the
// server on a small tmpfs that fills up for real. Enqueues get 507 with a JSON error;
// acks, nacks and deletes keep working; an enqueue succeeds within 5 s once space is back.
// Needs mount rights (root); skipped otherwise (test/storage/faults.test.ts covers the
// same rules through the fs port).

import assert from "node:assert/strict";
import { after, it } from "node:test";
import { canMountTmpfs, runDiskFull } from "../../bench/reliability/disk-full.ts";
import { cleanupTmp } from "../helpers/tmp.ts";

after(() => cleanupTmp());

it("reliability: a full disk refuses enqueues with 507, keeps acks and deletes, recovers", { skip: canMountTmpfs() ? false : "cannot mount a tmpfs (not root)" }, async (t) => {
  const r = await runDiskFull({ sizeMb: 24 });
  t.diagnostic(JSON.stringify(r));
  assert.equal(r.fullStatus, 507);
  assert.match(r.fullBody!, /^\{"error":"storage is full/);
  assert.equal(r.healthWhileFull, 200);
  assert.deepEqual([r.acks, r.nacks, r.deletes], [{ ok: 100, failed: 0 }, { ok: 50, failed: 0 }, { ok: 100, failed: 0 }]);
  assert.ok(r.recoveredMs! < 5000, `recovered in ${r.recoveredMs} ms`);
  // The operator hears of it (a 507 is not a logged 500), but not once per refused request.
  assert.ok(r.refusalLines! >= 1, "no storage_refused line in the server's log");
  assert.ok(r.refusalLines! <= 10, `${r.refusalLines} storage_refused lines`);
});
