// Reduced `npm run reliability -- --only kill9` (bench/reliability/kill9.ts): a few kill -9
// cycles of the real server under mixed load, per commit mode. Nothing acknowledged may
// be lost, resurrected, changed or undone; nothing stays in flight after a restart.

import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { runKill9 } from "../../bench/reliability/kill9.ts";
import { cleanupTmp } from "../helpers/tmp.ts";

const SEED = Number(process.env.ZIZQ_SEED ?? Math.floor(Math.random() * 2 ** 31));
after(() => cleanupTmp());

describe(`reliability: kill -9 under mixed load (seed ${SEED}; replay with ZIZQ_SEED)`, () => {
  for (const mode of ["buffered", "fsync"] as const) {
    it(`${mode}: nothing acknowledged is lost, resurrected or changed`, async (t) => {
      const lines: string[] = [];
      const r = await runKill9({ mode, cycles: 2, seed: SEED, opsMin: 50, opsMax: 200, log: (l) => lines.push(l) });
      t.diagnostic(JSON.stringify(r));
      const bad = { lost: r.lostEnqueues, completions: r.resurrectedCompletions, deletes: r.resurrectedDeletes, payloads: r.changedPayloads,
        patches: r.undonePatches, nacks: r.undoneNacks, stranded: r.strandedInFlight, unknown: r.unknownJobs, unexpected: r.unexpectedAnswers };
      assert.deepEqual(bad, { lost: 0, completions: 0, deletes: 0, payloads: 0, patches: 0, nacks: 0, stranded: 0, unknown: 0, unexpected: 0 }, lines.join("\n"));
      assert.equal(r.cycles, 2);
      assert.ok(r.acknowledged.enqueues > 0 && r.acknowledged.acks + r.acknowledged.deletes + r.acknowledged.patches > 0, "the load did something");
    });
  }
});
