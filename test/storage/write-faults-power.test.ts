// Write errors followed by a power cut, on the simulated disk (test/helpers/power-loss-fs.ts,
// whose faults model what Linux does: a failed fdatasync leaves the pages it covered marked
// clean, maybe never written, and no later fdatasync makes them durable). Found by the
// storage power-loss harness with faults (bench/reliability/power-loss.ts, seeds 8–15, …);
// each case here is one it found, fixed, and fails on the old code.

import assert from "node:assert/strict";
import { after, it } from "node:test";
import type { JobMeta } from "../../lib/storage/codec.ts";
import { STATUS_READY } from "../../lib/storage/format.ts";
import { type Store, openStore } from "../../lib/storage/store.ts";
import { PowerLossFs, materialise } from "../helpers/power-loss-fs.ts";
import { eventually } from "../helpers/server.ts";
import { prng } from "../helpers/random.ts";
import { T0, liveIds, makeId } from "../helpers/storage.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";

after(cleanupTmp);

const OPTIONS = { segmentBytes: 64 * 1024, syncDirs: true, now: () => T0, checkpointEveryMs: 60_000 };

function job(n: number, bytes = 2000): { meta: JobMeta; payload: Buffer } {
  return { meta: { id: makeId(n), status: STATUS_READY, priority: 0, attempts: 0, readyAtMs: T0, queue: "a", type: "t" }, payload: Buffer.alloc(bytes, 112) };
}

/** Insert job `n` with an fsync; "acked" or "failed". */
const insert = (store: Store, n: number, bytes?: number): Promise<string> =>
  store.insert([job(n, bytes)], true).then(() => "acked", () => "failed");

/** The cut now, materialised with only what is durable, reopened: its live ids. */
async function afterPowerCut(pfs: PowerLossFs, root: string, store: Store): Promise<{ ids: string[]; damage: unknown[] }> {
  const cut = pfs.cut();
  await store.close();
  const image = tmpDir("zizq-wf-image-");
  materialise(cut, root, image, prng(1), "none", "journal");
  const reopened = await openStore({ dir: image, ...OPTIONS, checkpoint: false });
  try {
    return { ids: liveIds(reopened), damage: reopened.damage };
  } finally {
    await reopened.close();
  }
}

it("fsync mode: a pad whose own fdatasync failed is padded again, and the writes acknowledged after it survive a power cut", async () => {
  // Before the fix the writer forgot a hole once its pad was written, before the pad's
  // fdatasync: when that failed too, the pad's pages were never written, later batches
  // synced after them, and a cut left zeros there: recovery dropped the rest of the
  // segment as a torn tail, acknowledged inserts 3 and 4 with it.
  const root = tmpDir("zizq-wf-repad-");
  const pfs = new PowerLossFs(root, "journal");
  const store = await openStore({ dir: root, fs: pfs, ...OPTIONS });
  assert.equal(await insert(store, 1), "acked");
  pfs.arm({ call: "writev", error: "ENOSPC" }); // insert 2 writes nothing: a hole
  pfs.arm({ call: "fdatasync", error: "EIO" }); // and the sync of the batch padding it fails
  assert.equal(await insert(store, 2), "failed");
  await store.writer.idle();
  assert.equal(await insert(store, 3), "acked");
  assert.equal(await insert(store, 4), "acked");
  assert.equal(pfs.fired.length, 2, `both faults fired: ${pfs.fired.join(", ")}`);
  const { ids, damage } = await afterPowerCut(pfs, root, store);
  assert.deepEqual([...ids].sort(), [1, 3, 4].map(makeId));
  assert.deepEqual(damage, []);
});

it("fsync mode: a failed dir sync at a segment's activation fails that write only, and the segment's later records keep their name", async () => {
  // Before the fix the spare was put back after its rename had succeeded: every later
  // activation failed renaming a path that no longer existed (ENOENT), so every write
  // failed until a restart.
  const root = tmpDir("zizq-wf-syncdir-");
  const pfs = new PowerLossFs(root, "journal");
  const store = await openStore({ dir: root, fs: pfs, ...OPTIONS });
  const acked: string[] = [];
  let n = 1;
  while (store.writer.head.segment === 1) if (await insert(store, n++, 3000) === "acked") acked.push(makeId(n - 1));
  // Close to the end of segment 2, then the roll into segment 3 meets the fault.
  while (store.writer.head.offset < 64 * 1024 - 4 * 3200) if (await insert(store, n++, 3000) === "acked") acked.push(makeId(n - 1));
  pfs.arm({ call: "syncDir", error: "EIO" });
  const results: string[] = [];
  for (let i = 0; i < 12; i++) {
    const r = await insert(store, n++, 3000);
    results.push(r);
    if (r === "acked") acked.push(makeId(n - 1));
  }
  assert.deepEqual(pfs.fired, ["syncDir EIO"]);
  assert.equal(results.filter((r) => r === "failed").length, 1, `one write failed: ${results.join(", ")}`);
  assert.ok(store.writer.head.segment >= 3);
  const { ids } = await afterPowerCut(pfs, root, store);
  assert.deepEqual([...ids].sort(), [...acked].sort(), "every acknowledged insert, those in the segment whose dir sync failed too");
});

/** A buffered store on the disk model, checkpoints only when asked. */
async function openBuffered(name: string): Promise<{ root: string; pfs: PowerLossFs; store: Store }> {
  const root = tmpDir(`zizq-wf-${name}-`);
  const pfs = new PowerLossFs(root, "journal");
  const store = await openStore({ dir: root, fs: pfs, ...OPTIONS, syncDirs: false });
  return { root, pfs, store };
}

/** The cut now (only what is durable), reopened from its checkpoint and by a full scan: the live ids of each. */
async function bothRecoveries(pfs: PowerLossFs, root: string, store: Store): Promise<string[][]> {
  const cut = pfs.cut();
  await store.close();
  const out: string[][] = [];
  for (const checkpoint of [true, false]) {
    const image = tmpDir("zizq-wf-image-");
    materialise(cut, root, image, prng(1), "none", "journal");
    const reopened = await openStore({ dir: image, ...OPTIONS, syncDirs: false, checkpoint });
    try {
      out.push([...liveIds(reopened)].sort());
    } finally {
      await reopened.close();
    }
  }
  return out;
}

it("buffered mode: a checkpoint completed after a failed one holds what was written before it, through a power cut", async () => {
  // Before the fix the failed log sync was reported once: the next checkpoint's fdatasync
  // succeeded (Linux reports a write-back error once) over pages never written, and
  // completed; a cut then lost insert 1, acknowledged before it, from both recoveries.
  const { root, pfs, store } = await openBuffered("ckpt");
  await store.insert([job(1)], false);
  await store.segments.idle(); // no spare being made: the fault meets the log sync
  pfs.arm({ call: "fdatasync", error: "EIO" });
  await assert.rejects(store.checkpoint(), /EIO/);
  assert.equal(await store.checkpoint(), true);
  assert.equal(pfs.fired.length, 1, pfs.fired.join(", "));
  assert.equal(store.writer.repairs, 1, "segment 1 repaired");
  assert.deepEqual(await bothRecoveries(pfs, root, store), [[makeId(1)], [makeId(1)]]);
});

it("buffered mode: a failed background sync is repaired, and what it covered survives a power cut", async () => {
  const { root, pfs, store } = await openBuffered("bg");
  store.writer.backgroundSyncBytes = 6 * 1024;
  await store.insert([job(1)], false);
  await store.segments.idle();
  pfs.arm({ call: "fdatasync", error: "EIO" });
  const ids = [makeId(1)];
  for (let n = 2; pfs.fired.length === 0; n++) {
    await store.insert([job(n)], false);
    ids.push(makeId(n));
  }
  await eventually(() => store.writer.repairs > 0, 10_000, "segment 1 repaired");
  assert.equal(store.writer.repairs, 1);
  // Repaired means synced: every insert acknowledged before the failure is on disk.
  const [fromCheckpoint, byScan] = await bothRecoveries(pfs, root, store);
  for (const got of [fromCheckpoint, byScan]) for (const id of ids) assert.ok(got.includes(id), `insert ${Number(id)} survived (${got.length} of ${ids.length})`);
});
