// Reduced `npm run reliability -- --only churn` (bench/reliability/churn.ts): take streams
// dropped mid-job give their jobs back; none stays in flight, none goes missing.

import assert from "node:assert/strict";
import { after, it } from "node:test";
import { runChurn } from "../../bench/reliability/churn.ts";
import { cleanupTmp } from "../helpers/tmp.ts";

after(() => cleanupTmp());

it("reliability: workers killed mid-job strand nothing", async (t) => {
  const r = await runChurn({ streams: 200, concurrency: 8, jobs: 100 });
  t.diagnostic(JSON.stringify(r));
  assert.ok(r.streamsKilled > 150);
  assert.deepEqual([r.stranded, r.missing], [0, 0]);
});
