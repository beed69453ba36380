// Segments grow with the data (format 2): an empty store or a small one takes a few MiB,
// segments get bigger as live data grows (up to segment_bytes), a record bigger than the
// next spare gets a segment it fits in, and after compaction disk stays within twice the
// live data plus 16 MiB. Old dirs are read; unknown formats are refused by name.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { diskBytes, liveBytes } from "../../lib/storage/compaction.ts";
import { StorageError } from "../../lib/storage/errors.ts";
import { openStore } from "../../lib/storage/store.ts";
import { liveIds, makeId, newJob, slotOf } from "../helpers/storage.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";

after(() => cleanupTmp());

const MIB = 1024 * 1024;

/** Bytes of every file under `dir` (what `du --apparent-size` would say). */
function dirBytes(dir: string): number {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += fs.statSync(path.join(entry.parentPath, entry.name)).size;
  }
  return total;
}

/** Wait until no spare is being made (spares start in the background). */
async function settled(store: Awaited<ReturnType<typeof openStore>>): Promise<void> {
  await store.flush();
  // A run started at an earlier seal may end before the bound holds; the next seal
  // would start another, here we start it (and a checkpoint, which counts too).
  for (let i = 0; i < 5; i++) {
    await store.segments.idle();
    await store.scheduleCompaction();
    await store.checkpoint();
  }
  await store.segments.idle();
  await store.checkpoint();
}

describe("segment sizes", () => {
  it("an empty store and one with a few hundred jobs take at most 16 MiB (default segment_bytes)", async () => {
    const dir = tmpDir("zizq-segsize-");
    const store = await openStore({ dir });
    try {
      await settled(store);
      assert.ok(dirBytes(dir) <= 16 * MIB, `empty: ${dirBytes(dir)} bytes`);
      for (let b = 0; b < 4; b++) {
        await store.insert(Array.from({ length: 100 }, (_, i) => newJob(b * 100 + i + 1, {}, 200)), false);
      }
      await settled(store);
      assert.ok(dirBytes(dir) <= 16 * MIB, `400 jobs: ${dirBytes(dir)} bytes`);
    } finally {
      await store.close();
    }
    assert.ok(dirBytes(dir) <= 16 * MIB);
  });

  it("segments grow with the live data, and disk stays within 2x live + 16 MiB after compaction", { timeout: 120_000 }, async () => {
    const dir = tmpDir("zizq-segsize-");
    const store = await openStore({ dir });
    try {
      let n = 0;
      // ~40 MiB of live jobs: segments grow past the 2 MiB start.
      while (liveBytes(store) < 40 * MIB) {
        await store.insert(Array.from({ length: 200 }, () => newJob(++n, {}, 2000)), false);
      }
      const sizes = store.segments.numbers().map((no) => store.segments.get(no)!.bytes);
      assert.equal(sizes[0], 2 * MIB);
      assert.ok(Math.max(...sizes) >= 4 * MIB, `sizes ${sizes}`);
      assert.ok(sizes.every((s) => s <= 64 * MIB && (s & (s - 1)) === 0), `sizes ${sizes}`);
      // Delete three jobs in four; what compaction leaves is within the bound.
      const gone = [...store.table.slotById.values()].filter((s) => store.table.idw[s * 4 + 3] % 4 !== 0);
      await store.remove(gone, false);
      for (let i = 0; i < 2000; i++) await store.insert([newJob(++n, {}, 2000)], false);
      await settled(store);
      const live = liveBytes(store);
      assert.ok(diskBytes(store) <= 2 * live + 16 * MIB, `disk ${diskBytes(store)} > 2 x ${live} + 16 MiB`);
      assert.ok(dirBytes(dir) <= 2 * live + 16 * MIB + 4096, `dir ${dirBytes(dir)} > 2 x ${live} + 16 MiB: ${JSON.stringify(fs.readdirSync(dir, { recursive: true }).map((f) => [f, fs.statSync(path.join(dir, String(f))).size]))} disk ${diskBytes(store)}`);
    } finally {
      await store.close();
    }
  });

  it("a record bigger than the next spare gets a segment it fits in, and reads back after a reopen", { timeout: 60_000 }, async () => {
    const dir = tmpDir("zizq-segsize-");
    const store = await openStore({ dir });
    await store.insert([newJob(1)], false);
    await store.insert([newJob(2, {}, 3 * MIB)], false);
    await store.insert([newJob(3)], false);
    const big = store.segments.get(store.table.paySeg[slotOf(store, makeId(2))])!;
    assert.ok(big.bytes >= 4 * MIB, `segment of ${big.bytes}`);
    await store.close();
    const again = await openStore({ dir });
    try {
      assert.deepEqual(again.damage, []);
      assert.deepEqual(liveIds(again), [makeId(1), makeId(2), makeId(3)]);
      assert.equal(JSON.parse(again.payload(slotOf(again, makeId(2))).toString()).pad.length, 3 * MIB);
    } finally {
      await again.close();
    }
  });

  it("a format-1 dir is marked format 2 on open; an unknown format is refused, naming it", async () => {
    const dir = tmpDir("zizq-segsize-");
    fs.cpSync(path.join(import.meta.dirname, "../../fixtures/format1-dir"), dir, { recursive: true });
    const store = await openStore({ dir });
    await store.close();
    assert.equal(JSON.parse(fs.readFileSync(path.join(dir, "meta.json"), "utf8")).format, 2);
    fs.writeFileSync(path.join(dir, "meta.json"), JSON.stringify({ format: 3, segment_bytes: 65536, created_at: 0 }));
    await assert.rejects(openStore({ dir }), (err) => err instanceof StorageError && /unsupported format 3/.test(err.message));
  });
});
