// Randomized model test: a long seeded sequence of enqueue, take, ack, fail, patch, delete,
// rewrite, blob writes, compaction and reopen, run against the store and against a plain
// in-memory model (test/helpers/storage-model.ts). Small segments make rolling and
// compaction frequent. Replay a failure with ZIZQ_SEED=<seed> (and ZIZQ_STEPS=<n>);
// ZIZQ_TRACE=1 prints every operation to stderr.

import assert from "node:assert/strict";
import { after, it } from "node:test";
import type { JobMeta } from "../../lib/storage/codec.ts";
import { STATUS_COMPLETED, STATUS_DEAD, STATUS_IN_FLIGHT, STATUS_READY, STATUS_SCHEDULED } from "../../lib/storage/format.ts";
import { nodeFs } from "../../lib/storage/fs-port.ts";
import { type NewJob, type Store, openStore } from "../../lib/storage/store.ts";
import { Model, drain, queueIndexes, verify } from "../helpers/storage-model.ts";
import { T0, idAt, makeId, prng } from "../helpers/storage.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";

after(cleanupTmp);

const SEED = Number(process.env.ZIZQ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const STEPS = Number(process.env.ZIZQ_STEPS ?? 3000);
const SEGMENT_BYTES = 64 * 1024;
const QUEUES = ["alpha", "beta", "gamma", "köln-🚀"];
const PRIORITIES = [0, 1, 31, 32, 1023, 1024, 32768, 65535];
// This test checks what the store says, not what survives power loss (the crash and fault
// tests do): fdatasync is a no-op here, so compaction's synced slices cost no disk flushes.
const unsyncedFs = { ...nodeFs, fdatasync: async () => {} };

it(`store agrees with the reference model (seed ${SEED}, ${STEPS} steps)`, async (t) => {
  t.diagnostic(`seed ${SEED}: replay with ZIZQ_SEED=${SEED}`);
  console.log(`# storage model seed ${SEED}`);
  const random = prng(SEED);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const chance = (p: number): boolean => random() < p;
  const dir = tmpDir("zizq-model-");
  let now = T0;
  let nextId = 1;
  let step = 0;
  const model = new Model();
  const backgroundErrors: unknown[] = [];
  const open = async (): Promise<Store> => {
    const s = await openStore({ dir, segmentBytes: SEGMENT_BYTES, cacheBytes: 256 * 1024, now: () => now, fs: unsyncedFs });
    s.onBackgroundError = (err) => backgroundErrors.push(err);
    return s;
  };
  let store = await open();
  const ctx = (what: string) => `seed ${SEED} step ${step} (${what})`;
  const slot = (id: string): number => store.table.slotById.get(id)!;
  const sync = () => chance(0.05);
  const trace = (...what: unknown[]) => { if (process.env.ZIZQ_TRACE) console.error(step, ...what); };

  function freshJob(): NewJob {
    const n = nextId++;
    const scheduled = chance(0.2);
    const meta: JobMeta = {
      id: makeId(n), status: scheduled ? STATUS_SCHEDULED : STATUS_READY, priority: chance(0.7) ? pick(PRIORITIES) : Math.floor(random() * 65536),
      attempts: 0, readyAtMs: scheduled ? now + 1 + Math.floor(random() * 5000) : now, queue: pick(QUEUES), type: pick(["email", "sms"]),
    };
    if (chance(0.2)) meta.options = { retry_limit: Math.floor(random() * 10), backoff: { exponent: 2, base_ms: 100, jitter_ms: 0 }, unique_key: `k${n}` };
    const size = chance(0.05) ? 2000 + Math.floor(random() * 4000) : Math.floor(random() * 300);
    return { meta, payload: Buffer.from(JSON.stringify({ n, pad: "é".repeat(size) })) };
  }

  // Each op returns the store call's promise (so a burst can run several at once) and
  // updates the model as that call's success would.
  const ops = {
    insert(): Promise<unknown> {
      // One insert is one record: keep it well inside a 64 KiB segment.
      const jobs: NewJob[] = [];
      let bytes = 0;
      for (let n = chance(0.1) ? 20 + Math.floor(random() * 40) : 1 + Math.floor(random() * 5); n > 0 && bytes < 24 * 1024; n--) {
        jobs.push(freshJob());
        bytes += jobs[jobs.length - 1].payload.length + 128;
      }
      for (const j of jobs) model.add(j.meta, j.payload);
      trace("insert", jobs.map((j) => Number(j.meta.id)));
      return store.insert(jobs, sync());
    },
    ack(id: string): Promise<unknown> {
      trace("ack", Number(id));
      if (chance(0.5)) {
        model.jobs.delete(id);
        return store.remove([slot(id)], sync());
      }
      const meta: JobMeta = { ...model.jobs.get(id)!.meta, status: STATUS_COMPLETED, completedAtMs: now, ...(chance(0.5) ? { purgeAtMs: now + 60_000 } : {}) };
      model.persist(meta);
      return store.update([slot(id)], [meta], sync());
    },
    fail(id: string): Promise<unknown> {
      trace("fail", Number(id));
      const job = model.jobs.get(id)!;
      const outcome = random();
      const attempts = job.meta.attempts + 1;
      const meta: JobMeta = {
        ...job.meta, attempts, failedAtMs: now,
        status: outcome < 0.4 ? STATUS_READY : outcome < 0.8 ? STATUS_SCHEDULED : STATUS_DEAD,
        readyAtMs: outcome >= 0.4 && outcome < 0.8 ? now + 1 + Math.floor(random() * 3000) : job.meta.readyAtMs,
      };
      const record = { message: `boom ${id} #${attempts}`, attempt: attempts, at: now, backtrace: ["a.ts:1", "b.ts:2"] };
      model.persist(meta);
      job.errors.set(attempts, record);
      return store.fail(slot(id), meta, attempts, record, sync());
    },
    patch(ids: string[]): Promise<unknown> {
      trace("patch", ids.map(Number));
      const metas = ids.map((id) => {
        const m = model.jobs.get(id)!.meta;
        const readyAtMs = chance(0.3) ? now + Math.floor(random() * 4000) - 1000 : m.readyAtMs;
        const meta: JobMeta = {
          ...m, readyAtMs, status: readyAtMs > now ? STATUS_SCHEDULED : STATUS_READY,
          priority: chance(0.6) ? pick(PRIORITIES) : m.priority, queue: chance(0.3) ? pick(QUEUES) : m.queue,
        };
        model.persist(meta);
        return meta;
      });
      return store.update(ids.map(slot), metas, sync());
    },
    remove(ids: string[]): Promise<unknown> {
      trace("remove", ids.map(Number));
      for (const id of ids) model.jobs.delete(id);
      return store.remove(ids.map(slot), sync());
    },
    rewrite(id: string): Promise<unknown> {
      trace("rewrite", Number(id));
      const job = model.jobs.get(id)!;
      const payload = Buffer.from(JSON.stringify({ rewritten: step, items: Array.from({ length: Math.floor(random() * 20) }, (_, i) => i) }));
      const meta: JobMeta = { ...job.meta, priority: chance(0.5) ? pick(PRIORITIES) : job.meta.priority };
      model.persist(meta);
      job.payload = payload;
      return store.rewrite(slot(id), meta, payload, sync());
    },
  };

  const ids = (...statuses: number[]) => model.withStatus(...statuses).map((j) => j.meta.id);
  /** Up to n distinct ids from a list (consumed, so a burst never touches a job twice). */
  const takeSome = (from: string[], n: number): string[] => {
    const out: string[] = [];
    while (out.length < n && from.length > 0) out.push(from.splice(Math.floor(random() * from.length), 1)[0]);
    return out;
  };

  async function reopen(): Promise<void> {
    trace("reopen", store.segments.numbers());
    await store.close();
    store = await open();
    assert.deepEqual(store.damage, [], ctx("no damage after a clean close"));
    model.restart(store, now, ctx("reopen"));
    verify(store, model, ctx("after reopen"));
  }

  for (step = 0; step < STEPS; step++) {
    const r = random();
    if (r < 0.22) {
      await ops.insert();
    } else if (r < 0.42) {
      const names = chance(0.4) ? undefined : takeSome([...QUEUES], chance(0.7) ? 1 : 2);
      const expected = model.takeOrder(names)[0];
      const got = store.table.peekReady(names && queueIndexes(store, names));
      assert.equal(got === -1 ? undefined : idAt(store, got), expected, ctx(`take from ${names ?? "all"}`));
      if (got !== -1) {
        trace("take", Number(expected));
        store.table.take(got, now);
        model.take(expected!, now);
      }
    } else if (r < 0.54) {
      const inFlight = ids(STATUS_IN_FLIGHT);
      if (inFlight.length > 0) await ops.ack(pick(inFlight));
    } else if (r < 0.62) {
      const inFlight = ids(STATUS_IN_FLIGHT);
      if (inFlight.length > 0) await ops.fail(pick(inFlight));
    } else if (r < 0.70) {
      const waiting = takeSome(ids(STATUS_READY, STATUS_SCHEDULED), 1 + Math.floor(random() * 3));
      if (waiting.length > 0) await ops.patch(waiting);
    } else if (r < 0.76) {
      const any = takeSome([...model.jobs.keys()], 1 + Math.floor(random() * 5));
      if (any.length > 0) await ops.remove(any);
    } else if (r < 0.80) {
      const waiting = ids(STATUS_READY, STATUS_SCHEDULED);
      if (waiting.length > 0) await ops.rewrite(pick(waiting));
    } else if (r < 0.85) {
      now += Math.floor(random() * 3000);
      const promoted = store.table.promoteDue(now);
      const due = model.withStatus(STATUS_SCHEDULED).filter((j) => j.meta.readyAtMs <= now).length;
      model.promoteDue(now);
      assert.equal(promoted, due, ctx("promoteDue"));
    } else if (r < 0.88) {
      trace("compactAll", store.segments.numbers());
      await store.compactAll();
    } else if (r < 0.92) {
      // A burst: several calls in one tick, sharing group commits; distinct jobs each.
      const inFlight = ids(STATUS_IN_FLIGHT);
      const waiting = ids(STATUS_READY, STATUS_SCHEDULED);
      const calls: Promise<unknown>[] = [];
      for (let k = 0; k < 2 + Math.floor(random() * 5); k++) {
        const kind = pick(["insert", "ack", "fail", "patch", "remove", "rewrite"] as const);
        if (kind === "insert") calls.push(ops.insert());
        else if ((kind === "ack" || kind === "fail") && inFlight.length > 0) calls.push(ops[kind](takeSome(inFlight, 1)[0]));
        else if (kind === "patch" && waiting.length > 0) calls.push(ops.patch(takeSome(waiting, 2)));
        else if (kind === "rewrite" && waiting.length > 0) calls.push(ops.rewrite(takeSome(waiting, 1)[0]));
        else if (kind === "remove" && waiting.length > 0) calls.push(ops.remove(takeSome(waiting, 2)));
      }
      await Promise.all(calls);
    } else if (r < 0.95) {
      const key = `cron-${Math.floor(random() * 8)}`;
      if (chance(0.7)) {
        const value = Buffer.from(`schedule ${step}`);
        model.blobs.set(key, value);
        await store.putBlob(1, key, value, sync());
      } else {
        model.blobs.delete(key);
        await store.deleteBlob(1, key, sync());
      }
    } else if (r < 0.9505) {
      model.jobs.clear();
      model.blobs.clear();
      await store.reset(sync());
    } else if (r < 0.965) {
      await reopen();
      // Take everything in order, then restart: every one of them must be ready again.
      drain(store, model, now, ctx("drain"));
      await reopen();
    } else if (step % 50 === 0) {
      verify(store, model, ctx("in memory"));
    }
    assert.deepEqual(backgroundErrors, [], ctx("background compaction"));
  }
  await store.compactAll();
  await reopen();
  assert.ok(store.segments.numbers().length >= 1);
  t.diagnostic(`${model.jobs.size} jobs at the end, ${store.segments.numbers().length} segments, head ${store.writer.head.segment}`);
  await store.close();
});
