// Storage items closed by issue 12: the completion reserve follows a job that a patch
// moves to another queue (or type), and an open that fails leaves no file descriptor
// behind. (The lock takeover race is in test/storage/lock-race.test.ts.)

import assert from "node:assert/strict";
import fs from "node:fs";
import { after, describe, it } from "node:test";
import { encodeJobRecord } from "../../lib/storage/codec.ts";
import { ID_BYTES, RECORD_HEADER_BYTES, RECORD_META, STATUS_COMPLETED } from "../../lib/storage/format.ts";
import { type Store, openStore } from "../../lib/storage/store.ts";
import { FaultyFs, isPreallocation } from "../helpers/faulty-fs.ts";
import { newJob, slotOf, makeId } from "../helpers/storage.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";

const opened: Store[] = [];
after(async () => {
  for (const s of opened) await s.close();
  cleanupTmp();
});

async function open(dir: string, fsPort?: FaultyFs, checkpoint?: boolean): Promise<Store> {
  const store = await openStore({ dir, segmentBytes: 64 * 1024, fs: fsPort, checkpoint });
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

describe("the completion reserve counts the job's options", () => {
  const big = { unique_key: "k".repeat(1000), retention: { completed_ms: 3_600_000 } };
  const small = { retry_limit: 3 };

  it("covers the completion META an ack writes (with the options) and the DELETE after it", async () => {
    const store = await open(tmpDir());
    await store.insert([newJob(9, { queue: "q", type: "t" })], false);
    assert.equal(store.writer.reservedBytes, 135, "a job in q of type t with no options (docs/operations.md)");
    await store.remove([slotOf(store, makeId(9))], false);
    await store.insert([newJob(1, { queue: "ü-queue", type: "t", options: big })], false);
    const meta = { ...store.table.meta(slotOf(store, makeId(1))), status: STATUS_COMPLETED, completedAtMs: 1, purgeAtMs: 2 };
    const completion = encodeJobRecord(RECORD_META, meta).length;
    assert.ok(completion > 1000);
    // The old reserve was 154 + 3 per name character: 178 bytes here.
    assert.ok(store.writer.reservedBytes >= completion + RECORD_HEADER_BYTES + ID_BYTES,
      `reserve ${store.writer.reservedBytes} < completion ${completion} + delete`);
    await store.update([slotOf(store, makeId(1))], [meta], false, { reserved: true });
    await store.remove([slotOf(store, makeId(1))], false);
    assert.equal(store.writer.reservedBytes, 0);
  });

  it("follows options changes (META and fold) both ways, gives a failed change's back, and matches a reopen by scan and by checkpoint", async () => {
    const dir = tmpDir();
    const faulty = new FaultyFs();
    let store = await open(dir, faulty);
    await store.insert([newJob(1, { options: small }), newJob(2, {}), newJob(3, { options: big })], false);
    const before = store.writer.reservedBytes;
    for (let round = 0; round < 20; round++) {
      for (const n of [1, 2]) {
        const slot = slotOf(store, makeId(n));
        await store.update([slot], [{ ...store.table.meta(slot), options: round % 2 === 0 ? big : n === 1 ? small : undefined }], false);
      }
    }
    assert.equal(store.writer.reservedBytes, before, "20 changes there and back change nothing");
    // A fold (a JOB record rewrite) that grows the options.
    const slot = slotOf(store, makeId(2));
    await store.rewrite(slot, { ...store.table.meta(slot), options: big }, Buffer.from("{}"), false);
    const grown = store.writer.reservedBytes;
    assert.ok(grown > before + 1000);
    faulty.failWrite({ kind: "eio" });
    await assert.rejects(store.update([slot], [{ ...store.table.meta(slot), options: { unique_key: "x".repeat(5000) } }], false));
    assert.equal(store.writer.reservedBytes, grown, "a failed change gives its growth back");
    await store.close();
    for (const checkpoint of [false, true]) {
      store = await open(dir, undefined, checkpoint);
      assert.equal(store.recovery.from, checkpoint ? "checkpoint" : "scan");
      assert.equal(store.writer.reservedBytes, grown, `after a reopen from the ${store.recovery.from}`);
      await store.close();
    }
    store = await open(dir);
    await store.remove([1, 2, 3].map((n) => slotOf(store, makeId(n))), false);
    assert.equal(store.writer.reservedBytes, 0);
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
