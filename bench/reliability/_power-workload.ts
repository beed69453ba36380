// The seeded workload of the storage power-loss harness (power-loss.ts): a store on the
// simulated disk (test/helpers/power-loss-fs.ts) driven with inserts, state changes,
// failures with error records, payload rewrites, deletes, blob puts and deletes, resets,
// checkpoints, compactions and clean restarts, up to 4 at once, while _power-cuts.ts
// samples cuts. Every write goes in the ledger (_power-ledger.ts) with its place in log
// order and what its caller was told. On fault seeds it arms one failing fs call now and
// then, and carries on (restarting as an operator would) when writes fail.

import { AsyncLocalStorage } from "node:async_hooks";
import type { JobMeta } from "../../lib/storage/codec.ts";
import { StorageError } from "../../lib/storage/errors.ts";
import { BLOB_NAMESPACE_QUEUE, STATUS_READY } from "../../lib/storage/format.ts";
import { type Store, type StoreOptions, openStore } from "../../lib/storage/store.ts";
import { type Fault, PowerLossFs } from "../../test/helpers/power-loss-fs.ts";
import { T0, makeId } from "../../test/helpers/storage.ts";
import { type Taken, sampleCuts } from "./_power-cuts.ts";
import {
  type BlobEntry, type Entry, type LedgerCut, type Ledgers, type Target, type Version, blobNow, currentOf, normal, sameState, serve, what,
} from "./_power-ledger.ts";

export const BLOB_KEYS = ["k0", "k1", "k2"];

export interface WorkloadSettings {
  seed: number;
  sync: boolean;
  steps: number;
  wantCuts: number;
  liveDir: string;
  pfs: PowerLossFs;
  storeOptions: Omit<StoreOptions, "dir">;
  random: () => number;
  backgroundSyncs: boolean;
  rollOften: boolean;
  /** Arm a failing fs call now and then. */
  faults: boolean;
  failures: string[];
}

export interface FaultStats {
  /** Faults armed, and fired (call, error, file). */
  armed: number;
  fired: string[];
  /** Workload writes told "failed" (a store call rejected with the fault's error, or one it caused). */
  failedWrites: number;
  /** Checkpoints, compactions and background tasks that failed with such an error. */
  failedOther: number;
  /** Clean restarts after failed writes. */
  restarts: number;
}

export interface Workload {
  jobs: Map<string, Entry>;
  blobs: Map<string, BlobEntry>;
  taken: Taken<Ledgers>[];
  moments: () => number;
  acked: number;
  segmentsRetired: number;
  faults: FaultStats;
}

const FAULTS: readonly Fault[] = [
  { call: "fdatasync", error: "EIO" }, { call: "fdatasync", error: "EIO" }, { call: "fdatasync", error: "EIO" },
  { call: "writev", error: "EIO" }, { call: "writev", error: "ENOSPC" }, { call: "writev", error: "short" },
  { call: "syncDir", error: "EIO" },
];

export async function runWorkload(w: WorkloadSettings): Promise<Workload> {
  const { seed, sync, random, pfs, failures, rollOften } = w;
  const chance = (p: number): boolean => random() < p;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const jobs = new Map<string, Entry>();
  const blobs = new Map<string, BlobEntry>(BLOB_KEYS.map((k) => [k, { versions: [], positions: [], failed: new Set(), acked: 0, busy: false }]));
  const faults: FaultStats = { armed: 0, fired: pfs.fired, failedWrites: 0, failedOther: 0, restarts: 0 };
  const backgroundErrors: unknown[] = [];
  /**
   * An error a fault explains, once one has fired: a storage error of kind io or full, the
   * injected errno, or a short write reported as a plain Error (checkpoint.ts, segment-set.ts).
   */
  const expected = (err: unknown): boolean =>
    pfs.counts.faults > 0 && ((err instanceof StorageError && (err.kind === "io" || err.kind === "full")) || /injected|short write/.test(String(err)));
  // ---- log order, for the prefix rule: each append to the log takes the next position.
  let appended = 0;
  /** The versions the store call running in this async context writes (AsyncLocalStorage follows it across awaits). */
  const writing = new AsyncLocalStorage<Target[]>();
  /** Inside Store.appendInGroups: the appends are compaction's copies, no workload write's. */
  let copying = 0;

  // ---- cuts: a uniform sample of the moments the disk model changed (_power-cuts.ts)
  // Replaced (never changed in place) when a checkpoint started later completes.
  let checkpointed: LedgerCut = { jobs: new Map(), blobs: new Map() };
  let step = 0;
  const ledgerNow = (): LedgerCut => ({
    jobs: new Map([...jobs].map(([id, e]) => [id, [e.versions.length, e.acked]])),
    blobs: new Map([...blobs].map(([k, e]) => [k, [e.versions.length, e.acked]])),
  });
  const { taken, moments } = sampleCuts(pfs, seed, w.wantCuts, () => ({ ledger: ledgerNow(), checkpointed, appended }), () => step);

  const open = async (): Promise<Store> => {
    const s = await openStore({ dir: w.liveDir, fs: pfs, ...w.storeOptions });
    s.onBackgroundError = (err) => {
      if (expected(err)) faults.failedOther++;
      else backgroundErrors.push(err);
    };
    // Log order is append order: the writer places each record at its cursor as append is
    // called, and writes batches in that order. A workload write is found by the store
    // call it comes from (`writing`); compaction's copies take positions too, but are no
    // version's. A compaction started by a seal runs in the context of the workload call
    // whose append sealed, so copies are told apart by their path (Store.appendInGroups,
    // which no workload call takes) instead.
    const append = s.writer.append.bind(s.writer);
    s.writer.append = (record, sync) => {
      const r = append(record, sync);
      const position = appended++;
      if (copying > 0) return r;
      const writes = writing.getStore();
      if (writes === undefined || writes.some((t) => t.entry.positions[t.at] !== undefined)) {
        failures.push(`seed ${seed} step ${step}: an append the harness cannot place in log order (${writes ? "a second one by one store call" : "by no workload call, and no compaction copy"})`);
      } else {
        for (const t of writes) t.entry.positions[t.at] = position;
      }
      return r;
    };
    const appendInGroups = s.appendInGroups.bind(s);
    s.appendInGroups = (frames, sync) => {
      copying++;
      try {
        return appendInGroups(frames, sync);
      } finally {
        copying--;
      }
    };
    // Half the seeds (2, 3, 6, 7, …) sync the head in the background every 8 KiB, as
    // buffered mode does every 8 MiB of a big store's segments: both roll paths are cut.
    if (w.backgroundSyncs) s.writer.backgroundSyncBytes = 8 * 1024;
    return s;
  };
  let store = await open();
  let nextId = 1;
  let acked = 0;
  let segmentsRetired = 0;
  /** Failed writes since the last restart, and whether one is due. */
  let failedSinceRestart = 0;
  let restartDue = false;
  const idle = (): string[] => [...jobs].filter(([, e]) => !e.busy && currentOf(e)?.meta).map(([id]) => id);
  const current = (id: string): Version => currentOf(jobs.get(id)!)!;
  const issue = (id: string, v: Version): Target => {
    const e = jobs.get(id)!;
    e.versions.push(v);
    e.positions.push(undefined);
    e.busy = true;
    return { entry: e, at: e.versions.length - 1 };
  };
  /**
   * Run a store call that writes `targets` (so that its append finds them), and note what
   * its caller was told: acknowledged, or, when it rejects with an error a fault explains,
   * failed (the store rolled it back in memory).
   */
  const commit = async (targets: Target[], call: () => Promise<unknown>): Promise<void> => {
    try {
      await writing.run(targets, call);
    } catch (err) {
      if (!expected(err)) throw err;
      for (const t of targets) {
        t.entry.failed.add(t.at);
        t.entry.busy = false;
      }
      faults.failedWrites++;
      failedSinceRestart++;
      // An operator restarts after some failed writes, and surely after several.
      if (chance(0.3) || failedSinceRestart >= 4) restartDue = true;
      return;
    }
    for (const t of targets) {
      t.entry.acked = t.at + 1;
      t.entry.busy = false;
    }
    acked++;
  };
  const payloadOf = (n: number): string => JSON.stringify({ n, v: Math.floor(random() * 1e6), pad: "p".repeat(chance(rollOften ? 0.6 : 0.1) ? 1500 + Math.floor(random() * 3000) : Math.floor(random() * 400)) });

  const ops: Record<string, () => Promise<void>> = {
    async insert() {
      const batch = Array.from({ length: chance(0.3) ? 2 + Math.floor(random() * 3) : 1 }, () => {
        const id = makeId(nextId++);
        const meta: JobMeta = { id, status: STATUS_READY, priority: Math.floor(random() * 4), attempts: 0, readyAtMs: T0, queue: pick(["a", "b"]), type: "t" };
        const payload = payloadOf(nextId);
        jobs.set(id, { versions: [], positions: [], failed: new Set(), acked: 0, busy: false });
        return { meta, payload: Buffer.from(payload), write: issue(id, { meta, payload, errors: [], change: { kind: "insert", meta, payload } }) };
      });
      await commit(batch.map((j) => j.write), () => store.insert(batch.map(({ meta, payload }) => ({ meta, payload })), sync));
    },
    async update() {
      const id = pick(idle());
      const v = current(id);
      const meta = { ...v.meta!, status: pick([1, 2, 3, 4]), priority: Math.floor(random() * 4) };
      const write = issue(id, { ...v, meta, change: { kind: "meta", meta } });
      await commit([write], () => store.update([store.table.slotById.get(id)!], [meta], sync));
    },
    async fail() {
      const id = pick(idle());
      const v = current(id);
      const attempt = v.meta!.attempts + 1;
      const meta = { ...v.meta!, attempts: attempt, status: pick([1, 4]) };
      const record = { message: `boom ${attempt}`, pad: "e".repeat(Math.floor(random() * 600)) };
      const error = JSON.stringify(record);
      const write = issue(id, { ...v, meta, errors: [...v.errors, error], change: { kind: "fail", meta, attempt, error } });
      await commit([write], () => store.fail(store.table.slotById.get(id)!, meta, attempt, record, sync));
    },
    async rewrite() {
      const id = pick(idle());
      const v = current(id);
      const payload = payloadOf(Number(id));
      const write = issue(id, { ...v, payload, change: { kind: "job", meta: v.meta!, payload } });
      await commit([write], () => store.rewrite(store.table.slotById.get(id)!, v.meta!, Buffer.from(payload), sync));
    },
    async remove() {
      const all = idle();
      const ids = Array.from(new Set(Array.from({ length: 1 + Math.floor(random() * 4) }, () => pick(all))));
      const writes = ids.map((id) => issue(id, { errors: [], change: { kind: "delete" } }));
      await commit(writes, () => store.remove(ids.map((id) => store.table.slotById.get(id)!), sync));
    },
    async blob() {
      const key = pick(BLOB_KEYS.filter((k) => !blobs.get(k)!.busy));
      const e = blobs.get(key)!;
      const value = chance(0.3) ? undefined : `v${Math.floor(random() * 1e6)}`;
      e.versions.push(value);
      e.positions.push(undefined);
      e.busy = true;
      const writes = [{ entry: e, at: e.versions.length - 1 }];
      if (value === undefined) await commit(writes, () => store.deleteBlob(BLOB_NAMESPACE_QUEUE, key, sync));
      else await commit(writes, () => store.putBlob(BLOB_NAMESPACE_QUEUE, key, Buffer.from(value), sync));
    },
  };

  const inFlight = new Set<Promise<void>>();
  const drain = async () => { while (inFlight.size > 0) await Promise.race(inFlight); };
  const run = (name: string, op: () => Promise<void>, mayFail = false): void => {
    const p = op().catch((err) => {
      if (mayFail && expected(err)) faults.failedOther++;
      else failures.push(`seed ${seed} step ${step}: ${name} failed: ${(err as Error).stack ?? err}`);
    }).finally(() => inFlight.delete(p));
    inFlight.add(p);
  };
  /**
   * A clean restart on the same disk (the page cache kept: a process exit, not a power
   * cut). The reopened store must serve exactly what the ledger says it holds: the last
   * write of each job and blob not told "failed" (a failed write is padded over, so it is
   * not replayed; docs/reliability.md, "fsync failure (EIO)": 0 failed enqueues present).
   */
  const restart = async (): Promise<void> => {
    await drain();
    segmentsRetired += store.compactionStats.segments;
    await store.close();
    pfs.disarm();
    store = await open();
    failedSinceRestart = 0;
    restartDue = false;
    const live = serve(store);
    for (const [id, e] of jobs) {
      const want = currentOf(e);
      const got = live.jobs.get(id);
      if (!sameState(got, want)) failures.push(`seed ${seed} step ${step}: after a clean restart job ${id} is ${what(got)}; the ledger holds ${what(want)}${e.failed.size > 0 ? ` (writes told failed: ${[...e.failed].map((i) => what(e.versions[i])).join(" | ")})` : ""}`);
    }
    for (const [key, e] of blobs) {
      if (live.blobs.get(key) !== blobNow(e)) failures.push(`seed ${seed} step ${step}: after a clean restart blob ${key} is ${live.blobs.get(key)}; the ledger holds ${blobNow(e)}`);
    }
  };
  for (step = 0; step < w.steps && failures.length === 0; step++) {
    // Fault seeds: now and then the next call of one kind fails (rarely: the store must
    // keep working), whatever file it is for: a segment, a spare, the checkpoint.
    if (w.faults && chance(0.004)) {
      pfs.arm(pick(FAULTS));
      faults.armed++;
    }
    const r = random();
    const haveIdle = idle().length > 0;
    if (r < 0.01 || restartDue) {
      if (restartDue) faults.restarts++;
      await restart();
    } else if (r < 0.015) {
      await drain();
      const live = idle();
      const writes = live.map((id) => issue(id, { errors: [], change: { kind: "delete" } }));
      for (const k of BLOB_KEYS) {
        const e = blobs.get(k)!;
        if (e.versions.length === 0) continue;
        e.versions.push(undefined);
        e.positions.push(undefined);
        e.busy = true;
        writes.push({ entry: e, at: e.versions.length - 1 });
      }
      await commit(writes, () => store.reset(sync));
    } else if (r < 0.04 && (!rollOften || r < 0.02)) {
      // (rollOften: a fifth of them, as of compactions below; the rest of the range
      // inserts.) Everything acknowledged before the call is before the checkpoint's
      // position (it takes the head after the call): durable once it resolves true. A cut
      // taken during the call still sees the previous checkpoint (the ledger changes after
      // the last model change the checkpoint makes).
      run("checkpoint", async () => {
        const before = ledgerNow();
        if (await store.checkpoint()) checkpointed = before;
      }, true);
    } else if (r < 0.06 && (!rollOften || r >= 0.056)) {
      run("compactAll", () => store.compactAll(), true);
    } else if (r < 0.35 || !haveIdle) {
      run("insert", ops.insert);
    } else if (r < 0.55) {
      run("update", ops.update);
    } else if (r < 0.65) {
      run("fail", ops.fail);
    } else if (r < 0.73) {
      run("rewrite", ops.rewrite);
    } else if (r < 0.93) {
      run("remove", ops.remove);
    } else if (BLOB_KEYS.some((k) => !blobs.get(k)!.busy)) {
      run("blob", ops.blob);
    }
    // Up to 4 operations in flight: they share batches, and cuts fall between issue and ack.
    if (inFlight.size >= 4 || (inFlight.size > 0 && chance(0.3))) await Promise.race(inFlight);
    if (chance(0.2)) await new Promise((r) => setImmediate(r));
  }
  await drain();
  pfs.disarm();
  segmentsRetired += store.compactionStats.segments;
  await store.close();
  for (const err of backgroundErrors) failures.push(`seed ${seed}: background error: ${(err as Error).stack ?? err}`);
  return { jobs, blobs, taken, moments, acked, segmentsRetired, faults };
}

/** For failure texts: a job's state in short. */
export const short = (v: { meta?: JobMeta; payload?: string; errors: readonly string[] } | undefined): string =>
  (v?.meta ? `${normal(v.meta)} payload ${v.payload!.slice(0, 40)}… errors ${v.errors.length}` : "absent");
