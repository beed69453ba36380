// Reduced `npm run reliability -- --only soak` (bench/reliability/soak.ts): a few seconds of
// mixed load with RSS samples; no errors, and no gross growth (the full run is 30 min).

import assert from "node:assert/strict";
import { after, it } from "node:test";
import { runSoak } from "../../bench/reliability/soak.ts";
import { cleanupTmp } from "../helpers/tmp.ts";

after(() => cleanupTmp());

it("reliability: a short soak answers every request and does not balloon", async (t) => {
  const r = await runSoak({ minutes: 0.25, sampleMs: 3000, seed: 1, backlog: 500 });
  t.diagnostic(JSON.stringify(r));
  assert.equal(r.errors, 0);
  assert.ok(r.operations > 100, `only ${r.operations} operations`);
  assert.ok(r.rssMb.length >= 4);
  // The heap and the job count are read from the admin listener beside each RSS sample.
  assert.ok(r.heapMb.length >= 4 && r.heapMb.every((h) => h > 0), `heap samples ${r.heapMb.join(",")}`);
  assert.ok(r.jobs.every((n) => n >= 0 && n <= 2_000), `job counts ${r.jobs.join(",")}`);
  assert.ok(r.growthMb < 100, `RSS grew ${r.growthMb} MiB in 15 s`);
});
