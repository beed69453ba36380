// Reduced `npm run reliability -- --only damage` (bench/reliability/damage.ts): bits flipped
// and tails torn at random positions of real segment files. The server always starts,
// every flipped bit is reported, and nothing served is changed or made up.

import assert from "node:assert/strict";
import { after, it } from "node:test";
import { runDamage } from "../../bench/reliability/damage.ts";
import { cleanupTmp } from "../helpers/tmp.ts";

const SEED = Number(process.env.ZIZQ_SEED ?? Math.floor(Math.random() * 2 ** 31));
after(() => cleanupTmp());

it(`reliability: torn tails and flipped bits are detected, skipped, never served changed (seed ${SEED})`, async (t) => {
  const r = await runDamage({ positions: 4, jobs: 4500, seed: SEED });
  t.diagnostic(JSON.stringify(r));
  assert.equal(r.started, 4, "the server starts on every damaged dir");
  assert.equal(r.flip.detected, r.flip.trials, "every flipped bit is reported");
  assert.deepEqual([r.flip.changedJobs, r.flip.unknownJobs, r.torn.changedJobs, r.torn.unknownJobs], [0, 0, 0, 0]);
  assert.ok(r.segmentFiles >= 2, "the history spans several segments");
});
