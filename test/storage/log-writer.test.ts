// The group-commit writer as the store uses it: one write per turn for every caller in it,
// flush() waits for what was appended so far (not for writes that keep arriving), and
// compaction makes progress under a steady stream of writes.

import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { type Store, openStore } from "../../lib/storage/store.ts";
import { FaultyFs, gate, isPreallocation } from "../helpers/faulty-fs.ts";
import { newJob, segmentNumbers } from "../helpers/storage.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";

const opened: Store[] = [];
after(async () => {
  for (const s of opened) await s.close();
  cleanupTmp();
});

async function open(fs = new FaultyFs()): Promise<{ store: Store; fs: FaultyFs; dir: string }> {
  const dir = tmpDir("zizq-writer-");
  const store = await openStore({ dir, segmentBytes: 64 * 1024, fs });
  opened.push(store);
  return { store, fs, dir };
}

/** Insert job after job, each as soon as the previous one is written, `rounds` times. */
function stream(store: Store, from: number, rounds: number): { done: Promise<void>; round: () => number } {
  let round = 0;
  const done = (async () => {
    for (; round < rounds; round++) await store.insert([newJob(from + round, {}, 100)], false);
  })();
  return { done, round: () => round };
}

describe("log writer", () => {
  it("writes every call of one turn with one write, and each caller learns of it", async () => {
    const { store, fs } = await open();
    const before = fs.writes;
    await Promise.all(Array.from({ length: 50 }, (_, i) => store.insert([newJob(i + 1)], false)));
    assert.equal(fs.writes - before, 1);
    assert.equal(store.table.size, 50);
    const syncsBefore = fs.syncs;
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.insert([newJob(100 + i)], i % 2 === 0)));
    assert.equal(fs.syncs - syncsBefore, 1, "one fdatasync shared by the batch");
  });

  it("flush() resolves once what was appended before it is written, while writes keep coming", async () => {
    const { store } = await open();
    const writes = stream(store, 1, 300);
    await store.insert([newJob(10_000)], false);
    const start = writes.round();
    await store.flush();
    const waited = writes.round() - start;
    await writes.done;
    assert.ok(waited <= 3, `flush waited for ${waited} later writes`);
  });

  it("compaction finishes while a stream of writes goes on", async () => {
    const { store, dir } = await open();
    let n = 0;
    while (segmentNumbers(dir).length < 4) await store.insert([newJob(++n, {}, 500)], false);
    await store.remove([...store.table.slotById.values()], false);
    const writes = stream(store, 100_000, 3000);
    await store.compactAll();
    const at = writes.round();
    await writes.done;
    assert.ok(at < 3000, "compaction only finished once the writes stopped");
    assert.ok(!segmentNumbers(dir).includes(1));
  });

  it("starts the next spare while a segment of slack is left, so no insert waits for one", { timeout: 20_000 }, async () => {
    const { store, fs } = await open();
    // First the head segment and its standing spare (made when the head was activated).
    await store.insert([newJob(1)], false);
    for (const deadline = Date.now() + 10_000; store.segments.spareCount === 0;) {
      assert.ok(Date.now() < deadline, "no spare after activating the head");
      await new Promise((resolve) => setImmediate(resolve));
    }
    const held = gate();
    const preparing = fs.failWrite({ kind: "pass", match: isPreallocation, gate: held.promise });
    let n = 1;
    let started = false;
    void preparing.then(() => { started = true; });
    // Until the next spare starts, inserts go on; the one that starts it must not wait
    // for it (the preallocation is held at its first write until the end of the test).
    while (!started) {
      const insert = store.insert([newJob(++n, {}, 600)], false);
      await Promise.race([insert, preparing]);
      await insert;
    }
    assert.ok(store.writer.room() >= 64 * 1024 - 32, "started with a segment of slack left");
    held.open();
    for (let i = 0; i < 200; i++) await store.insert([newJob(++n, {}, 600)], false);
  });
});
