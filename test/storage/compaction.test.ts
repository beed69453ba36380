// Compaction (lib/storage/compaction.ts) in targeted cases the model test reaches only by
// luck: a segment packed with live jobs, error records living in later segments, and
// disk use once most jobs are gone.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { compactOldest } from "../../lib/storage/compaction.ts";
import { type Store, openStore } from "../../lib/storage/store.ts";
import { liveIds, makeId, newJob, payloadFor, segmentNumbers, slotOf } from "../helpers/storage.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";

const SEGMENT_BYTES = 64 * 1024;
const opened: Store[] = [];
after(async () => {
  for (const s of opened) await s.close();
  cleanupTmp();
});

async function open(dir: string): Promise<Store> {
  const store = await openStore({ dir, segmentBytes: SEGMENT_BYTES });
  store.onBackgroundError = (err) => { throw err; };
  opened.push(store);
  return store;
}

describe("compaction", () => {
  it("moves a segment packed with live jobs (more than one segment's worth in one slice)", async () => {
    const dir = tmpDir();
    let store = await open(dir);
    let n = 0;
    while (segmentNumbers(dir).length < 3) await store.insert([newJob(++n, { queue: "q" }, 1000)], false);
    // Patches grow every meta a little (options), so the copies outgrow the originals.
    const slots = [...store.table.slotById.values()];
    await store.update(slots, slots.map((s) => ({ ...store.table.meta(s), options: { unique_key: `key-${store.table.meta(s).id}` } })), false);
    await store.compactAll();
    assert.ok(!segmentNumbers(dir).includes(1), "segment 1 retired");
    await store.close();
    store = await open(dir);
    assert.equal(store.table.size, n);
    for (let i = 1; i <= n; i++) {
      const slot = slotOf(store, makeId(i));
      assert.deepEqual(store.payload(slot), payloadFor(i, 1000));
      assert.deepEqual(store.table.meta(slot).options, { unique_key: `key-${makeId(i)}` });
    }
  });

  it("keeps error records that live in later segments than the job they belong to", async () => {
    const dir = tmpDir();
    let store = await open(dir);
    await store.insert([newJob(1)], false);
    const one = slotOf(store, makeId(1));
    let n = 1;
    // Fail job 1 once per segment, so its errors are spread over segments 1..4.
    for (let attempt = 1; attempt <= 4; attempt++) {
      const meta = { ...store.table.meta(one), attempts: attempt, failedAtMs: attempt };
      await store.fail(one, meta, attempt, { message: `attempt ${attempt}` }, false);
      const segments = segmentNumbers(dir).length;
      while (segmentNumbers(dir).length === segments) await store.insert([newJob(++n, {}, 2000)], false);
    }
    await store.remove([...store.table.slotById.values()].filter((s) => s !== one), false);
    // Only the oldest segment (as background compaction may stop after one), then restart.
    assert.equal((await compactOldest(store))?.segment, 1);
    await store.close();
    store = await open(dir);
    assert.deepEqual(liveIds(store), [makeId(1)]);
    assert.deepEqual(store.errors(slotOf(store, makeId(1))), [1, 2, 3, 4].map((a) => ({ message: `attempt ${a}` })));
  });

  it("settles at no more than twice the live data (plus head and spare) after most jobs are deleted", async () => {
    const dir = tmpDir();
    const store = await open(dir);
    const slots: number[] = [];
    for (let i = 1; i <= 2000; i += 50) {
      slots.push(...await store.insert(Array.from({ length: 50 }, (_, k) => newJob(i + k, {}, 300)), false));
    }
    const before = segmentNumbers(dir).length;
    await store.remove(slots.filter((_, i) => i % 10 !== 0), false);
    await store.compactAll();
    const live = 200 * (payloadFor(1, 300).length + 128);
    const after = segmentNumbers(dir).length;
    assert.ok(after * SEGMENT_BYTES <= 2 * live + 2 * SEGMENT_BYTES, `${after} segments for ${live} live bytes (was ${before})`);
    assert.equal(store.table.size, 200);
  });

  it("runs in the background on every seal that leaves too much dead data, not only the first", async () => {
    const dir = tmpDir();
    const store = await open(dir);
    let n = 0;
    // Three segments of live jobs: the seals so far find nothing to compact.
    while (segmentNumbers(dir).length < 3) await store.insert([newJob(++n, {}, 1000)], false);
    await store.scheduleCompaction();
    assert.ok(segmentNumbers(dir).includes(1));
    // Now almost everything is dead; the next seals must start a compaction by themselves.
    await store.remove([...store.table.slotById.values()], false);
    const head = store.writer.head.segment;
    while (store.writer.head.segment < head + 2) await store.remove(await store.insert([newJob(++n, {}, 1000)], false), false);
    await store.scheduleCompaction();
    assert.ok(!segmentNumbers(dir).includes(1), `segments ${segmentNumbers(dir)}: the dead ones were never compacted`);
  });

  it("close() during compactAll() waits for it to stop, and nothing is lost", async () => {
    const dir = tmpDir();
    const store = await open(dir);
    let n = 0;
    while (segmentNumbers(dir).length < 8) await store.insert([newJob(++n, {}, 1000)], false);
    const all = [...store.table.slotById.values()];
    await store.remove(all.filter((_, i) => i % 3 !== 0), false);
    const kept = liveIds(store);
    const compacting = store.compactAll();
    await new Promise((resolve) => setImmediate(resolve));
    await store.close();
    await compacting;
    const again = await open(dir);
    assert.deepEqual(liveIds(again), kept);
    for (const id of kept) assert.deepEqual(again.payload(slotOf(again, id)), payloadFor(Number(id), 1000));
    assert.deepEqual(again.damage, []);
  });

  it("gives back the spare segments a drained backlog's reserve needed", async () => {
    const dir = tmpDir();
    const store = await open(dir);
    const spares = () => fs.readdirSync(path.join(dir, "segments")).filter((f) => f.startsWith("spare-")).length;
    const slots: number[] = [];
    for (let i = 0; i < 4000; i += 100) slots.push(...await store.insert(Array.from({ length: 100 }, (_, k) => newJob(i + k + 1)), false));
    const peak = spares();
    assert.ok(peak >= 4, `${peak} spares for the reserve of 4,000 jobs`);
    for (let i = 0; i < slots.length; i += 500) await store.remove(slots.slice(i, i + 500), false);
    await store.compactAll();
    assert.ok(spares() <= 2, `${spares()} spares left of ${peak}, for no live job`);
    await store.insert([newJob(10_000)], false);
  });

  it("keeps error records written between a job's old JOB record and a rewrite of it", async () => {
    const dir = tmpDir();
    let store = await open(dir);
    await store.insert([newJob(1)], false);
    let n = 1;
    while (store.writer.head.segment === 1) await store.insert([newJob(++n, {}, 2000)], false);
    const one = slotOf(store, makeId(1));
    await store.fail(one, { ...store.table.meta(one), attempts: 1, failedAtMs: 5 }, 1, { message: "first" }, false);
    // A batch fold rewrites the payload: a new JOB record after the ERROR, in segment 2.
    await store.rewrite(one, store.table.meta(one), Buffer.from('{"folded":true}'), false);
    assert.equal((await compactOldest(store))?.segment, 1, "segment 1 (the old JOB record) retired");
    await store.close();
    store = await open(dir);
    const again = slotOf(store, makeId(1));
    assert.deepEqual(store.payload(again), Buffer.from('{"folded":true}'));
    assert.deepEqual(store.errors(again), [{ message: "first" }]);
  });
});
