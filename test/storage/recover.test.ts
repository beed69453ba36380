// Recovery (docs/format.md "Recovery rules"): a real log written by the store, damaged
// byte by byte, then reopened. Each test asserts exactly which ids are kept, which are
// dropped, and what the damage report says.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { MAX_RECORD_TYPE, RECORD_HEADER_BYTES } from "../../lib/storage/format.ts";
import type { Damage } from "../../lib/storage/recover.ts";
import { nodeFs } from "../../lib/storage/fs-port.ts";
import { type StoreOptions, openStore as openRealStore } from "../../lib/storage/store.ts";
import { type RecordSpan, liveIds, makeId, newJob, payloadFor, recordsOf, segmentNumbers, segmentPath, slotOf } from "../helpers/storage.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";

after(cleanupTmp);

const SEGMENT_BYTES = 64 * 1024;
// Recovery reads what is on disk whether or not it was synced; skipping fdatasync (which
// each open's spare preallocation calls) keeps these ~1,500 reopens fast.
const unsyncedFs = { ...nodeFs, fdatasync: async () => {} };
// These tests are about the scan of every segment, so no checkpoint is written or read
// (with one, a reopen reads only the log after it: test/storage/checkpoint.test.ts).
const openStore = (options: StoreOptions) => openRealStore({ ...options, fs: unsyncedFs, checkpoint: false });

/** Open, check, close; returns what the store saw. */
async function reopen(dir: string): Promise<{ ids: string[]; damage: Damage[]; priorities: Map<string, number> }> {
  const store = await openStore({ dir, segmentBytes: SEGMENT_BYTES });
  try {
    const ids = liveIds(store);
    for (const id of ids) assert.deepEqual(store.payload(slotOf(store, id)), payloadFor(Number(id)), `payload of ${id}`);
    const priorities = new Map(ids.map((id) => [id, store.table.priority[slotOf(store, id)]]));
    return { ids, damage: store.damage, priorities };
  } finally {
    await store.close();
  }
}

/** Insert one more job, close, reopen: the log must be whole again. */
async function appendAndReopen(dir: string, expected: string[], damage: Damage[] = []): Promise<void> {
  const store = await openStore({ dir });
  await store.insert([newJob(999)], false);
  await store.close();
  const again = await reopen(dir);
  assert.deepEqual(again.ids, [...expected, makeId(999)].sort());
  assert.deepEqual(again.damage, damage);
}

function copyOf(base: string): string {
  const dir = tmpDir("zizq-recover-");
  fs.cpSync(base, dir, { recursive: true });
  return dir;
}

function patchFile(file: string, at: number, bytes: Buffer): void {
  const fd = fs.openSync(file, "r+");
  try { fs.writeSync(fd, bytes, 0, bytes.length, at); } finally { fs.closeSync(fd); }
}

/** Records 1..7: JOB 1, JOB 2, TXN(JOB 3, 4, 5), META 2 (priority 9), JOB 6, JOB 7. */
async function buildSmallLog(): Promise<{ dir: string; spans: RecordSpan[] }> {
  const dir = tmpDir("zizq-recover-base-");
  const store = await openStore({ dir, segmentBytes: SEGMENT_BYTES });
  for (const n of [1, 2]) await store.insert([newJob(n)], false);
  await store.insert([newJob(3), newJob(4), newJob(5)], false);
  const two = slotOf(store, makeId(2));
  await store.update([two], [{ ...store.table.meta(two), priority: 9 }], false);
  for (const n of [6, 7]) await store.insert([newJob(n)], false);
  await store.close();
  const spans = recordsOf(segmentPath(dir, 1));
  assert.equal(spans.length, 6);
  return { dir, spans };
}

const ids = (...ns: number[]): string[] => ns.map(makeId);

describe("recovery", async () => {
  const { dir: base, spans } = await buildSmallLog();
  const baseData = fs.readFileSync(segmentPath(base, 1));

  it("reopens an undamaged log with everything and no report", async () => {
    const seen = await reopen(copyOf(base));
    assert.deepEqual(seen.ids, ids(1, 2, 3, 4, 5, 6, 7));
    assert.deepEqual(seen.damage, []);
    assert.equal(seen.priorities.get(makeId(2)), 9);
  });

  // The same log plus a last TXN (jobs 8, 9, 10): a torn group must lose all of it.
  const baseTxn = copyOf(base);
  {
    const store = await openStore({ dir: baseTxn });
    await store.insert([newJob(8), newJob(9), newJob(10)], false);
    await store.close();
  }
  const cases = [
    { name: "record", dir: base, kept: ids(1, 2, 3, 4, 5, 6) },
    { name: "TXN", dir: baseTxn, kept: ids(1, 2, 3, 4, 5, 6, 7) },
  ];
  for (const { name, dir: from, kept: keptIds } of cases) {
    for (const mode of ["zeroed", "truncated"] as const) {
      it(`a torn last ${name} (${mode} at every offset) ends the log quietly; the next write makes it whole`, async () => {
        const data = fs.readFileSync(segmentPath(from, 1));
        const spansHere = recordsOf(segmentPath(from, 1));
        const last = spansHere[spansHere.length - 1];
        for (let cut = last.offset; cut < last.end; cut++) {
          const dir = copyOf(from);
          const file = segmentPath(dir, 1);
          if (mode === "zeroed") patchFile(file, cut, Buffer.alloc(last.end - cut));
          else fs.truncateSync(file, cut);
          const seen = await reopen(dir);
          assert.deepEqual(seen.ids, keptIds, `cut at ${cut}`);
          // Bytes of the torn record that made it to disk: up to its last non-zero byte.
          let kept = cut;
          while (kept > last.offset && data[kept - 1] === 0) kept--;
          const expected: Damage[] = kept === last.offset ? [] : [{
            kind: "torn", segment: 1, offset: last.offset, bytes: kept - last.offset,
            reason: cut - last.offset <= 4 ? "bad_type" : "bad_checksum",
          }];
          assert.deepEqual(seen.damage, expected, `cut at ${cut}`);
          // The torn bytes were zeroed on open, before any new record could follow them.
          const after = fs.readFileSync(file);
          assert.ok(after.subarray(last.offset, last.end).every((b) => b === 0), `torn bytes zeroed, cut at ${cut}`);
          // Writing after the cut: at every header offset, then a sample of body offsets.
          if (cut - last.offset < 12 || (cut - last.offset) % 8 === 0) await appendAndReopen(dir, keptIds);
        }
      });
    }
  }

  for (const mask of [0x01, 0xff]) {
    it(`a byte flipped (xor 0x${mask.toString(16)}) anywhere in a middle TXN drops exactly its jobs, reports it, keeps every later record`, async () => {
      const txn = spans[2];
      for (let i = txn.offset; i < txn.end; i++) {
        const dir = copyOf(base);
        patchFile(segmentPath(dir, 1), i, Buffer.from([baseData[i] ^ mask]));
        const seen = await reopen(dir);
        assert.deepEqual(seen.ids, ids(1, 2, 6, 7), `flip at ${i}`);
        assert.equal(seen.priorities.get(makeId(2)), 9, "the META after the damage is kept");
        let reason = "bad_checksum";
        if (i - txn.offset < 4) {
          const length = Buffer.from(baseData.subarray(txn.offset, txn.offset + 4)).fill(baseData[i] ^ mask, i - txn.offset, i - txn.offset + 1).readUInt32LE(0);
          if (txn.offset + RECORD_HEADER_BYTES + length > SEGMENT_BYTES) reason = "bad_length";
        } else if (i - txn.offset === 4) {
          reason = (baseData[i] ^ mask) > MAX_RECORD_TYPE ? "bad_type" : "bad_checksum";
        }
        const report: Damage[] = [{ kind: "corrupt", segment: 1, offset: txn.offset, bytes: txn.end - txn.offset, reason }];
        assert.deepEqual(seen.damage, report, `flip at ${i}`);
        if ((i - txn.offset) % 16 === 0) await appendAndReopen(dir, ids(1, 2, 6, 7), report);
      }
    });
  }

  it("a corrupt META is skipped: the job keeps its older state", async () => {
    const meta = spans[3];
    const dir = copyOf(base);
    patchFile(segmentPath(dir, 1), meta.end - 1, Buffer.from([baseData[meta.end - 1] ^ 0x01]));
    const seen = await reopen(dir);
    assert.deepEqual(seen.ids, ids(1, 2, 3, 4, 5, 6, 7));
    assert.equal(seen.priorities.get(makeId(2)), 0);
    assert.deepEqual(seen.damage, [{ kind: "corrupt", segment: 1, offset: meta.offset, bytes: meta.end - meta.offset, reason: "bad_checksum" }]);
  });

  it("a zeroed header of a middle record is corruption (`unused` inside the data), not the end of the log", async () => {
    const victim = spans[1];
    const dir = copyOf(base);
    patchFile(segmentPath(dir, 1), victim.offset, Buffer.alloc(RECORD_HEADER_BYTES));
    const seen = await reopen(dir);
    // Job 2's JOB record is gone, so its later META has nothing to apply to.
    assert.deepEqual(seen.ids, ids(1, 3, 4, 5, 6, 7));
    assert.deepEqual(seen.damage, [{ kind: "corrupt", segment: 1, offset: victim.offset, bytes: victim.end - victim.offset, reason: "unused" }]);
    await appendAndReopen(dir, ids(1, 3, 4, 5, 6, 7), seen.damage);
  });

  it("damage at the tail of a sealed segment is `corrupt`, never `torn`, and the next segment is kept", async () => {
    const dir = tmpDir("zizq-recover-sealed-");
    const store = await openStore({ dir, segmentBytes: SEGMENT_BYTES });
    let n = 0;
    while (segmentNumbers(dir).length < 2 || recordsOf(segmentPath(dir, 2)).length < 3) await store.insert([newJob(++n, {}, 3000)], false);
    await store.close();
    const first = recordsOf(segmentPath(dir, 1));
    const tail = first[first.length - 1];
    const inFirst = first.length;
    const all = Array.from({ length: n }, (_, i) => makeId(i + 1));
    const payloadPad = new Map(all.map((id) => [id, 3000]));
    for (const damage of ["flip", "cut"] as const) {
      const copy = copyOf(dir);
      const file = segmentPath(copy, 1);
      const data = fs.readFileSync(file);
      if (damage === "flip") patchFile(file, tail.offset + 20, Buffer.from([data[tail.offset + 20] ^ 0xff]));
      else patchFile(file, tail.offset + 50, Buffer.alloc(tail.end - tail.offset - 50));
      const s = await openStore({ dir: copy });
      try {
        assert.deepEqual(liveIds(s), all.filter((id) => id !== makeId(inFirst)), damage);
        for (const id of liveIds(s)) assert.deepEqual(s.payload(slotOf(s, id)), payloadFor(Number(id), payloadPad.get(id)));
        assert.deepEqual(s.damage, [{
          kind: "corrupt", segment: 1, offset: tail.offset,
          bytes: damage === "flip" ? tail.end - tail.offset : 50, reason: "bad_checksum",
        }]);
      } finally {
        await s.close();
      }
    }
  });

  it("a bad segment header is reported, and the records behind it still count", async () => {
    const dir = copyOf(base);
    patchFile(segmentPath(dir, 1), 0, Buffer.from("XXXX"));
    const seen = await reopen(dir);
    assert.deepEqual(seen.ids, ids(1, 2, 3, 4, 5, 6, 7));
    assert.deepEqual(seen.damage, [{ kind: "corrupt", segment: 1, offset: 0, bytes: 32, reason: "bad segment header" }]);
  });

  it("segment files missing from the middle of the log are reported, with and without a checkpoint", async () => {
    // Compaction only retires the oldest segment: a gap is files lost. Before, a scan
    // without them served the jobs they had deleted again and reported nothing.
    const dir = tmpDir("zizq-recover-gap-");
    const store = await openRealStore({ dir, segmentBytes: SEGMENT_BYTES, fs: unsyncedFs });
    let n = 0;
    while (segmentNumbers(dir).length < 4) await store.insert([newJob(++n, {}, 3000)], false);
    await store.close();
    for (const lost of [[2], [2, 3]]) {
      for (const checkpoint of [false, true]) {
        const copy = copyOf(dir);
        for (const no of lost) fs.rmSync(segmentPath(copy, no));
        if (!checkpoint) fs.rmSync(path.join(copy, "checkpoint"), { force: true });
        const s = await openRealStore({ dir: copy, segmentBytes: SEGMENT_BYTES, fs: unsyncedFs });
        try {
          const names = lost.length === 1 ? "00000002.seg" : "00000002.seg to 00000003.seg";
          assert.deepEqual(s.damage, [{
            kind: "missing", segment: 2, offset: 0, bytes: 0, reason: `${names} missing between 00000001.seg and 0000000${lost.length + 2}.seg`,
          }], `${lost} lost, checkpoint ${checkpoint}`);
          assert.equal(s.recovery.from, "scan", "a checkpoint is not used over lost log");
        } finally {
          await s.close();
        }
      }
    }
  });

  it("leaves no spare files or lock behind after close", () => {
    assert.deepEqual(fs.readdirSync(path.join(base, "segments")), ["00000001.seg"]);
    assert.equal(fs.existsSync(path.join(base, "zizq.lock")), false);
  });
});
