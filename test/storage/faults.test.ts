// Fault injection through the fs port (test/helpers/faulty-fs.ts): ENOSPC, EIO, a short
// write and a failing fdatasync. The affected call rejects with a typed StorageError,
// what was appended meanwhile is written, the store keeps working, and after a reopen
// the rejected write is absent while everything acknowledged is present.

import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { StorageError, type StorageErrorKind } from "../../lib/storage/errors.ts";
import { type Store, openStore } from "../../lib/storage/store.ts";
import { type FaultKind, FaultyFs, gate, isPreallocation } from "../helpers/faulty-fs.ts";
import { idAt, liveIds, makeId, newJob, payloadFor, slotOf } from "../helpers/storage.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";

const SEGMENT_BYTES = 64 * 1024;
const opened: Store[] = [];
after(async () => {
  for (const s of opened) await s.close();
  cleanupTmp();
});

const ids = (...ns: number[]): string[] => ns.map(makeId);
const kind = (expected: StorageErrorKind) => (err: unknown): boolean => {
  assert.ok(err instanceof StorageError, `not a StorageError: ${err}`);
  assert.equal(err.kind, expected, err.message);
  return true;
};

async function open(dir: string, fs = new FaultyFs()): Promise<{ store: Store; fs: FaultyFs }> {
  const store = await openStore({ dir, segmentBytes: SEGMENT_BYTES, fs });
  opened.push(store);
  return { store, fs };
}

/** A store holding job 1, acknowledged. */
async function setup(): Promise<{ dir: string; store: Store; fs: FaultyFs }> {
  const dir = tmpDir("zizq-faults-");
  const { store, fs } = await open(dir);
  await store.insert([newJob(1)], false);
  return { dir, store, fs };
}

/** Every live job's id, status, priority, attempts and payload: what a reopen must agree on. */
const stateOf = (store: Store): string[] => liveIds(store).map((id) => {
  const s = slotOf(store, id);
  return `${id} ${store.table.status[s]} ${store.table.priority[s]} ${store.table.attempts[s]} ${store.payload(s).toString()}`;
});

/**
 * Close, reopen with a clean fs, and return what came back. The log alone (a full scan,
 * as after a crash with no fresh checkpoint) must give the same jobs as the checkpoint
 * written at close: that checkpoint holds memory, and would hide a stale record in the log.
 */
async function reopen(store: Store, dir: string): Promise<Store> {
  await store.close();
  const scanned = await openStore({ dir, segmentBytes: SEGMENT_BYTES, fs: new FaultyFs(), checkpoint: false });
  opened.push(scanned);
  const fromLog = stateOf(scanned);
  await scanned.close();
  const again = (await open(dir)).store;
  for (const id of liveIds(again)) assert.equal(JSON.parse(again.payload(slotOf(again, id)).toString()).n, Number(id));
  assert.deepEqual(fromLog, stateOf(again), "the log alone and the checkpoint give the same jobs");
  return again;
}

const writeFaults: [FaultKind, StorageErrorKind][] = [["enospc", "full"], ["eio", "io"], ["short", "io"]];

describe("a failing segment write", () => {
  for (const [fault, expected] of writeFaults) {
    it(`${fault}: rejects its batch with \`${expected}\`; the batch behind it is written; nothing of it comes back`, async () => {
      const { dir, store, fs } = await setup();
      const g = gate();
      const reached = fs.failWrite({ kind: fault, gate: g.promise });
      const rejected = store.insert([newJob(2)], false);
      await reached;
      const behind = store.insert([newJob(3)], false); // appended while the bad write is in flight
      g.open();
      await assert.rejects(rejected, kind(expected));
      await behind;
      assert.deepEqual(liveIds(store), ids(1, 3));
      await store.insert([newJob(4)], false);
      const again = await reopen(store, dir);
      assert.deepEqual(liveIds(again), ids(1, 3, 4));
      assert.deepEqual(again.damage, [], "the failed bytes were covered with PAD, not left half-written");
    });

    it(`${fault}: with nothing written after it, a reopen still finds no trace of the rejected write`, async () => {
      const { dir, store, fs } = await setup();
      fs.failWrite({ kind: fault });
      await assert.rejects(store.insert([newJob(2), newJob(3)], false), kind(expected));
      const again = await reopen(store, dir);
      assert.deepEqual(liveIds(again), ids(1));
      assert.deepEqual(again.damage, [], "covered with PAD right after the failure");
    });
  }

  it("rolls back a rejected update and a rejected remove, in memory and on disk", async () => {
    const { dir, store, fs } = await setup();
    const slot = slotOf(store, makeId(1));
    fs.failWrite({ kind: "enospc" });
    await assert.rejects(store.update([slot], [{ ...store.table.meta(slot), priority: 7 }], false), kind("full"));
    assert.equal(store.table.priority[slot], 0);
    fs.failWrite({ kind: "eio" });
    await assert.rejects(store.remove([slot], false), kind("io"));
    const back = slotOf(store, makeId(1));
    assert.deepEqual(store.payload(back), payloadFor(1));
    assert.equal(store.table.peekReady(), back, "the job is ready again, at its place");
    const again = await reopen(store, dir);
    assert.deepEqual(liveIds(again), ids(1));
    assert.equal(again.table.priority[slotOf(again, makeId(1))], 0);
  });
});

describe("a failing fdatasync", () => {
  for (const [fault, expected] of [["eio", "io"], ["enospc", "full"]] as const) {
    it(`${fault}: rejects the synced batch with \`${expected}\`; later writes work; the write does not come back`, async () => {
      const { dir, store, fs } = await setup();
      fs.failSync({ kind: fault });
      await assert.rejects(store.insert([newJob(2)], true), kind(expected));
      assert.deepEqual(liveIds(store), ids(1));
      await store.insert([newJob(3)], true);
      const again = await reopen(store, dir);
      assert.deepEqual(liveIds(again), ids(1, 3));
      assert.deepEqual(again.damage, []);
    });
  }

  it("with nothing written after it, a reopen does not resurrect the rejected write", async () => {
    const { dir, store, fs } = await setup();
    fs.failSync({ kind: "eio" });
    await assert.rejects(store.insert([newJob(2)], true), kind("io"));
    const again = await reopen(store, dir);
    assert.deepEqual(liveIds(again), ids(1), "job 2 was rejected: it must not be there after a restart");
    assert.deepEqual(again.damage, []);
  });
});

describe("a full disk (preallocation fails)", () => {
  it("fails inserts with `full` while acks and deletes of existing jobs still succeed, then recovers", async () => {
    const { dir, store, fs } = await setup();
    fs.failWrite({ kind: "enospc", match: isPreallocation, persistent: true });
    let n = 1;
    let error: unknown;
    while (error === undefined && n < 5000) {
      await store.insert([newJob(n + 1, {}, 200)], false).then(() => { n++; }, (err) => { error = err; });
    }
    kind("full")(error);
    assert.equal(store.table.size, n);
    await assert.rejects(store.insert([newJob(n + 1, {}, 200)], false), kind("full"), "still full");
    // Every job gets its completion: half acked by delete (in bulk), half marked completed.
    const all = liveIds(store);
    const completed = all.filter((_, i) => i % 2 === 0);
    const deleted = all.filter((_, i) => i % 2 === 1);
    for (const id of completed) {
      const slot = slotOf(store, id);
      await store.update([slot], [{ ...store.table.meta(slot), status: 3, completedAtMs: 1 }], false, { reserved: true });
    }
    for (let i = 0; i < deleted.length; i += 25) await store.remove(deleted.slice(i, i + 25).map((id) => slotOf(store, id)), false);
    assert.deepEqual(liveIds(store), completed);
    fs.clear();
    await store.insert([newJob(100_000)], false);
    const again = await reopen(store, dir);
    assert.deepEqual(liveIds(again), [...completed, makeId(100_000)]);
    for (const id of completed) assert.equal(again.table.status[slotOf(again, id)], 3);
    assert.deepEqual(again.damage, []);
  });
});

/** Poll (each turn of the event loop) until `condition` holds; fail after a deadline. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** A store whose segment 1 is sealed and full of jobs: their slots and ids, and the job count. */
async function oldestSegmentFull(): Promise<{ dir: string; store: Store; fs: FaultyFs; inOldest: number[]; ids: string[]; n: number }> {
  const dir = tmpDir("zizq-faults-");
  const { store, fs } = await open(dir);
  for (let i = 0; i < 300; i += 100) await store.insert(Array.from({ length: 100 }, (_, k) => newJob(i + k + 1)), false);
  let n = 300;
  while (store.writer.head.segment === 1) await store.insert([newJob(++n)], false);
  const inOldest = [...store.table.slotById.values()].filter((s) => store.table.paySeg[s] === 1).sort((a, b) => a - b);
  return { dir, store, fs, inOldest, ids: inOldest.map((s) => idAt(store, s)), n };
}

/**
 * The ids among `ids` whose priority or attempts are not 0 in the log alone: the
 * checkpoint written at close holds memory (rolled back) and would hide a copy in the
 * log that carries a rejected state.
 */
async function changedInLog(store: Store, dir: string, ids: string[], n: number): Promise<string[]> {
  await store.close();
  const scanned = await openStore({ dir, segmentBytes: SEGMENT_BYTES, fs: new FaultyFs(), checkpoint: false });
  opened.push(scanned);
  assert.equal(scanned.table.size, n);
  return ids.filter((id) => scanned.table.priority[slotOf(scanned, id)] !== 0 || scanned.table.attempts[slotOf(scanned, id)] !== 0);
}

describe("a failing write during compaction", () => {
  it("does not let a compaction copy persist an update that was then rejected", async () => {
    const { dir, store, fs, inOldest, ids, n } = await oldestSegmentFull();
    // Compaction visits the oldest segment's slots in ascending order, in slices whose size
    // depends on time (16 to 256 jobs), so which jobs slice 2 copies is not known ahead.
    // Every job of the segment is patched instead: whatever slice 2 copies was patched.
    const firstSlice = gate();
    const copying = fs.failWrite({ kind: "pass", gate: firstSlice.promise });
    const compacting = store.compactAll();
    await copying;
    // While slice 1 is being written, patch every job of the segment; that write will fail.
    const patch = store.update(inOldest, inOldest.map((s) => ({ ...store.table.meta(s), priority: 9 })), false);
    const patchWrite = gate();
    const patching = fs.failWrite({ kind: "enospc", gate: patchWrite.promise });
    firstSlice.open();
    await patching;
    // Slice 1 (it starts at the lowest slot) is written and applied; compaction then yields
    // and starts slice 2, which, unguarded, would copy the patched in-memory state at once,
    // append it behind the patch and land it after the patch fails. Give it those turns.
    await until(() => store.table.paySeg[inOldest[0]] !== 1, "slice 1 to be applied");
    for (let turn = 0; turn < 10; turn++) await new Promise((resolve) => setImmediate(resolve));
    patchWrite.open();
    await assert.rejects(patch, kind("full"));
    for (const s of inOldest) assert.equal(store.table.priority[s], 0, "rolled back in memory");
    await compacting;
    assert.deepEqual(await changedInLog(store, dir, ids, n), [], "the rejected patch must not come back");
  });
});

describe("a state applied while compaction waits for the log", () => {
  // copyJobs waits for the writes appended so far, then snapshots memory. A state applied
  // during that wait is in memory but its write is still queued behind the one waited
  // for: the snapshot must not carry it, or the copy (a later batch) outlives that write's
  // failure (and, on a power cut, a sync of another segment can keep the copy while that
  // write is lost: the power-loss test's "attempts 3 with 2 error records").
  for (const op of ["update", "fail"] as const) {
    it(`${op}: a copy never carries the state of a write that then failed`, async () => {
      const { dir, store, fs, inOldest, ids, n: loaded } = await oldestSegmentFull();
      let n = loaded;
      // A background compaction a seal started must be over: compactAll would wait for it.
      (await store.pauseCompaction())();
      let flushes = 0;
      const flush = store.flush.bind(store);
      store.flush = () => { flushes++; return flush(); };
      // X's write is held; compaction's first flush waits for it.
      const holdX = gate();
      const xWriting = fs.failWrite({ kind: "pass", gate: holdX.promise });
      const x = store.insert([newJob(++n)], false);
      await xWriting;
      const compacting = store.compactAll();
      // Y queues behind X and is held too: copyJobs' flush, once X lands, waits for Y.
      const holdY = gate();
      const yWriting = fs.failWrite({ kind: "pass", gate: holdY.promise });
      const y = store.insert([newJob(++n)], false);
      holdX.open();
      await Promise.all([x, yWriting]);
      await until(() => flushes >= 2, `copyJobs to wait for the log (flushes ${flushes})`);
      // Now every job of the oldest segment changes, in a write queued behind Y that fails.
      const change = op === "update"
        ? store.update(inOldest, inOldest.map((s) => ({ ...store.table.meta(s), priority: 9 })), false)
        : Promise.all(inOldest.map((s) => store.fail(s, { ...store.table.meta(s), priority: 9, attempts: 1 }, 1, { message: "boom" }, false)));
      const holdChange = gate();
      const changeWriting = fs.failWrite({ kind: "eio", gate: holdChange.promise });
      holdY.open();
      await Promise.all([y, changeWriting]);
      // Unguarded, copyJobs now snapshots the changed state and appends it behind the change.
      for (let turn = 0; turn < 10; turn++) await new Promise((resolve) => setImmediate(resolve));
      holdChange.open();
      await assert.rejects(change, kind("io"));
      for (const s of inOldest) assert.equal(store.table.priority[s], 0, "rolled back in memory");
      await compacting;
      assert.deepEqual(await changedInLog(store, dir, ids, n), [], `the failed ${op} must not come back`);
    });
  }
});
