// Buffered mode syncs the head in the background as it fills (LogWriter.syncInBackground),
// so the sync a segment roll must wait for (roll-order.test.ts) finds little left to
// write. A background sync's failure is not lost: the kernel reports a write-back error
// to one fdatasync only, so the segment is repaired (what the failed sync covered is
// rewritten and synced: write-faults-power.test.ts shows it surviving a power cut) before
// a roll or a checkpoint's log sync counts it synced. The segment names, which
// the roll needs durable too (power-loss.test.ts), are synced in the background from
// each activation on, with the same rule for a failure.

import assert from "node:assert/strict";
import { after, it } from "node:test";
import { type Store, openStore } from "../../lib/storage/store.ts";
import { FaultyFs, gate } from "../helpers/faulty-fs.ts";
import { eventually } from "../helpers/server.ts";
import { newJob } from "../helpers/storage.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";

after(cleanupTmp);

const SEGMENT = 64 * 1024;

async function open(fs: FaultyFs): Promise<Store> {
  const store = await openStore({ dir: tmpDir("zizq-bg-sync-"), fs, segmentBytes: SEGMENT, checkpoint: false });
  store.writer.backgroundSyncBytes = 16 * 1024;
  return store;
}

/** Inserts ~1 KiB jobs, buffered, until the head reaches `offset` of segment 1. */
async function fillSegmentOne(store: Store, offset: number, from = 1): Promise<number> {
  let n = from;
  while (store.writer.head.offset < offset) await store.insert([newJob(n++, {}, 1000)], false);
  assert.equal(store.writer.head.segment, 1);
  return n;
}

it("buffered mode syncs the head in the background as it fills, before any roll", async () => {
  const fs = new FaultyFs();
  const store = await open(fs);
  try {
    await fillSegmentOne(store, 60 * 1024);
    // Three background syncs' worth written (16 KiB each). One runs at a time, and the
    // fill may outrun the first (a slow disk): at least one, then.
    await eventually(() => fs.syncs >= 1, 10_000, `a background sync of the head (seen ${fs.syncs})`);
    assert.equal(store.writer.head.segment, 1, "no roll has synced anything yet");
  } finally {
    await store.close();
  }
});

it("a failed background sync is repaired (its bytes rewritten and synced) before a roll or a checkpoint counts the segment synced", async () => {
  const fs = new FaultyFs();
  const store = await open(fs);
  try {
    const reached = fs.failSync({ kind: "eio" });
    let n = await fillSegmentOne(store, 20 * 1024);
    await reached;
    // The flush loop repairs it with nothing else to write: read back, rewritten, synced.
    await eventually(() => store.writer.repairs === 1, 10_000, "the segment repaired");
    assert.equal(store.writer.syncFailure(1), undefined);
    await store.syncLog();
    // The roll past it goes on.
    while (store.writer.head.segment === 1) await store.insert([newJob(n++, {}, 1000)], false);
    await store.insert([newJob(n++, {}, 1000)], false);
  } finally {
    await store.close();
  }
});

it("a checkpoint's log sync waits for a background sync in flight and reports its failure", async () => {
  const fs = new FaultyFs();
  const store = await open(fs);
  try {
    const held = gate();
    const reached = fs.failSync({ kind: "eio", gate: held.promise });
    await fillSegmentOne(store, 20 * 1024);
    await reached; // the background sync is in flight, its EIO still to come
    const sync = store.syncLog();
    held.open();
    await assert.rejects(sync, /EIO|I\/O/i);
  } finally {
    await store.close();
  }
});

it("a new segment's name is synced in the background, and a failure of that sync fails the roll past it", async () => {
  const fs = new FaultyFs();
  const store = await open(fs);
  try {
    let n = 1;
    await store.insert([newJob(n++, {}, 1000)], false);
    const reached = fs.failSyncDir({ kind: "eio" });
    while (store.writer.head.segment === 1) await store.insert([newJob(n++, {}, 1000)], false);
    // No roll past segment 2 yet: only its activation can have started this dir sync.
    await reached;
    let failed: unknown;
    while (store.writer.head.segment === 2) {
      await store.insert([newJob(n++, {}, 1000)], false).catch((err: unknown) => { failed = err; });
    }
    await store.insert([newJob(n++, {}, 1000)], false).catch((err: unknown) => { failed ??= err; });
    assert.match(String(failed), /EIO|I\/O/i, "a write into segment 3 failed with the name sync's error");
    // Reported once: later writes go on (the next roll syncs the names afresh).
    await store.insert([newJob(n++, {}, 1000)], false);
  } finally {
    await store.close();
  }
});
