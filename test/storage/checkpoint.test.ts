// The checkpoint (lib/storage/checkpoint.ts): a reopen starts from it when it is intact
// and matches the log, replays the log after it, and rebuilds exactly what a scan of
// every segment rebuilds; a damaged, foreign or unusable checkpoint falls back to that
// scan; a checkpoint during which a write failed is thrown away.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { Worker } from "node:worker_threads";
import { CHECKPOINT_FILE, copyIdOrder } from "../../lib/storage/checkpoint.ts";
import { RECORD_HEADER_BYTES } from "../../lib/storage/format.ts";
import { JobTable } from "../../lib/storage/job-table.ts";
import { encodeJobsChunk } from "../../lib/storage/checkpoint-codec.ts";
import { compactOldest } from "../../lib/storage/compaction.ts";
import { verifyWorkerStart } from "../../lib/storage/verify-thread.ts";
import { type Store, type StoreOptions, openStore } from "../../lib/storage/store.ts";
import { FaultyFs, gate } from "../helpers/faulty-fs.ts";
import { T0, dumpStore, liveIds, makeId, newJob, prng, slotOf } from "../helpers/storage.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";

after(() => cleanupTmp());

const SEGMENT_BYTES = 64 * 1024;
const open = (dir: string, over: Partial<StoreOptions> = {}): Promise<Store> =>
  openStore({ dir, segmentBytes: SEGMENT_BYTES, now: () => T0, ...over });

function copyDir(dir: string): string {
  const copy = tmpDir("zizq-ckpt-copy-");
  fs.cpSync(dir, copy, { recursive: true });
  fs.rmSync(path.join(copy, "zizq.lock"), { force: true });
  return copy;
}

/** Open a copy from its checkpoint and another copy by a full scan; both must agree. */
async function assertSameAsScan(dir: string, expectFrom: "checkpoint" | "scan"): Promise<Store["recovery"]> {
  const a = await open(copyDir(dir));
  const b = await open(copyDir(dir), { checkpoint: false });
  try {
    assert.equal(a.recovery.from, expectFrom, `recovery: ${JSON.stringify(a.recovery)}`);
    assert.equal(b.recovery.from, "scan");
    assert.deepEqual(dumpStore(a), dumpStore(b));
    return a.recovery;
  } finally {
    await a.close();
    await b.close();
  }
}

/** Flip bits of one byte of the nth segment (in number order), at `offset` into the file. */
function rot(dir: string, nth: number, offset: number, mask: number): void {
  const segDir = path.join(dir, "segments");
  const segments = fs.readdirSync(segDir).filter((n) => /^\d+\.seg$/.test(n)).sort();
  assert.ok(segments.length > nth, `a segment #${nth}`);
  const file = path.join(segDir, segments[nth]);
  const bytes = fs.readFileSync(file);
  bytes[offset] ^= mask;
  fs.writeFileSync(file, bytes);
}

/** A store with a bit of everything: queues, priorities, errors, options, blobs, deletes, compaction. */
async function busyStore(dir: string, seed = 1, over: Partial<StoreOptions> = {}): Promise<Store> {
  const random = prng(seed);
  const store = await open(dir, over);
  let n = 0;
  for (let round = 0; round < 30; round++) {
    await store.insert(Array.from({ length: 20 }, () => {
      n++;
      return newJob(n, { queue: `q${n % 3}`, type: `t${n % 2}`, priority: n % 5, status: n % 11 === 0 ? 0 : 1, readyAtMs: T0 + (n % 11 === 0 ? 1e9 : 0) }, 300);
    }), false);
    const ids = liveIds(store);
    const pick = () => slotOf(store, ids[Math.floor(random() * ids.length)]);
    const s = pick();
    await store.fail(s, { ...store.table.meta(s), attempts: store.table.attempts[s] + 1, failedAtMs: T0 + round, options: { retry_limit: 3 } }, store.table.attempts[s] + 1, { message: `boom ${round}` }, false);
    const u = pick();
    await store.update([u], [{ ...store.table.meta(u), priority: 1000 + round, dequeuedAtMs: T0 + 5 }], false);
    const d = pick();
    if (d !== s && d !== u) await store.remove([d], false);
    if (round % 7 === 0) await store.putBlob(1, `group-${round}`, Buffer.from(`value ${round}`), false);
    if (round === 20) await store.deleteBlob(1, "group-7", false);
  }
  store.table.take(slotOf(store, liveIds(store)[0]), T0 + 77); // in memory only
  await store.compactAll();
  return store;
}

describe("checkpoint", () => {
  it("close writes one; a reopen starts from it and rebuilds what a full scan rebuilds", async () => {
    const dir = tmpDir("zizq-ckpt-");
    const store = await busyStore(dir);
    await store.close();
    assert.ok(fs.existsSync(path.join(dir, CHECKPOINT_FILE)));
    await assertSameAsScan(dir, "checkpoint");
  });

  it("a checkpoint cut short by a crash (checkpoint.tmp) is deleted at open, never read", async () => {
    const dir = tmpDir("zizq-ckpt-");
    const store = await busyStore(dir);
    await store.close();
    const tmp = path.join(dir, `${CHECKPOINT_FILE}.tmp`);
    fs.writeFileSync(tmp, Buffer.alloc(100_000, 7));
    const again = await open(dir);
    try {
      assert.equal(fs.existsSync(tmp), false);
      assert.equal(again.recovery.from, "checkpoint");
    } finally {
      await again.close();
    }
  });

  it("after a restart that replayed much log, the next checkpoint is due at once (a crash loop does not grow the replay)", async () => {
    const dir = tmpDir("zizq-ckpt-");
    // Segments large enough that nothing seals (a seal would write a checkpoint itself).
    const store = await open(dir, { segmentBytes: 8 * 1024 * 1024 });
    await store.insert([newJob(1)], false);
    assert.equal(await store.checkpoint(), true);
    for (let i = 0; i < 40; i++) await store.insert(Array.from({ length: 10 }, (_, k) => newJob(2 + i * 10 + k, {}, 4000)), false);
    const crashed = copyDir(dir); // the image a kill -9 leaves: the checkpoint is 1.6 MB behind
    await store.close();
    const file = path.join(crashed, CHECKPOINT_FILE);
    const before = fs.statSync(file).size;
    const again = await open(crashed);
    try {
      assert.equal(again.recovery.from, "checkpoint");
      // The 400 jobs of 4,000-byte payloads after the checkpoint, and nothing before it.
      const replayed = again.recovery.replayedBytes!;
      assert.ok(replayed > 400 * 4000 && replayed < 400 * 4400, `replayed ${replayed} bytes`);
      again.checkpointIfDue(); // what the timer does every few seconds
      const deadline = Date.now() + 10_000;
      while (fs.statSync(file).size === before) {
        assert.ok(Date.now() < deadline, "no checkpoint was written after the replay");
        await new Promise((resolve) => setImmediate(resolve));
      }
      assert.equal(again.table.size, 401);
    } finally {
      await again.close();
    }
  });

  it("an older checkpoint is used with the log after it replayed (inserts, updates, deletes, errors, blobs, compaction, reset)", async () => {
    for (const withReset of [false, true]) {
      const dir = tmpDir("zizq-ckpt-");
      const store = await busyStore(dir, 2);
      // Only the explicit compaction below may retire segments: background compaction
      // (after the reset, everything before it is garbage) could retire the checkpoint's
      // own segment first, and this test is about a checkpoint whose segment is still there.
      const resume = await store.pauseCompaction();
      assert.equal(await store.checkpoint(), true);
      const saved = fs.readFileSync(path.join(dir, CHECKPOINT_FILE));
      const checkpointSegment = store.writer.head.segment;
      const ids = liveIds(store);
      await store.remove(ids.slice(0, 100).map((id) => slotOf(store, id)), false);
      const u = slotOf(store, ids[150]);
      await store.update([u], [{ ...store.table.meta(u), priority: 4242 }], false);
      await store.fail(u, { ...store.table.meta(u), attempts: 9 }, 9, { message: "late" }, false);
      await store.putBlob(1, "late", Buffer.from("blob"), false);
      await store.deleteBlob(1, "group-0", false);
      if (withReset) await store.reset(false);
      await store.insert(Array.from({ length: 50 }, (_, i) => newJob(5000 + i, {}, 500)), false);
      // Compact what is older than the checkpoint's segment (with that one gone too, the
      // checkpoint no longer matches the log and the open scans: the next test).
      while (store.segments.numbers()[0] < checkpointSegment) assert.ok(await compactOldest(store));
      await store.flush();
      // As if killed now: the checkpoint on disk is the older one.
      const crashed = copyDir(dir);
      fs.writeFileSync(path.join(crashed, CHECKPOINT_FILE), saved);
      resume();
      await store.close();
      await assertSameAsScan(crashed, "checkpoint");
    }
  });

  it("a table of many chunks (and table growth while loading) comes back whole", { timeout: 120_000 }, async () => {
    const dir = tmpDir("zizq-ckpt-");
    const store = await open(dir, { segmentBytes: 4 * 1024 * 1024 });
    for (let b = 0; b < 45; b++) {
      await store.insert(Array.from({ length: 1000 }, (_, i) => newJob(b * 1000 + i + 1, { queue: `q${i % 4}`, priority: i % 3 })), false);
    }
    await store.remove(liveIds(store).filter((_, i) => i % 10 === 0).map((id) => slotOf(store, id)), false);
    await store.close();
    const a = await open(copyDir(dir), { segmentBytes: 4 * 1024 * 1024 });
    try {
      assert.equal(a.recovery.from, "checkpoint", JSON.stringify(a.recovery));
      assert.equal(a.table.size, 40_500);
    } finally {
      await a.close();
    }
    await assertSameAsScan(dir, "checkpoint");
  });

  it("a flipped byte anywhere in the checkpoint makes the open scan every segment instead, with the same result", { timeout: 120_000 }, async () => {
    const dir = tmpDir("zizq-ckpt-");
    await (await busyStore(dir, 3)).close();
    const file = path.join(dir, CHECKPOINT_FILE);
    const good = fs.readFileSync(file);
    const random = prng(7);
    const positions = [0, 8, 20, 63, 64, 72, good.length - 1, ...Array.from({ length: 12 }, () => Math.floor(random() * good.length))];
    // The log is read while the checkpoint loads; a load that fails must close what that read opened.
    const fds = () => fs.readdirSync("/proc/self/fd").length;
    const fdsBefore = fds();
    for (const at of positions) {
      const bad = Buffer.from(good);
      bad[at] ^= 1 << Math.floor(random() * 8);
      fs.writeFileSync(file, bad);
      const recovery = await assertSameAsScan(dir, "scan");
      assert.ok(recovery.reason, `byte ${at}`);
    }
    fs.writeFileSync(file, good.subarray(0, good.length - 5));
    assert.match((await assertSameAsScan(dir, "scan")).reason!, /damaged|end/);
    assert.equal(fds(), fdsBefore, "file descriptors left open");
  });

  it("a bit that rots in the log before the checkpoint is reported, and the open rebuilds by a full scan", async () => {
    const dir = tmpDir("zizq-ckpt-");
    await (await busyStore(dir, 5)).close();
    rot(dir, 0, 32 + 50, 0x10); // inside the first record after the 32-byte segment header
    const recovery = await assertSameAsScan(dir, "scan");
    assert.match(recovery.reason!, /^damage before the checkpoint \(segment \d+ offset 32\)$/);
    const store = await open(copyDir(dir));
    try {
      assert.equal(store.damage[0]?.kind, "corrupt");
      assert.equal(store.damage[0]?.offset, 32);
    } finally {
      await store.close();
    }
  });

  describe("the log before the checkpoint, verified on a worker thread (verify-thread.ts)", () => {
    /** Count the workers started, or replace how they start, for one open. */
    async function openCounting(dir: string, create?: typeof verifyWorkerStart.create): Promise<{ store: Store; started: number; answered: number }> {
      const real = verifyWorkerStart.create;
      let started = 0;
      let answered = 0;
      verifyWorkerStart.create = (request) => {
        started++;
        const worker = (create ?? real)(request);
        worker.once("message", (reply: object) => {
          if ("damage" in reply) answered++;
        });
        return worker;
      };
      try {
        return { store: await open(dir, { verifyThreadBytes: 0 }), started, answered };
      } finally {
        verifyWorkerStart.create = real;
      }
    }

    it("starts from the checkpoint as the in-thread check does, with the check done by a worker", async () => {
      const dir = tmpDir("zizq-ckpt-");
      await (await busyStore(dir, 8)).close();
      const { store, started, answered } = await openCounting(copyDir(dir));
      const scanned = await open(copyDir(dir), { checkpoint: false });
      try {
        assert.equal(started, 1, "one worker");
        assert.equal(answered, 1, "the worker answered");
        assert.equal(store.recovery.from, "checkpoint");
        assert.deepEqual(dumpStore(store), dumpStore(scanned));
      } finally {
        await store.close();
        await scanned.close();
      }
    });

    it("reports a rotted bit exactly as the in-thread check does, and the open rebuilds by a full scan", async () => {
      const dir = tmpDir("zizq-ckpt-");
      await (await busyStore(dir, 9)).close();
      // Segment #1, with more after it: wholly before the checkpoint's, so the worker's to check.
      assert.ok(fs.readdirSync(path.join(dir, "segments")).filter((n) => n.endsWith(".seg")).length >= 3);
      rot(dir, 1, 32 + 70, 0x04);
      const { store, started, answered } = await openCounting(copyDir(dir));
      const inThread = await open(copyDir(dir));
      try {
        assert.equal(started, 1);
        assert.equal(answered, 1, "the worker answered");
        assert.equal(store.recovery.from, "scan");
        assert.deepEqual(store.recovery, inThread.recovery);
        assert.match(store.recovery.reason!, /^damage before the checkpoint/);
        assert.deepEqual(store.damage, inThread.damage);
        assert.deepEqual(dumpStore(store), dumpStore(inThread));
      } finally {
        await store.close();
        await inThread.close();
      }
    });

    it("a worker that cannot start, or dies before answering, leaves the check to this thread", async () => {
      const dir = tmpDir("zizq-ckpt-");
      await (await busyStore(dir, 10)).close();
      rot(dir, 0, 32 + 50, 0x10);
      const cannotStart = () => {
        throw Object.assign(new Error("no threads"), { code: "ERR_WORKER_INIT_FAILED" });
      };
      const dies = () => new Worker("process.exit(3)", { eval: true });
      for (const create of [cannotStart, dies]) {
        const { store, started } = await openCounting(copyDir(dir), create);
        try {
          assert.equal(started, 1);
          assert.match(store.recovery.reason!, /^damage before the checkpoint \(segment \d+ offset 32\)$/, create.name);
          assert.equal(store.damage[0]?.offset, 32);
        } finally {
          await store.close();
        }
      }
    });
  });

  it("a checkpoint whose segment was compacted away is not used (its deletes could be gone with it)", async () => {
    const dir = tmpDir("zizq-ckpt-");
    const store = await busyStore(dir, 6);
    await store.checkpoint();
    const saved = fs.readFileSync(path.join(dir, CHECKPOINT_FILE));
    await store.remove(liveIds(store).slice(0, 50).map((id) => slotOf(store, id)), false);
    for (let i = 0; i < 200; i += 20) await store.insert(Array.from({ length: 20 }, (_, k) => newJob(9000 + i + k, {}, 500)), false);
    await store.compactAll();
    await store.flush();
    const crashed = copyDir(dir);
    fs.writeFileSync(path.join(crashed, CHECKPOINT_FILE), saved);
    await store.close();
    assert.match((await assertSameAsScan(crashed, "scan")).reason!, /does not match/);
  });

  it("after a compaction the next check writes a checkpoint, with no log appended: a crash then restarts from it", async () => {
    // The checkpoint's pointers into a compacted segment make it unusable (above). A
    // quiet store used to write no new one until enough log was appended, so a crash
    // after compaction scanned every segment.
    const dir = tmpDir("zizq-ckpt-");
    const store = await busyStore(dir, 7, { checkpointEveryMs: 50 });
    try {
      await store.checkpoint();
      await store.remove(liveIds(store).slice(0, 200).map((id) => slotOf(store, id)), false);
      await store.compactAll();
      const before = fs.statSync(path.join(dir, CHECKPOINT_FILE)).mtimeMs;
      const deadline = Date.now() + 30_000; // a hang guard: checks are 50 ms apart here
      while (fs.statSync(path.join(dir, CHECKPOINT_FILE)).mtimeMs === before) {
        assert.ok(Date.now() < deadline, "no checkpoint after the compaction");
        store.checkpointIfDue();
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await store.flush();
      await assertSameAsScan(dir, "checkpoint");
    } finally {
      await store.close();
    }
  });

  it("after a compaction, a checkpoint attempt that fails is tried again at a later check", async () => {
    // The first version marked the checkpoint good as the attempt began: one failed write
    // then left the unusable checkpoint in place until more log was appended.
    const dir = tmpDir("zizq-ckpt-");
    const faulty = new FaultyFs();
    const store = await busyStore(dir, 8, { checkpointEveryMs: 50, fs: faulty });
    try {
      await store.checkpoint();
      await store.remove(liveIds(store).slice(0, 200).map((id) => slotOf(store, id)), false);
      await store.compactAll();
      const failed = faulty.failWrite({ kind: "eio", match: (p) => p.endsWith(`${CHECKPOINT_FILE}.tmp`) });
      const before = fs.statSync(path.join(dir, CHECKPOINT_FILE)).mtimeMs;
      const deadline = Date.now() + 20_000; // a hang guard: checks are 50 ms apart here
      let failedOnce = false;
      void failed.then(() => { failedOnce = true; });
      while (fs.statSync(path.join(dir, CHECKPOINT_FILE)).mtimeMs === before) {
        assert.ok(Date.now() < deadline, `no checkpoint after the compaction (an attempt failed: ${failedOnce})`);
        store.checkpointIfDue();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.ok(failedOnce, "the first attempt met the injected failure");
      await store.flush();
      await assertSameAsScan(dir, "checkpoint");
    } finally {
      await store.close();
    }
  });

  it("a checkpoint that does not match the log (another dir's, or the log rewritten under it) is not used", async () => {
    const a = tmpDir("zizq-ckpt-");
    const b = tmpDir("zizq-ckpt-");
    await (await busyStore(a, 4)).close();
    await (await busyStore(b, 5)).close();
    fs.copyFileSync(path.join(a, CHECKPOINT_FILE), path.join(b, CHECKPOINT_FILE));
    assert.match((await assertSameAsScan(b, "scan")).reason!, /does not match/);
    // Missing segment files: a checkpoint whose position is gone.
    const c = copyDir(a);
    for (const name of fs.readdirSync(path.join(c, "segments"))) fs.rmSync(path.join(c, "segments", name));
    const store = await open(c);
    try {
      assert.equal(store.recovery.from, "scan");
      assert.equal(store.table.size, 0);
    } finally {
      await store.close();
    }
  });

  it("is written in the background after segments seal", async () => {
    const dir = tmpDir("zizq-ckpt-");
    const store = await open(dir);
    try {
      let n = 0;
      while (!fs.existsSync(path.join(dir, CHECKPOINT_FILE))) {
        await store.insert(Array.from({ length: 10 }, () => newJob(++n, {}, 500)), false);
        assert.ok(n < 100_000, "no checkpoint after many seals");
      }
    } finally {
      await store.close();
    }
  });

  it("is thrown away when a write fails while it is being written", async () => {
    const fsPort = new FaultyFs();
    const dir = tmpDir("zizq-ckpt-");
    const store = await open(dir, { fs: fsPort });
    try {
      await store.insert(Array.from({ length: 50 }, (_, i) => newJob(i + 1)), false);
      // Hold the checkpoint's first write; meanwhile an update is applied to memory and
      // its write fails: the checkpoint may hold that rejected state, so it must go.
      const held = gate();
      const reached = fsPort.failWrite({ kind: "pass", match: (p) => p.endsWith(`${CHECKPOINT_FILE}.tmp`), gate: held.promise });
      const writing = store.checkpoint();
      await reached;
      const failing = fsPort.failWrite({ kind: "eio" });
      const s = slotOf(store, makeId(1));
      const update = store.update([s], [{ ...store.table.meta(s), priority: 777 }], false);
      await failing;
      await assert.rejects(update);
      held.open();
      assert.equal(await writing, false);
      assert.ok(!fs.existsSync(path.join(dir, CHECKPOINT_FILE)));
      assert.ok(!fs.existsSync(path.join(dir, `${CHECKPOINT_FILE}.tmp`)));
    } finally {
      await store.close();
    }
  });

  it("a jobs chunk lays out its columns little-endian, in the documented order", async () => {
    const store = await busyStore(tmpDir("zizq-ckpt-"), 5);
    try {
      const t = store.table;
      const live = [...t.orderedSlots()].filter((s) => t.status[s] !== 255);
      assert.ok(live.length > 100);
      const body = encodeJobsChunk(t, Int32Array.from(live)).subarray(RECORD_HEADER_BYTES);
      const n = body.readUInt32LE(0);
      assert.equal(n, live.length);
      // Column starts (docs/format.md, "Checkpoint"): id words 16, status 1, priority 2,
      // attempts 4, queue 4, type 4, ready_at 8, dequeued_at 8, segment, offset, length, record offset 4 each.
      const widths = [16, 1, 2, 4, 4, 4, 8, 8, 4, 4, 4, 4];
      const starts = widths.reduce<number[]>((acc, w, k) => [...acc, acc[k] + n * w], [4]);
      live.forEach((s, i) => {
        for (let k = 0; k < 4; k++) assert.equal(body.readUInt32LE(starts[0] + i * 16 + k * 4), t.idw[s * 4 + k], `id word ${k} of job ${i}`);
        assert.equal(body[starts[1] + i], t.status[s]);
        assert.equal(body.readUInt16LE(starts[2] + i * 2), t.priority[s]);
        assert.equal(body.readUInt32LE(starts[3] + i * 4), t.attempts[s]);
        assert.ok(Object.is(body.readDoubleLE(starts[6] + i * 8), t.readyAt[s]));
        assert.ok(Object.is(body.readDoubleLE(starts[7] + i * 8), t.dequeuedAt[s]));
        assert.equal(body.readUInt32LE(starts[8] + i * 4), t.paySeg[s]);
        assert.equal(body.readUInt32LE(starts[9] + i * 4), t.payOff[s]);
        assert.equal(body.readUInt32LE(starts[10] + i * 4), t.payLen[s]);
        assert.equal(body.readUInt32LE(starts[11] + i * 4), t.recOff[s]);
      });
    } finally {
      await store.close();
    }
  });

  it("the id order is copied in time slices (budget 0: a step per turn), and again when entries move meanwhile", async () => {
    const t = new JobTable();
    t.indexing = true;
    const meta = (n: number) => ({ id: makeId(n), status: 1, priority: 0, attempts: 0, readyAtMs: T0, queue: "q", type: "t" });
    const at = { segment: 1, offset: 100, length: 10, recordOffset: 50, recordLength: 60 };
    for (let n = 10; n < 5010; n++) t.index(t.add(meta(n * 2), at));
    const ids = (order: Int32Array) => [...order].filter((s) => t.status[s] !== 255).map((s) => t.idOf(s));
    // Nothing moves: the steps make one copy of the order as it stood.
    const quiet = copyIdOrder(t, 1000, 0);
    t.index(t.add(meta(20_000), at)); // appended meanwhile: newer than the copy, not in it
    assert.deepEqual(ids(await quiet), ids(t.orderedSlots()).slice(0, 5000));
    // An id that lands in the middle moves entries: the copy starts over.
    const moving = copyIdOrder(t, 1000, 0);
    await new Promise((resolve) => setImmediate(resolve));
    t.index(t.add(meta(2001), at));
    assert.deepEqual(ids(await moving), ids(t.orderedSlots()));
  });
});
