// Storage items closed by issue 12: the completion reserve follows a job that a patch
// moves to another queue (or type), and an open that fails leaves no file descriptor
// behind. (The lock takeover race is in test/storage/lock-race.test.ts.)

import assert from "node:assert/strict";
import fs from "node:fs";
import { after, describe, it } from "node:test";
import { type Store, openStore } from "../../lib/storage/store.ts";
import { FaultyFs, isPreallocation } from "../helpers/faulty-fs.ts";
import { newJob, slotOf, makeId } from "../helpers/storage.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";

const opened: Store[] = [];
after(async () => {
  for (const s of opened) await s.close();
  cleanupTmp();
});

async function open(dir: string, fsPort?: FaultyFs): Promise<Store> {
  const store = await openStore({ dir, segmentBytes: 64 * 1024, fs: fsPort });
  opened.push(store);
  return store;
}

describe("the completion reserve", () => {
  it("follows a job moved to a queue and type of other name lengths, and is 0 once every job is gone", async () => {
    const store = await open(tmpDir());
    await store.insert([newJob(1, { queue: "a", type: "t" }), newJob(2, { queue: "a", type: "t" })], false);
    const before = store.writer.reservedBytes;
    for (let round = 0; round < 50; round++) {
      // Long names, then back to short ones: each move must adjust the reserve both ways.
      const queue = round % 2 === 0 ? "q".repeat(200) : "a";
      const slot = slotOf(store, makeId(1));
      await store.update([slot], [{ ...store.table.meta(slot), queue, type: round % 2 === 0 ? "long-type-name" : "t" }], false);
    }
    assert.equal(store.writer.reservedBytes, before, "50 moves there and back change nothing");
    const slot = slotOf(store, makeId(2));
    await store.update([slot], [{ ...store.table.meta(slot), queue: "z".repeat(300) }], false);
    await store.remove([slotOf(store, makeId(1)), slotOf(store, makeId(2))], false);
    assert.equal(store.writer.reservedBytes, 0);
  });

  it("matches what a reopen computes after a move", async () => {
    const dir = tmpDir();
    const store = await open(dir);
    await store.insert([newJob(1, { queue: "a" })], false);
    const slot = slotOf(store, makeId(1));
    await store.update([slot], [{ ...store.table.meta(slot), queue: "moved-to-a-much-longer-queue-name" }], false);
    const live = store.writer.reservedBytes;
    await store.close();
    const again = await open(dir);
    assert.equal(again.writer.reservedBytes, live);
  });

  it("is given back when the write of a move fails", async () => {
    const faulty = new FaultyFs();
    const store = await open(tmpDir(), faulty);
    await store.insert([newJob(1, { queue: "a" })], false);
    const before = store.writer.reservedBytes;
    const slot = slotOf(store, makeId(1));
    faulty.failWrite({ kind: "eio" });
    await assert.rejects(store.update([slot], [{ ...store.table.meta(slot), queue: "b".repeat(100) }], false));
    assert.equal(store.writer.reservedBytes, before);
  });
});

/** Open fds of this process (Linux). */
const openFds = (): number => fs.readdirSync("/proc/self/fd").length;

describe("a failed open", () => {
  it("closes every segment and spare it opened (no fd leak), and releases the lock", async () => {
    const dir = tmpDir();
    const store = await openStore({ dir, segmentBytes: 64 * 1024 });
    for (let i = 0; i < 6; i++) await store.insert(Array.from({ length: 40 }, (_, k) => newJob(i * 100 + k, {}, 300)), false);
    assert.ok(store.segments.numbers().length >= 2);
    await store.close();

    const full = new FaultyFs();
    // No spare can be made: the open fails after every segment was opened and scanned.
    full.failWrite({ kind: "enospc", match: isPreallocation, persistent: true });
    await assert.rejects(openStore({ dir, fs: full })); // warm-up: lazily opened handles
    const fdsBefore = openFds();
    for (let i = 0; i < 5; i++) await assert.rejects(openStore({ dir, fs: full }), /full|ENOSPC/);
    assert.equal(openFds(), fdsBefore, "five failed opens leaked file descriptors");
    const ok = await open(dir);
    assert.equal(ok.table.size, 240, "the lock was released and nothing was lost");
  });

  it("closes the segments it opened when reading a later one fails", async () => {
    const dir = tmpDir();
    const store = await openStore({ dir, segmentBytes: 64 * 1024 });
    for (let i = 0; i < 6; i++) await store.insert(Array.from({ length: 40 }, (_, k) => newJob(i * 100 + k, {}, 300)), false);
    const numbers = store.segments.numbers();
    await store.close();
    const broken = new FaultyFs();
    const last = `${String(numbers[numbers.length - 1]).padStart(8, "0")}.seg`;
    const realOpen = broken.open.bind(broken);
    broken.open = async (file, flags) => {
      if (file.endsWith(last)) throw Object.assign(new Error("EIO: injected, open"), { code: "EIO" });
      return realOpen(file, flags);
    };
    await assert.rejects(openStore({ dir, fs: broken }));
    const fdsBefore = openFds();
    for (let i = 0; i < 5; i++) await assert.rejects(openStore({ dir, fs: broken }));
    assert.equal(openFds(), fdsBefore);
  });
});

describe("an open refused for what the dir holds", () => {
  it("names the path: a --dir that is a file, a meta.json that is not JSON or not an object", async () => {
    const root = tmpDir();
    const file = `${root}/a-file`;
    fs.writeFileSync(file, "not a dir");
    await assert.rejects(openStore({ dir: file }), { name: "StorageError", message: new RegExp(`^${file} is not a directory of zizq data: ENOTDIR`) });
    for (const [text, message] of [
      ["not json\n", /meta\.json is not valid JSON \(Unexpected token[^\n]*\); it describes the data dir and cannot be guessed$/],
      ["null", /meta\.json: unsupported format undefined/],
    ] as const) {
      const dir = tmpDir();
      fs.writeFileSync(`${dir}/meta.json`, text);
      await assert.rejects(openStore({ dir }), { name: "StorageError", message });
      assert.equal(fs.readFileSync(`${dir}/meta.json`, "utf8"), text, "left as it was");
    }
  });
});
