// Buffered mode across a segment roll: a power cut may keep any unsynced sector, in any
// order, so without a sync at the roll the new head's first records could outlive the
// sealed segment's last ones. Found by the queue-layer power-loss harness
// (bench/reliability/power-loss-queue.ts, buffered mode, e.g. seed 106 cut 24): a nack
// at the end of one segment lost, the ack after it at the start of the next kept, and
// the job served completed with attempts 1 and no error record; likewise a unique key
// held by two jobs (the delete that freed it lost, the next enqueue kept) and a cron
// schedule that fired without its jobs. Now the writer syncs a segment before it writes
// into a newer one (LogWriter.syncOlderThan), so a cut keeps a prefix of the log.

import assert from "node:assert/strict";
import { after, it } from "node:test";
import { openStore } from "../../lib/storage/store.ts";
import { PowerLossFs, materialise } from "../helpers/power-loss-fs.ts";
import { newJob, prng, readyMeta, slotOf } from "../helpers/storage.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";

after(cleanupTmp);

it("buffered mode: a write in a newer segment never survives a cut that loses an older segment's", async () => {
  const root = tmpDir("zizq-roll-order-");
  const pfs = new PowerLossFs(root, "journal");
  const store = await openStore({ dir: root, fs: pfs, segmentBytes: 64 * 1024, checkpoint: false });
  const job = newJob(1);
  await store.insert([job], false);
  // Fill segment 1 until a fail still fits in it, then fail the job there.
  for (let n = 2; store.writer.head.offset < 60 * 1024; n++) await store.insert([newJob(n, {}, 1000)], false);
  const failed = { ...readyMeta(1), attempts: 1 };
  await store.fail(slotOf(store, failed.id), failed, 1, { message: "boom" }, false);
  assert.equal(store.writer.head.segment, 1, "the fail is in segment 1");
  // Roll, then change the job again in segment 2 (as an ack would: its whole state).
  for (let n = 1000; store.writer.head.segment < 2; n++) await store.insert([newJob(n, {}, 1000)], false);
  const completed = { ...failed, status: 3 };
  await store.update([slotOf(store, failed.id)], [completed], false);
  assert.equal(store.writer.head.segment, 2);
  const cut = pfs.cut();
  await store.close();
  // Every unsynced sector of segment 1 lost, everything else kept.
  const image = tmpDir("zizq-roll-order-image-");
  materialise(cut, root, image, prng(1), "all", "journal", (file) => file === "segments/00000001.seg");
  const reopened = await openStore({ dir: image, segmentBytes: 64 * 1024, checkpoint: false });
  try {
    const slot = reopened.table.slotById.get(failed.id);
    assert.ok(slot !== undefined, "the job is there");
    const attempts = reopened.table.attempts[slot];
    assert.equal(reopened.errors(slot).length, attempts, `attempts ${attempts} with ${reopened.errors(slot).length} error records`);
  } finally {
    await reopened.close();
  }
});
