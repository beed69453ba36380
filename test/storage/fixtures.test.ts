// Data dirs written by older builds still open (fixtures/README.md): every job, state,
// error record and blob comes back, and the store keeps working on them.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { openStore } from "../../lib/storage/store.ts";
import { T0, liveIds, makeId, newJob, slotOf } from "../helpers/storage.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";

after(() => cleanupTmp());

const FIXTURE = path.join(import.meta.dirname, "../../fixtures/format1-dir");

function copyFixture(): string {
  const dir = tmpDir("zizq-fixture-");
  fs.cpSync(FIXTURE, dir, { recursive: true });
  return dir;
}

const expectedIds = (): string[] => {
  const ids: string[] = [];
  for (let n = 1; n <= 600; n++) if (n < 100 || n >= 400) ids.push(makeId(n));
  return ids.sort();
};

describe("format 1 data dir (fixtures/format1-dir)", () => {
  it("opens with every job, state, error record and blob", async () => {
    const dir = copyFixture();
    const store = await openStore({ dir, now: () => T0 });
    try {
      assert.deepEqual(store.damage, []);
      assert.deepEqual(liveIds(store), expectedIds());
      const t = store.table;
      assert.equal(t.status[slotOf(store, makeId(7))], 0);
      assert.equal(t.status[slotOf(store, makeId(9))], 3);
      const failed = t.meta(slotOf(store, makeId(8)));
      assert.equal(failed.attempts, 1);
      assert.deepEqual(failed.options, { retry_limit: 3 });
      assert.deepEqual(store.errors(slotOf(store, makeId(8))), [{ message: "boom", attempt: 1 }]);
      assert.equal(JSON.parse(store.payload(slotOf(store, makeId(450))).toString()).n, 450);
      assert.equal(store.blobsIn(1).get("nightly")?.toString(), "cron-group-bytes");
      await store.insert([newJob(10_000)], false);
    } finally {
      await store.close();
    }
    const again = await openStore({ dir, now: () => T0 });
    try {
      assert.equal(again.table.size, 301);
      assert.equal(JSON.parse(again.payload(slotOf(again, makeId(10_000))).toString()).n, 10_000);
      await again.compactAll();
      assert.deepEqual(liveIds(again).filter((id) => id !== makeId(10_000)), expectedIds());
    } finally {
      await again.close();
    }
  });
});
