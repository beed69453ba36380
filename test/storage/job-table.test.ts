// The job table's own bookkeeping (lib/storage/job-table.ts): the id-order array stays
// sorted when ids arrive late, freed slots are not reused while the order array lists
// them, and live-record bytes follow adds, moves, frees and revives.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { JobMeta } from "../../lib/storage/codec.ts";
import { STATUS_FREE, STATUS_READY, STATUS_SCHEDULED } from "../../lib/storage/format.ts";
import { JobTable } from "../../lib/storage/job-table.ts";
import { rebuildIndexes } from "../../lib/storage/replay.ts";
import { applyJobsChunk, encodeJobsChunk } from "../../lib/storage/checkpoint-codec.ts";
import { RECORD_HEADER_BYTES } from "../../lib/storage/format.ts";
import { prng } from "../helpers/random.ts";

const id = (n: number): string => String(n).padStart(25, "0");
const meta = (n: number): JobMeta => ({ id: id(n), status: STATUS_READY, priority: 1, attempts: 0, readyAtMs: 0, queue: "q", type: "t" });
/** A JOB record of `recordLength` bytes whose last 10 bytes are the payload (as on disk). */
const at = (recordLength: number) => ({ segment: 1, offset: 1000 - 10, length: 10, recordOffset: 1000 - recordLength, recordLength });

function live(t: JobTable): string[] {
  return [...t.orderedSlots()].filter((s) => t.status[s] !== STATUS_FREE).map((s) => t.idOf(s));
}

describe("job table", () => {
  it("a take from every queue (the heap of queue heads) picks what a scan of every queue picks", () => {
    const random = prng(42);
    const t = new JobTable();
    t.indexing = true;
    const live: number[] = [];
    let n = 0;
    for (let step = 0; step < 5000; step++) {
      const r = random();
      if (r < 0.5 || live.length === 0) {
        // Out-of-order ids too: a job can become a queue's head by id, not only by priority.
        const slot = t.add({ ...meta(n++ * 7919 % 100_003), queue: `q${Math.floor(random() * 40)}`, priority: Math.floor(random() * 4) }, at(50));
        t.index(slot);
        live.push(slot);
      } else if (r < 0.8) {
        const i = Math.floor(random() * live.length);
        t.free(live[i]);
        live.splice(i, 1);
      } else {
        const slot = live[Math.floor(random() * live.length)];
        t.unindex(slot);
        t.priority[slot] = Math.floor(random() * 4);
        t.index(slot);
      }
      const everyQueue = [...t.readyQueues];
      assert.equal(t.peekReady(), t.peekReady(everyQueue), `step ${step}`);
    }
  });

  it("a queue's ready index goes with its last job (a queue per tenant keeps no index per name)", () => {
    const t = new JobTable();
    t.indexing = true;
    const a = t.add({ ...meta(1), queue: "tenant-1" }, at(50));
    t.index(a);
    const b = t.add({ ...meta(2), queue: "tenant-1" }, at(50));
    t.index(b);
    const q = t.queue[a];
    assert.ok(t.ready[q]);
    t.free(a);
    assert.ok(t.ready[q], "kept while the queue still holds a job");
    t.free(b);
    assert.equal(t.ready[q], undefined);
    // The index is reused by the next name and gets a fresh ready index.
    const c = t.add({ ...meta(3), queue: "tenant-2" }, at(50));
    t.index(c);
    assert.equal(t.queue[c], q);
    assert.equal(t.peekReady(), c);
  });

  it("keeps id order when ids arrive out of order (no sort needed later)", () => {
    const t = new JobTable();
    t.indexing = true;
    for (const n of [1, 2, 5, 3, 9, 4, 0, 8]) t.index(t.add(meta(n), at(50)));
    assert.deepEqual(live(t), [0, 1, 2, 3, 4, 5, 8, 9].map(id));
  });

  it("tracks live record bytes through add, move, free and revive", () => {
    const t = new JobTable();
    t.indexing = true;
    const a = t.add(meta(1), at(100));
    t.index(a);
    const b = t.add(meta(2), at(40));
    t.index(b);
    assert.equal(t.liveRecordBytes, 140);
    t.setLocation(a, at(70));
    assert.equal(t.liveRecordBytes, 110);
    const snap = t.hold([b]);
    assert.equal(t.liveRecordBytes, 70);
    assert.equal(t.slotById.get(id(2)), undefined);
    t.revive([b], snap);
    assert.equal(t.liveRecordBytes, 110);
    assert.equal(t.slotById.get(id(2)), b);
    assert.equal(t.peekReady(), a);
  });

  it("revives a held chunk as it was: statuses, extras, names and counts", () => {
    const t = new JobTable();
    t.indexing = true;
    const slots = [1, 2, 3].map((n) => t.add({ ...meta(n), queue: `q${n}`, status: n === 2 ? STATUS_SCHEDULED : STATUS_READY, readyAtMs: n === 2 ? 9e12 : 0 }, at(50)));
    for (const s of slots) t.index(s);
    t.extras.set(slots[2], { failedAtMs: 7 });
    const before = { counts: [...t.statusCounts], size: t.size, queues: t.queues.sorted() };
    const held = t.hold(slots);
    assert.equal(t.size, 0);
    assert.equal(t.extras.get(slots[2]), undefined);
    // Names stay interned while held: a new job cannot take a held slot's name index.
    assert.deepEqual(t.queues.sorted(), before.queues);
    t.revive(slots, held);
    assert.deepEqual([...t.statusCounts], before.counts);
    assert.equal(t.size, before.size);
    assert.deepEqual(slots.map((s) => t.status[s]), [STATUS_READY, STATUS_SCHEDULED, STATUS_READY]);
    assert.deepEqual(t.extras.get(slots[2]), { failedAtMs: 7 });
    assert.deepEqual(slots.map((s) => t.queues.name(t.queue[s])), ["q1", "q2", "q3"]);
    // Held again and released: the names go with the last job that used them.
    t.hold(slots);
    t.release(slots);
    assert.deepEqual(t.queues.sorted(), []);
  });

  it("a held slot survives an order compaction and is listed again when revived", () => {
    const t = new JobTable();
    t.indexing = true;
    const slots = Array.from({ length: 3000 }, (_, n) => t.add(meta(n), at(10)));
    for (const s of slots) t.index(s);
    const held = slots[1500];
    const snap = t.hold([held]);
    // Free enough others that the order array compacts (drops freed entries).
    for (const s of slots.slice(0, 1200)) t.free(s);
    t.orderedSlots();
    t.revive([held], snap);
    const ids = live(t);
    assert.ok(ids.includes(id(1500)));
    assert.deepEqual(ids, [...ids].sort());
    // The held slot was never handed to a new job.
    for (let n = 5000; n < 7000; n++) assert.notEqual(t.add(meta(n), at(10)), held);
  });

  it("hands out freed slots before fresh ones; slotLimit bounds every live slot; a reservation is contiguous", () => {
    const t = new JobTable();
    t.indexing = true;
    const slots = Array.from({ length: 3000 }, (_, n) => t.add(meta(n), at(50)));
    slots.forEach((s) => t.index(s));
    assert.deepEqual(slots.slice(0, 3), [0, 1, 2], "fresh slots in ascending order");
    assert.equal(t.slotLimit, 3000);
    for (let n = 0; n < 2000; n++) t.free(slots[n]);
    // Freed slots wait for the order array to drop them, then are reused before any fresh one.
    for (let n = 3000; n < 6000; n++) t.index(t.add(meta(n), at(50)));
    assert.ok(t.slotLimit < 6000, `reused freed slots (slotLimit ${t.slotLimit})`);
    let seen = 0;
    t.forEachLive((s) => { assert.ok(s < t.slotLimit); seen++; });
    assert.equal(seen, 4000);
    assert.equal(live(t).length, 4000);
    // reserveSlots is for a table that never freed a slot (a checkpoint load).
    assert.equal(t.reserveSlots(10), -1);
    const fresh = new JobTable();
    assert.equal(fresh.reserveSlots(5000), 0);
    assert.equal(fresh.slotLimit, 5000);
    assert.ok(fresh.capacity >= 5000);
  });

  it("rebuilding the indexes after replay counts live jobs only, while freed slots are still in the id order", () => {
    // Replay (indexing off) frees the slots of deleted jobs; the order array lists them
    // until a third of it is dead. Indexing such a slot bumped queueStatusCounts at
    // queue * 5 + 255, i.e. the scheduled count of queue index queue + 51.
    const t = new JobTable();
    const slots = Array.from({ length: 120 }, (_, n) => t.add({ ...meta(n), queue: `q${n % 60}` }, at(50)));
    t.free(slots[0]);
    t.free(slots[1]);
    rebuildIndexes(t, 0);
    assert.equal(t.size, 118);
    assert.equal(t.statusCounts.reduce((a, b) => a + b, 0), 118);
    assert.equal(t.queueStatusCounts.reduce((a, b) => a + b, 0), 118, "per-queue counts add up to the live jobs");
    assert.equal(t.queueStatusCounts[51 * 5 + STATUS_SCHEDULED], 0, "queue index 51 has no scheduled job");
  });

  it("indexing a replayed table in id order (rebuildIndexes) gives what index() one slot at a time gives", () => {
    // Two tables replayed alike (indexes off): random queues, priorities, statuses, late
    // ids and freed slots. One is rebuilt by rebuildIndexes, the other by index() per slot.
    const build = (): JobTable => {
      const random = prng(7);
      const t = new JobTable();
      const slots: number[] = [];
      for (let n = 0; n < 4000; n++) {
        const status = random() < 0.2 ? STATUS_SCHEDULED : STATUS_READY;
        const m = { ...meta(n % 10 === 9 ? n - 5 + 100_000 : n), status, readyAtMs: Math.floor(random() * 20) };
        slots.push(t.add({ ...m, queue: `q${Math.floor(random() * 5)}`, priority: Math.floor(random() * 3) * 300 }, at(50)));
      }
      for (let n = 0; n < 300; n++) t.free(slots[Math.floor(random() * slots.length)]);
      return t;
    };
    const a = build();
    rebuildIndexes(a, 10);
    const b = build();
    b.indexing = true;
    for (const slot of b.orderedSlots()) {
      if (b.status[slot] === STATUS_FREE) continue;
      if (b.status[slot] === STATUS_SCHEDULED && b.readyAt[slot] <= 10) b.status[slot] = STATUS_READY;
      b.index(slot);
    }
    assert.deepEqual(a.statusCounts, b.statusCounts);
    assert.deepEqual(a.queueStatusCounts, b.queueStatusCounts);
    assert.equal(a.nextDueMs(), b.nextDueMs());
    const takes = (t: JobTable, queues?: number[]): string[] => {
      const ids: string[] = [];
      for (let slot = t.peekReady(queues); slot !== -1; slot = t.peekReady(queues)) {
        ids.push(t.idOf(slot));
        t.take(slot, 0);
      }
      return ids;
    };
    const one = takes(a, [a.queues.intern("q3")]);
    assert.ok(one.length > 100);
    assert.deepEqual(one, takes(b, [b.queues.intern("q3")]));
    const all = takes(a);
    assert.ok(all.length > 2000);
    assert.deepEqual(all, takes(b));
  });

  it("a restored checkpoint chunk holds one name reference per job, with one queue or several", () => {
    for (const names of [["a"], ["a", "b", "c"]]) {
      const src = new JobTable();
      const slots = Array.from({ length: 50 }, (_, n) => {
        const queue = names[n % names.length];
        return src.add({ ...meta(n), queue, type: `t-${queue}` }, at(50));
      });
      const t = new JobTable();
      assert.ok(applyJobsChunk(t, encodeJobsChunk(src, Int32Array.from(slots)).subarray(RECORD_HEADER_BYTES)));
      t.indexRestored();
      for (const name of names) {
        const mine = [...t.orderedSlots()].filter((s) => t.status[s] !== STATUS_FREE && t.queues.name(t.queue[s]) === name);
        for (const s of mine.slice(1)) t.free(s);
        assert.notEqual(t.queues.lookup(name), undefined, `queue ${name} kept by its last job`);
        assert.notEqual(t.types.lookup(`t-${name}`), undefined, `type t-${name} kept by its last job`);
        t.free(mine[0]);
        assert.equal(t.queues.lookup(name), undefined, `queue ${name} released with its last job`);
        assert.equal(t.types.lookup(`t-${name}`), undefined);
      }
    }
  });

  it("removing a slot that was never in the scheduled heap leaves the heap as it was", () => {
    // heapPos is not filled for new slots (it reads 0): remove() must check the heap.
    const t = new JobTable();
    t.indexing = true;
    const slots = [5, 3, 9].map((due, n) => t.add({ ...meta(n), status: STATUS_SCHEDULED, readyAtMs: due }, at(50)));
    slots.forEach((s) => t.index(s));
    const outsider = t.add({ ...meta(10), status: STATUS_SCHEDULED, readyAtMs: 1 }, at(50));
    assert.equal(t.heapPos[outsider], 0);
    t.scheduled.remove(outsider);
    assert.equal(t.scheduled.size, 3);
    assert.equal(t.nextDueMs(), 3);
    assert.equal(t.promoteDue(100), 3);
  });

  it("grows by doubling up to 1M slots, then by a quarter", () => {
    const t = new JobTable();
    const caps = new Set<number>();
    for (let n = 0; n <= 1 << 20; n++) {
      t.add(meta(n), at(50));
      caps.add(t.capacity);
    }
    assert.deepEqual([...caps], [...Array.from({ length: 11 }, (_, i) => 1024 << i), (1 << 20) * 1.25]);
  });
});
