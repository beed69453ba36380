// Cron firing and crashes (API.md §4.5: one job per due check): the job a firing enqueues
// and its group's advanced schedule are written in one transaction. Written apart, a
// kill -9 between the two left the old schedule on disk and the restart fired the same
// occurrence again (a crash test found 2 jobs for one tick, in 18 of 20 kills).

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, afterEach, describe, it } from "node:test";
import { ManualClock } from "../../lib/queue/clock.ts";
import { enqueue } from "../../lib/queue/enqueue.ts";
import { guarded, isStorageRefusal } from "../../lib/queue/errors.ts";
import { StorageError } from "../../lib/storage/errors.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";
import { T0, rig } from "./_budget-rig.ts";

after(() => cleanupTmp());

/** The data dir as a kill -9 would leave it now: buffered writes are in the files already. */
function crashCopy(dir: string): string {
  const copy = tmpDir();
  fs.cpSync(dir, copy, { recursive: true });
  fs.rmSync(path.join(copy, "zizq.lock"), { force: true }); // its owner (this process) lives on
  return copy;
}

type Rig = Awaited<ReturnType<typeof rig>>;
const opened: Rig[] = [];
afterEach(async () => {
  for (const r of opened.splice(0).reverse()) await r.close().catch(() => {});
});

/** A queue on a fresh dir, on a manual clock, with cron group `name` installed. */
async function withGroup(name: string, entries: unknown[]): Promise<{ clock: ManualClock; dir: string; r: Rig }> {
  const clock = new ManualClock(T0);
  const dir = tmpDir();
  const r = await rig(dir, clock);
  opened.push(r);
  await r.queue.crons.putGroup(name, { entries });
  return { clock, dir, r };
}

/** The queue a restart after a kill -9 now would open. */
async function restarted(dir: string, clock: ManualClock): Promise<Rig> {
  const again = await rig(crashCopy(dir), clock);
  opened.push(again);
  return again;
}

describe("cron firing across a crash", () => {
  it("a crash after the firing's write, before anything else is saved, does not fire the occurrence again", async () => {
    const { clock, dir, r } = await withGroup("g", [
      { name: "e1", expression: "* * * * * *", job: { type: "t", queue: "cq", payload: 1 } },
      { name: "e2", expression: "* * * * * *", job: { type: "t", queue: "cq", payload: 2 } },
    ]);
    clock.advance(1000); // both entries due
    // The group's own save after the firings is where the process now "dies".
    r.store.putBlob = () => Promise.reject(new Error("killed before the group was saved"));
    await r.queue.cronScheduler.tick();
    assert.equal(r.store.table.size, 2, "both entries fired once");

    const again = await restarted(dir, clock);
    assert.equal(await again.queue.cronScheduler.tick(), 0, "nothing is due again");
    assert.equal(again.store.table.size, 2, "one job per entry for the tick");
    for (const e of again.queue.crons.getGroup("g").entries) {
      assert.equal(e.last_enqueue_at, T0 + 1000, e.name);
      assert.equal(e.next_enqueue_at, T0 + 2000, e.name);
    }
    clock.advance(1000);
    assert.equal(await again.queue.cronScheduler.tick(), 2, "the next tick fires as usual");
  });

  it("entries due together are one write; if it fails, each fires alone: the good ones go, the bad one is reported", async () => {
    const { clock, r } = await withGroup("m", ["a", "bad", "c"].map((name) => (
      { name, expression: "* * * * * *", job: { type: "t", queue: name, payload: 1 } })));
    clock.advance(1000);
    const calls: string[][] = [];
    const errors: unknown[] = [];
    // The real enqueue, except that a write holding the "bad" job fails before anything is written.
    const fired = await r.queue.crons.fireDue(async (inputs, nowMs, alsoWrite) => {
      calls.push(inputs.map((i) => i.queue));
      if (inputs.some((i) => i.queue === "bad")) throw new Error("a fold failed");
      return enqueue(r.queue.ctx, inputs, nowMs, [alsoWrite]);
    }, (err) => errors.push(err));
    assert.equal(fired, 2);
    assert.deepEqual(calls, [["a", "bad", "c"], ["a"], ["bad"], ["c"]]);
    assert.equal(errors.length, 1);
    assert.equal(r.store.table.size, 2);
    for (const e of r.queue.crons.getGroup("m").entries) {
      assert.equal(e.next_enqueue_at, T0 + 2000, e.name);
      assert.equal(e.last_enqueue_at, e.name === "bad" ? undefined : T0 + 1000, e.name);
    }
  });

  it("a tick's firing is one write: the group it carries is not written again after it", async () => {
    const { clock, r } = await withGroup("w", ["a", "b"].map((name) => (
      { name, expression: "* * * * * *", job: { type: "t", queue: name, payload: 1 } })));
    let groupWrites = 0;
    const putBlob = r.store.putBlob.bind(r.store);
    r.store.putBlob = (...args) => {
      groupWrites++;
      return putBlob(...args);
    };
    clock.advance(1000);
    assert.equal(await r.queue.cronScheduler.tick(), 2);
    assert.equal(groupWrites, 0, "the firing's own write held the group");
    for (const e of r.queue.crons.getGroup("w").entries) assert.equal(e.last_enqueue_at, T0 + 1000, e.name);
  });

  it("a full disk refuses a tick once: no entry is tried alone, and the schedule stays due", async () => {
    const names = Array.from({ length: 20 }, (_, i) => `e${i}`);
    const { clock, r } = await withGroup("full", names.map((name) => (
      { name, expression: "* * * * * *", job: { type: "t", queue: "fq", payload: 1 } })));
    clock.advance(1000);
    let attempts = 0;
    const errors: unknown[] = [];
    const refused = await r.queue.crons.fireDue(() => {
      attempts++;
      return guarded(Promise.reject(new StorageError("full", "no space left on device")));
    }, (err) => errors.push(err)).then(() => undefined, (err: unknown) => err);
    assert.ok(isStorageRefusal(refused), `fireDue rejects with the refusal (got ${String(refused)})`);
    assert.equal(attempts, 1, "one write tried, not one per entry");
    assert.equal(errors.length, 0, "reported once, by the caller");
    for (const e of r.queue.crons.getGroup("full").entries) assert.equal(e.next_enqueue_at, T0 + 1000, `${e.name} still due`);
    assert.equal(await r.queue.cronScheduler.tick(), 20, "once the disk has room, the next tick fires them");
  });

  it("a firing whose job is a duplicate (its unique key is held) still writes the advanced schedule", async () => {
    const { clock, dir, r } = await withGroup("u", [
      { name: "e", expression: "* * * * * *", job: { type: "t", queue: "uq", payload: 1, unique_key: "only-one" } },
    ]);
    clock.advance(1000);
    await r.queue.cronScheduler.tick(); // enqueues the job, which holds the key
    clock.advance(1000);
    r.store.putBlob = () => Promise.reject(new Error("killed before the group was saved"));
    await r.queue.cronScheduler.tick(); // a duplicate: no job is written, the schedule is
    const again = await restarted(dir, clock);
    assert.equal(again.queue.crons.getGroup("u").entries[0].next_enqueue_at, T0 + 3000);
    assert.equal(await again.queue.cronScheduler.tick(), 0);
    assert.equal(again.store.table.size, 1);
  });
});
