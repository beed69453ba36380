// Writes planned from memory must not land after a record that changed what they copy.
// Memory shows a reset, a blob put or a blob delete only once its record is written (so
// a refused one changes nothing); until then, a compaction copy of the old state appended
// meanwhile would land after it on disk, and a restart would bring the old state back.
// Real store, real files; the fault port holds chosen writes at gates. The races are lined
// up with gates and event-loop turns, not times.

import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { type Store, openStore } from "../../lib/storage/store.ts";
import { FaultyFs, gate } from "../helpers/faulty-fs.ts";
import { eventually } from "../helpers/server.ts";
import { readyMeta } from "../helpers/storage.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";

after(cleanupTmp);

const SEGMENT = 64 * 1024;
const NS = 7;
const meta = readyMeta;
const PAYLOAD = Buffer.from(JSON.stringify("x".repeat(1000)));

/** Lets whatever is ready run: promise reactions and I/O callbacks, a bounded number of turns. */
async function turns(n = 50): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

async function reopened(dir: string, use: (store: Store) => void): Promise<void> {
  const store = await openStore({ dir, segmentBytes: SEGMENT, checkpoint: false });
  try {
    use(store);
  } finally {
    await store.close();
  }
}

/** 120 jobs of ~1 KB over three segments; with `drop`, deleted again (segments left to compact). */
async function filled(store: Store, drop: boolean): Promise<void> {
  const slots: number[] = [];
  for (let i = 0; i < 120; i++) slots.push(...(await store.insert([{ meta: meta(i), payload: PAYLOAD }], false)));
  if (drop) await store.remove(slots, false);
  assert.ok(store.segments.numbers().length >= 3, `segments: ${store.segments.numbers()}`);
}

describe("compaction and the records it races", () => {
  it("a reset while compaction waits to copy jobs: nothing comes back on a restart", async () => {
    const dir = tmpDir();
    const fs = new FaultyFs();
    const store = await openStore({ dir, segmentBytes: SEGMENT, fs, checkpoint: false });
    await filled(store, false);
    // Compaction plans its copies once what was appended before is written (copyJobs'
    // flush, its second; the first comes before it looks at the oldest segment). An
    // insert is in flight then, its write held, and the reset comes while compaction waits.
    const insertHeld = gate();
    const nextHeld = gate();
    let inserting: Promise<number[]> | undefined;
    let insertReached: Promise<void> | undefined;
    let waiting!: () => void;
    const compactionWaits = new Promise<void>((resolve) => { waiting = resolve; });
    const flush = store.flush.bind(store);
    let flushes = 0;
    store.flush = () => {
      if (++flushes === 2) {
        insertReached = fs.failWrite({ kind: "pass", gate: insertHeld.promise });
        inserting = store.insert([{ meta: meta(999), payload: Buffer.from("1") }], false);
        waiting();
      }
      return flush();
    };
    const compacting = store.compactAll();
    await compactionWaits;
    await insertReached;
    // The next write is held too: the RESET record, or, if the reset waits for compaction
    // first, the first copy (either way the other is planned while it is held).
    const nextReached = fs.failWrite({ kind: "pass", gate: nextHeld.promise });
    const reset = store.reset(false);
    insertHeld.open();
    await nextReached;
    await turns(); // whatever waited for the insert plans and appends now
    nextHeld.open();
    await Promise.all([inserting, compacting, reset]);
    assert.equal(store.table.size, 0);
    await store.close();
    // Copies planned from the old table and appended after the RESET record were replayed.
    await reopened(dir, (again) => assert.equal(again.table.size, 0, "jobs came back after the reset"));
  });

  for (const change of ["delete", "put"] as const) {
    it(`a blob ${change} in flight while compaction copies that blob: a restart keeps the ${change}`, async () => {
      const dir = tmpDir();
      const fs = new FaultyFs();
      const store = await openStore({ dir, segmentBytes: SEGMENT, fs, checkpoint: false });
      await store.putBlob(NS, "K1", Buffer.from("one"), false);
      await store.putBlob(NS, "K2", Buffer.from("two"), false);
      await filled(store, true);
      const copyOfK1 = gate();
      const changeOfK2 = gate();
      let changed: Promise<void> | undefined;
      fs.failWrite({
        kind: "pass", gate: copyOfK1.promise, reached: () => {
          // Compaction is writing its copy of K1; K2 is changed now, its write held.
          fs.failWrite({ kind: "pass", gate: changeOfK2.promise });
          changed = change === "delete" ? store.deleteBlob(NS, "K2", true) : store.putBlob(NS, "K2", Buffer.from("NEW"), true);
        },
      });
      const compacting = store.compactAll();
      await eventually(() => changed !== undefined, 10_000, "K2 changed while compaction writes");
      copyOfK1.open();
      await turns(); // compaction comes to K2 while its change is still being written
      changeOfK2.open();
      await compacting;
      await changed;
      const expected = change === "delete" ? undefined : "NEW";
      assert.equal(store.blobsIn(NS).get("K2")?.toString(), expected, "in memory");
      await store.close();
      await reopened(dir, (again) => {
        assert.equal(again.blobsIn(NS).get("K2")?.toString(), expected, "after a restart");
        assert.equal(again.blobsIn(NS).get("K1")?.toString(), "one");
      });
    });
  }
});

describe("a change too large for a segment", () => {
  it("is refused before anything changes in memory", async () => {
    const dir = tmpDir();
    const store = await openStore({ dir, segmentBytes: SEGMENT, checkpoint: false });
    const slots: number[] = [];
    for (let i = 0; i < 256; i++) slots.push(...(await store.insert([{ meta: meta(i), payload: Buffer.from("1") }], false)));
    // 256 META records with long options: one ~95 KB transaction, over the 64 KiB segment.
    const big = { options: { budgets: [{ key: "k".repeat(255), cost: 1 }] } };
    await assert.rejects(store.update(slots, slots.map((_, i) => meta(i, big)), false), { kind: "too_large" });
    assert.equal(store.table.meta(slots[0]).options, undefined, "memory changed though nothing was written");
    await store.close();
  });
});
