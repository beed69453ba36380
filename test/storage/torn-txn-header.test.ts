// A group write (TXN) whose 9-byte header straddles a sector boundary, torn by a power
// cut: the sector holding the header's first bytes lost, the next one (the rest of the
// header and the group's first records) kept. Found by the queue-layer power-loss
// harness (bench/reliability/power-loss-queue.ts, buffered mode): before the fix the
// scan took the gap for corruption inside one record and resumed at the first frame
// inside the group, so half a group was replayed: a nack's state (attempts 1) without
// its error record, part of a bulk enqueue, a cron firing's jobs without its schedule.
// A whole lost sector, or a header wholly inside the lost one, already ended the log
// (test/storage/power-loss.test.ts, "a TXN torn by a power cut").

import assert from "node:assert/strict";
import fs from "node:fs";
import { after, describe, it } from "node:test";
import { encodeJobRecord } from "../../lib/storage/codec.ts";
import { RECORD_JOB, RECORD_TXN, SEGMENT_HEADER_BYTES } from "../../lib/storage/format.ts";
import { openStore } from "../../lib/storage/store.ts";
import { newJob, readyMeta, recordsOf, segmentPath, slotOf } from "../helpers/storage.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";

after(cleanupTmp);

const SECTOR = 512;

describe("a TXN header that straddles a sector boundary, torn by a power cut", () => {
  // k: the header's bytes in the lost sector (1..8; 9 is the old test's case).
  for (const k of [1, 4, 5, 8]) {
    it(`is not replayed in part when its first ${k} bytes were lost (checkpoint: ${k % 2 === 0})`, async () => {
      const dir = tmpDir("zizq-torn-txn-");
      const options = { dir, segmentBytes: 64 * 1024, syncDirs: true, checkpoint: k % 2 === 0 };
      // Job 1's JOB record sized so the fail's TXN starts k bytes before a sector boundary.
      const base = encodeJobRecord(RECORD_JOB, readyMeta(1), Buffer.from(JSON.stringify({ n: 1, pad: "" }))).length;
      const job = newJob(1, {}, 2 * SECTOR - k - SEGMENT_HEADER_BYTES - base);
      const store = await openStore(options);
      await store.insert([job], true);
      const meta = { ...readyMeta(1), attempts: 1 };
      await store.fail(slotOf(store, meta.id), meta, 1, { message: "boom", pad: "e".repeat(1500) }, true);
      await store.close();
      fs.rmSync(`${dir}/checkpoint`, { force: true }); // the cut came before any checkpoint
      const file = segmentPath(dir, 1);
      const txn = recordsOf(file)[1];
      assert.equal(txn.type, RECORD_TXN);
      assert.equal(txn.offset, 2 * SECTOR - k, "the header straddles the boundary");
      const bytes = fs.readFileSync(file);
      bytes.fill(0, txn.offset, 2 * SECTOR); // the fail's part of the header's first sector was lost
      bytes.fill(0, Math.floor((txn.end - 1) / SECTOR) * SECTOR, txn.end); // and the error record's last sector
      fs.writeFileSync(file, bytes);
      const reopened = await openStore(options);
      try {
        const slot = slotOf(reopened, meta.id);
        assert.equal(reopened.table.attempts[slot], 0, "the fail is gone whole, not its state without its error record");
        assert.deepEqual(reopened.errors(slot), []);
        assert.equal(reopened.damage[0]?.kind, "torn");
        assert.equal(reopened.damage[0]?.offset, txn.offset);
      } finally {
        await reopened.close();
      }
    });
  }
});
