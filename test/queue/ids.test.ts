// Job ids (lib/queue/ids.ts): SCRU128 text that scru128 itself reads back unchanged,
// strictly increasing within a millisecond, across a clock that steps back, and past the
// largest id already on disk.

import assert from "node:assert/strict";
import { it } from "node:test";
import { Scru128Id } from "scru128";
import { IdGenerator, isJobId } from "../../lib/queue/ids.ts";
import { parseId } from "../../lib/storage/id-index.ts";

it("ids are SCRU128 text as scru128 writes it, and strictly increase within one millisecond", () => {
  const ids = new IdGenerator();
  let last = "";
  const words = new Uint32Array(12);
  const parsed = new Uint32Array(4);
  for (let i = 0; i < 20_000; i++) {
    const at = 4 * (i % 3);
    const id = ids.next(1_765_000_000_000, words, at);
    assert.ok(isJobId(id), id);
    // The words handed to the job table are the text's (JobTable.add keeps them unparsed).
    assert.ok(parseId(id, parsed, 0));
    assert.deepEqual([...words.subarray(at, at + 4)], [...parsed], id);
    assert.equal(Scru128Id.fromString(id).toString(), id);
    assert.ok(id > last, `${id} after ${last}`);
    last = id;
  }
  assert.equal(Scru128Id.fromString(last).timestamp, 1_765_000_000_000);
});

it("a clock that steps back, and a larger id already on disk, never give a smaller id", () => {
  const onDisk = String(new IdGenerator().next(1_900_000_000_000)); // an id from the future
  const ids = new IdGenerator(onDisk);
  let last = onDisk;
  for (const now of [1_765_000_000_000, 1_900_000_000_000, 1_899_999_999_000, 1_900_000_000_001]) {
    const id = ids.next(now);
    assert.ok(id > last, `${id} after ${last} (clock ${now})`);
    last = id;
  }
});
