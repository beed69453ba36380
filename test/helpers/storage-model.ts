// A plain in-memory reference for the storage model test (test/storage/model.test.ts):
// a Map of jobs with their meta, payload and error records, and a check that a Store
// agrees with it on every job, every count, and the take order.

import assert from "node:assert/strict";
import type { JobMeta } from "../../lib/storage/codec.ts";
import { STATUS_IN_FLIGHT, STATUS_READY } from "../../lib/storage/format.ts";
import type { Store } from "../../lib/storage/store.ts";
import { idAt, liveIds } from "./storage.ts";

export interface ModelJob {
  meta: JobMeta;
  payload: Buffer;
  errors: Map<number, unknown>;
  /**
   * dequeued_at values the disk may hold for this job. Taking a job writes nothing, but a
   * compaction that copies an in-flight job writes its in-memory state, take time
   * included. A write by the test resets this to the written value.
   */
  dequeuedOnDisk: Set<number | undefined>;
}

export class Model {
  readonly jobs = new Map<string, ModelJob>();
  readonly blobs = new Map<string, Buffer>();

  add(meta: JobMeta, payload: Buffer): void {
    this.jobs.set(meta.id, { meta, payload, errors: new Map(), dequeuedOnDisk: new Set([meta.dequeuedAtMs]) });
  }

  /** A state the store has written for this job. */
  persist(meta: JobMeta): void {
    const job = this.jobs.get(meta.id)!;
    job.meta = meta;
    job.dequeuedOnDisk = new Set([meta.dequeuedAtMs]);
  }

  take(id: string, nowMs: number): void {
    const job = this.jobs.get(id)!;
    job.meta = { ...job.meta, status: STATUS_IN_FLIGHT, dequeuedAtMs: nowMs };
    job.dequeuedOnDisk.add(nowMs);
  }

  withStatus(...statuses: number[]): ModelJob[] {
    return [...this.jobs.values()].filter((j) => statuses.includes(j.meta.status));
  }

  /** Ready ids in take order, optionally limited to some queues. */
  takeOrder(queues?: readonly string[]): string[] {
    return this.withStatus(STATUS_READY)
      .filter((j) => !queues || queues.includes(j.meta.queue))
      .sort((a, b) => a.meta.priority - b.meta.priority || (a.meta.id < b.meta.id ? -1 : 1))
      .map((j) => j.meta.id);
  }

  promoteDue(nowMs: number): void {
    for (const job of this.withStatus(0)) if (job.meta.readyAtMs <= nowMs) job.meta = { ...job.meta, status: STATUS_READY };
  }

  /** What a restart does: in-flight jobs are ready again, due scheduled jobs promoted. */
  restart(store: Store, nowMs: number, context: string): void {
    for (const job of this.jobs.values()) {
      const slot = store.table.slotById.get(job.meta.id);
      if (job.meta.status === STATUS_IN_FLIGHT) job.meta = { ...job.meta, status: STATUS_READY };
      if (slot === undefined) continue; // verify() reports it
      const onDisk = store.table.meta(slot).dequeuedAtMs;
      assert.ok(job.dequeuedOnDisk.has(onDisk), `${context}: job ${job.meta.id} came back with dequeued_at ${onDisk}, expected one of ${[...job.dequeuedOnDisk]}`);
      job.meta = withDequeued(job.meta, onDisk);
      job.dequeuedOnDisk = new Set([onDisk]);
    }
    this.promoteDue(nowMs);
  }
}

export function withDequeued(meta: JobMeta, at: number | undefined): JobMeta {
  const { dequeuedAtMs: _, ...rest } = meta;
  return at === undefined ? rest : { ...rest, dequeuedAtMs: at };
}

/** Queue name indexes for a take over some queues (names no job uses are skipped). */
export function queueIndexes(store: Store, names: readonly string[]): number[] {
  return names.map((n) => store.table.queues.lookup(n)).filter((i): i is number => i !== undefined);
}

/** Every job, every count, every blob, and each queue's take order agree. */
export function verify(store: Store, model: Model, context: string): void {
  const t = store.table;
  assert.deepEqual(liveIds(store), [...model.jobs.keys()].sort(), `${context}: job ids`);
  assert.equal(t.size, model.jobs.size, `${context}: table size`);
  for (const job of model.jobs.values()) {
    const slot = t.slotById.get(job.meta.id)!;
    assert.deepEqual(t.meta(slot), job.meta, `${context}: meta of ${job.meta.id}`);
    assert.deepEqual(store.payload(slot), job.payload, `${context}: payload of ${job.meta.id}`);
    const errors = [...job.errors].sort(([a], [b]) => a - b).map(([, record]) => record);
    assert.deepEqual(store.errors(slot), errors, `${context}: errors of ${job.meta.id}`);
  }
  const counts = [0, 0, 0, 0, 0];
  for (const job of model.jobs.values()) counts[job.meta.status]++;
  assert.deepEqual([...t.statusCounts], counts, `${context}: status counts`);
  const names = [...new Set([...model.jobs.values()].map((j) => j.meta.queue))];
  assert.deepEqual(t.queues.sorted(), [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))), `${context}: queue names`);
  for (const name of names) {
    const index = t.ready[t.queues.lookup(name)!];
    const order = index ? [...index.inOrder()].map((s) => idAt(store, s)) : [];
    assert.deepEqual(order, model.takeOrder([name]), `${context}: take order of queue ${name}`);
  }
  assert.deepEqual(store.blobsIn(1), model.blobs, `${context}: blobs`);
  // Live jobs per segment (compaction's count) equal a count of the slots.
  const bySegment = new Map<number, number>();
  t.forEachLive((s) => bySegment.set(t.paySeg[s], (bySegment.get(t.paySeg[s]) ?? 0) + 1));
  for (const no of new Set([...bySegment.keys(), ...store.segments.numbers()])) {
    assert.equal(t.liveIn(no), bySegment.get(no) ?? 0, `${context}: live jobs in segment ${no}`);
  }
}

/** Take every ready job, lowest (priority, id) first across all queues, as a worker would. */
export function drain(store: Store, model: Model, nowMs: number, context: string): void {
  const expected = model.takeOrder();
  const taken: string[] = [];
  for (let slot = store.table.peekReady(); slot !== -1; slot = store.table.peekReady()) {
    const id = idAt(store, slot);
    store.table.take(slot, nowMs);
    model.take(id, nowMs);
    taken.push(id);
  }
  assert.deepEqual(taken, expected, `${context}: drain order`);
}
