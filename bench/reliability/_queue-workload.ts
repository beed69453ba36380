// The live side of the queue power-loss harness (power-loss-queue.ts): a seeded workload
// drives a Queue over a store on the simulated disk with a manual clock, up to 4
// operations in flight, and keeps the ledger (_queue-ledger.ts) of every write it issued
// and every answer it got. Lease expiries and abandon kills: _queue-abandons.ts; budget
// bindings and policy writes: _queue-budget-work.ts.

import assert from "node:assert/strict";
import { STATUS_COMPLETED, STATUS_DEAD, STATUS_READY } from "../../lib/storage/format.ts";
import { type Store, openStore } from "../../lib/storage/store.ts";
import { ManualClock } from "../../lib/queue/clock.ts";
import { Queue } from "../../lib/queue/queue.ts";
import type { EnqueueResult, Taker } from "../../lib/queue/types.ts";
import { type NamesModel, PowerLossFs } from "../../test/helpers/power-loss-fs.ts";
import { prng } from "../../test/helpers/random.ts";
import { T0 } from "../../test/helpers/storage.ts";
import { tmpDir } from "../../test/helpers/tmp.ts";
import { type Taken, sampleCuts } from "./_power-cuts.ts";
import { Abandons } from "./_queue-abandons.ts";
import { cronTicker } from "./_queue-cron-ticker.ts";
import { BudgetWork, type BudgetWrites } from "./_queue-budget-work.ts";
import { Ledger } from "./_queue-ledger.ts";
import { type Mode, backgroundSyncs, queueOptionsFor, storeOptionsFor } from "./_queue-options.ts";
import {
  BATCH_KEYS, BUDGET_KEYS, type BlobEntry, CRON_GROUP, type Entry, type JobState, KEYS, LEASES_MS, type LedgerCut, type Ledgers,
  PAUSE_NAMES, QUEUES, UNFILLED, type Version, batchOf, cronGroupBody, snapshotOf,
} from "./_queue-model.ts";

export interface WorkloadRun {
  world: { jobs: Map<number, Entry>; blobs: Map<string, BlobEntry>; atomics: [number, number][][] };
  taken: Taken<Ledgers>[];
  moments: number;
  acked: number;
  ops: Record<string, number>;
  failures: string[];
  segmentsRetired: number;
  liveDir: string;
  pfs: PowerLossFs;
  /** The workload's stream, continued by the judge's survival draws. */
  random: () => number;
}

type Live = { store: Store; queue: Queue; taker: Taker; leaseMs: number; closing: { now: boolean } };
/**
 * The store was closed under the op by a restart before its write was appended: nothing
 * written. ("segment N is not open", EBADF: a batch fold, waiting for the enqueue lock,
 * read the open batch's payload from the closed store; plain Errors, not StorageErrors,
 * but also before any append.)
 */
const isClosedRefusal = (err: unknown) => /store is closed|segment \d+ is not open|EBADF/.test(String((err as Error)?.message));

export async function runWorkload(o: { seed: number; mode: Mode; names: NamesModel; steps: number; cuts: number }): Promise<WorkloadRun> {
  const { seed, mode, names, steps } = o;
  const random = prng(seed);
  const chance = (p: number): boolean => random() < p;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const clock = new ManualClock(T0);
  const liveDir = tmpDir("zizq-power-queue-live-");
  const pfs = new PowerLossFs(liveDir, names);
  const ledger = new Ledger([...PAUSE_NAMES.map((n) => `pause:${n}`), `cron:${CRON_GROUP}`, ...BUDGET_KEYS.map((k) => `budget:${k}`)], clock);
  const { jobs, blobs, atomics } = ledger;
  const idToTag = new Map<string, number>();
  const failures: string[] = [];
  const ops: Record<string, number> = {};
  const count = (name: string) => { ops[name] = (ops[name] ?? 0) + 1; };
  let step = 0;
  let segmentsRetired = 0;
  /** Bumped by every restart: an op that began before it may find the store closed. */
  let restarts = 0;

  const ledgerNow = (): LedgerCut => ledger.now();
  let checkpointed: LedgerCut = { jobs: new Map(), blobs: new Map(), clockMs: T0 };
  const { taken, moments } = sampleCuts<Ledgers>(pfs, seed, o.cuts, () => ({ ledger: ledgerNow(), checkpointed }), () => step);

  // ---- the ledger
  const busy = (e: Entry | BlobEntry) => ledger.busy(e);
  const issueJobs = (tags: readonly number[], what: string) => ledger.issueJobs(tags, what);
  const issueBlob = (key: string) => ledger.issueBlob(key);
  const current = (n: number): Version => ledger.current(n);
  /** Jobs with no write in flight that exist now (by their last answered write). */
  const idle = (): number[] => [...jobs].filter(([n, e]) => !busy(e) && e.id !== undefined && current(n) !== undefined).map(([n]) => n);
  const heldIdle = (): string[] => [...held].filter((id) => idToTag.has(id) && !busy(jobs.get(idToTag.get(id)!)!));
  /** Idle jobs that are queued (scheduled or ready, or taken: a take writes nothing) by their last answered write. */
  const queued = (): number[] => idle().filter((t) => { const v = current(t); return v !== UNFILLED && v !== undefined && v.meta.status <= STATUS_READY; });
  /** Present, idle jobs a retry may take: dead, or completed and retained, and not past purge_at. */
  const retryable = (): number[] => idle().filter((n) => {
    const v = current(n) as JobState;
    return (v.meta.status === STATUS_DEAD || v.meta.status === STATUS_COMPLETED) && (v.meta.purgeAtMs === undefined || v.meta.purgeAtMs > clock.now());
  });

  // ---- the live queue
  const backgroundErrors: string[] = [];
  const onError = (err: unknown, where: string) => backgroundErrors.push(`${where}: ${(err as Error).stack ?? err}`);
  const held = new Set<string>();
  // ---- lease expiries and abandon kills: the workload's own count, checked against the queue's
  const abandons = new Abandons({ ledger, clock, idToTag, held, failures, count, where: () => `seed ${seed} step ${step}` });
  const budgetWork = new BudgetWork({
    ledger, random, count, restarts: () => restarts,
    refusedByRestart: (err, began) => restarts !== began && isClosedRefusal(err) && (count("refusedByRestart"), true),
  });
  const openTaker = (queue: Queue): { taker: Taker; leaseMs: number } => {
    const leaseMs = pick(LEASES_MS);
    const taker = queue.take({ queues: QUEUES, prefetch: 6, leaseMs, deliver: ({ job }) => { held.add(job.id); return true; } });
    return { taker, leaseMs };
  };
  const openQueue = async (): Promise<Live> => {
    const store = await openStore({ dir: liveDir, fs: pfs, ...storeOptionsFor(seed, mode), now: () => clock.now() });
    // As power-loss.ts: half the seeds (2, 3, 6, 7, …) sync the head in the background
    // every 8 KiB (buffered mode does so every 8 MiB of a big store's segments).
    if (backgroundSyncs(seed)) store.writer.backgroundSyncBytes = 8 * 1024;
    // Once a restart closes this store, background work of its queue (a cron firing, a
    // requeue record) may find it closed: refused, nothing written.
    const closing = { now: false };
    const onQueueError = (err: unknown, where: string) => {
      if (closing.now && isClosedRefusal(err)) count("refusedByRestart");
      else onError(err, where);
    };
    store.onBackgroundError = (err) => onQueueError(err, "compaction");
    ledger.watchResets(store, () => {
      held.clear();
      abandons.counts.clear();
    });
    const queue = new Queue(store, queueOptionsFor(seed, mode, clock, onQueueError));
    // Cron firings and lease expiries are the workload's own (cronTicker, fireLeases), so
    // each is in the ledger: the queue's timers run on real time against the manual clock.
    queue.cronScheduler.stop();
    abandons.listen(queue);
    return { store, queue, closing, ...openTaker(queue) };
  };
  let live = await openQueue();

  const dropStream = () => abandons.dropStream(live.store, live.queue, live.taker);

  let nextTag = 1;
  const jobBody = (n: number, budgetWrites: BudgetWrites, batched = false): Record<string, unknown> => {
    const body: Record<string, unknown> = {
      type: "t", queue: pick(QUEUES), priority: Math.floor(random() * 4),
      payload: { n, items: [n], pad: "p".repeat(chance(0.1) ? 1500 + Math.floor(random() * 2500) : Math.floor(random() * 300)) },
    };
    if (chance(0.2)) body.ready_at = clock.now() + 1 + Math.floor(random() * 5000);
    if (chance(0.15) || batched) {
      body.batch = batchOf(pick(BATCH_KEYS));
    } else if (chance(0.3)) {
      const key = pick(Object.keys(KEYS));
      body.unique_key = key;
      body.unique_while = KEYS[key];
    }
    if (chance(0.5)) body.retry_limit = Math.floor(random() * 3);
    if (chance(0.3)) body.backoff = { exponent: 1, base_ms: Math.floor(random() * 3000), jitter_ms: 0 };
    if (chance(0.5)) body.retention = { completed_ms: pick([0, 1500, 60_000]), dead_ms: pick([0, 2000, 60_000]) };
    // A budget (concurrency or drip), made by the first request that names it (in its own write).
    const binding = chance(0.25) ? budgetWork.binding(live.queue, budgetWrites) : undefined;
    if (binding) body.budgets = [binding];
    return body;
  };
  const answerEnqueue = (store: Store, tags: number[], results: EnqueueResult[]) => (n: number): JobState | undefined => {
    const r = results[tags.indexOf(n)];
    if (!r.created) {
      // A duplicate wrote nothing, a fold rewrote its batch job (in `batchTargets`): no job of its own.
      count(r.folded ? "folded" : "duplicates");
      assert.ok((r.duplicate || r.folded) && idToTag.has(r.job.id), `enqueue of tag ${n}: answered ${JSON.stringify(r)}, not a created job nor a known holder or batch`);
      return undefined;
    }
    jobs.get(n)!.id = r.job.id;
    idToTag.set(r.job.id, n);
    return snapshotOf(store, r.job.id);
  };

  /**
   * The jobs a batched enqueue may rewrite (fold into, or seal): every present job of its
   * batch keys, issued a write with it. Undefined when one of them has a write in flight
   * (the workload then sends the enqueue without `batch`).
   */
  const batchTargets = (bodies: Record<string, unknown>[]): number[] | undefined => {
    const keys = new Set(bodies.flatMap((b) => (b.batch ? [(b.batch as { key: string }).key] : [])));
    if (keys.size === 0) return [];
    const targets = [...jobs].filter(([n, e]) => e.batchKey !== undefined && keys.has(e.batchKey) && ledger.mayExist(n));
    if (targets.some(([, e]) => busy(e))) return undefined;
    return targets.map(([n]) => n);
  };
  /** Run a job write; a store closed under it by a restart refused it before appending. */
  const settled = async (w: ReturnType<typeof issueJobs>, write: Promise<unknown>, fill: (n: number) => JobState | undefined, beforeReset?: (n: number) => boolean): Promise<void> => {
    const began = restarts;
    try {
      await write;
    } catch (err) {
      if (restarts !== began && isClosedRefusal(err)) {
        count("refusedByRestart");
        w.unwritten();
        return;
      }
      throw err;
    }
    w.fill(fill, beforeReset);
    w.answer();
  };
  const enqueueTags = async (tags: number[], bulk: boolean, batched = false): Promise<void> => {
    const { store, queue } = live;
    const budgetWrites: BudgetWrites = new Map();
    const bodies = tags.map((n) => jobBody(n, budgetWrites, batched));
    let targets = batchTargets(bodies);
    if (!targets) {
      for (const b of bodies) delete b.batch;
      targets = [];
    }
    tags.forEach((n, i) => jobs.set(n, { versions: [], writes: [], acked: 0, pending: new Set(), batchKey: (bodies[i].batch as { key: string } | undefined)?.key, retryBases: [] }));
    const answer = issueJobs(tags, "enqueue");
    if (bulk) atomics.push(tags.map((n, i) => [n, answer.at[i]]));
    const rewritten = issueJobs(targets, "fold target");
    let rs: EnqueueResult[] = [];
    const began = restarts;
    try {
      rs = bulk ? await queue.enqueueBulk({ jobs: bodies }) : [await queue.enqueue(bodies[0])];
    } catch (err) {
      if (restarts !== began && isClosedRefusal(err)) {
        count("refusedByRestart");
        answer.unwritten();
        rewritten.unwritten();
        budgetWork.unwritten(budgetWrites);
        return;
      }
      throw err;
    }
    // A plain enqueue (no key, no batch) is appended without the enqueue lock, before or
    // after a reset in flight: before it if its job is gone. Keyed ones wait for the reset.
    const plain = bodies.every((b) => b.unique_key === undefined && b.batch === undefined);
    answer.fill(answerEnqueue(store, tags, rs), () => plain);
    answer.answer();
    rewritten.fill((n) => snapshotOf(store, jobs.get(n)!.id!), () => false);
    rewritten.answer();
    budgetWork.answer(budgetWrites, store);
  };

  const work: Record<string, () => Promise<void>> = {
    async enqueue() {
      await enqueueTags([nextTag++], false);
    },
    /** A batched enqueue: a fold (jq, in the worker pool) planned while a reset comes in. */
    async enqueueBatched() {
      await enqueueTags([nextTag++], false, true);
    },
    async enqueueBulk() {
      await enqueueTags(Array.from({ length: 2 + Math.floor(random() * 4) }, () => nextTag++), true);
    },
    async ack() {
      const { store, queue } = live;
      const id = pick(heldIdle());
      held.delete(id);
      const w = issueJobs([idToTag.get(id)!], "ack");
      await settled(w, queue.complete(id), () => snapshotOf(store, id));
    },
    async ackBulk() {
      const { store, queue } = live;
      const ids = [...new Set(Array.from({ length: 2 + Math.floor(random() * 4) }, () => pick(heldIdle())))];
      for (const id of ids) held.delete(id);
      const w = issueJobs(ids.map((id) => idToTag.get(id)!), "ackBulk");
      await settled(w, queue.completeMany({ ids }).then((notFound) => assert.deepEqual(notFound, [], "a bulk ack of held jobs")), (n) => snapshotOf(store, jobs.get(n)!.id!));
    },
    async nack() {
      const { store, queue } = live;
      const id = pick(heldIdle());
      held.delete(id);
      const n = idToTag.get(id)!;
      const w = issueJobs([n], "nack");
      const body: Record<string, unknown> = { message: `boom ${n}.${jobs.get(n)!.versions.length}`, error_type: "E" };
      if (chance(0.15)) body.kill = true;
      else if (chance(0.2)) body.retry_at = clock.now() + Math.floor(random() * 4000);
      await settled(w, queue.fail(id, body).then((view) => {
        const s = snapshotOf(store, id);
        if (s) assert.equal(s.meta.attempts, view.attempts, `nack of ${id}: answered attempts ${view.attempts}, memory ${s.meta.attempts}`);
      }), () => snapshotOf(store, id));
    },
    async remove() {
      const { queue } = live;
      const all = idle();
      const tags = [...new Set(Array.from({ length: chance(0.3) ? 2 + Math.floor(random() * 3) : 1 }, () => pick(all)))];
      const ids = tags.map((n) => jobs.get(n)!.id!);
      for (const id of ids) held.delete(id);
      const w = issueJobs(tags, "delete");
      // A job the reaper removed (past its purge_at) is not found: it was gone already.
      const write = ids.length === 1
        ? queue.deleteOne(ids[0]).catch((err: { code?: string }) => { if (err.code !== "not_found") throw err; })
        : queue.deleteMany({ ids });
      await settled(w, write, () => undefined);
    },
    async patch() {
      const { store, queue } = live;
      const n = pick(queued());
      const id = jobs.get(n)!.id!;
      const w = issueJobs([n], "patch");
      const body = chance(0.5) ? { priority: Math.floor(random() * 4) } : { ready_at: clock.now() + Math.floor(random() * 3000) - 1000 };
      await settled(w, queue.patchOne(id, body).catch((err: { code?: string }) => { if (err.code !== "not_found") throw err; }), () => snapshotOf(store, id));
    },
    /**
     * Retry dead or retained completed jobs (docs/api.md "retry dead jobs"): one, or several
     * by id in one call (one atomic write). A 409 (unique key held) or 422 (budget gone)
     * writes nothing. The abandon count starts afresh.
     */
    async retry() {
      const { store, queue } = live;
      const tags = [...new Set(Array.from({ length: chance(0.3) ? 2 + Math.floor(random() * 3) : 1 }, () => pick(retryable())))];
      const ids = tags.map((n) => jobs.get(n)!.id!);
      for (const n of tags) {
        const e = jobs.get(n)!;
        e.retryBases.push([e.versions.length, (current(n) as JobState).errors.length]);
        abandons.counts.delete(n);
      }
      const w = issueJobs(tags, "retry");
      if (tags.length > 1) atomics.push(tags.map((n, i) => [n, w.at[i]]));
      const body = chance(0.3) ? { ready_at: clock.now() + Math.floor(random() * 3000) } : undefined;
      const write = tags.length === 1
        ? queue.retryOne(ids[0], body).then(() => count("retried"), (err: { code?: string }) => {
          // 404: past its purge_at by the time the enqueue lock was ours (the clock moved).
          if (err.code !== "conflict" && err.code !== "unprocessable" && err.code !== "not_found") throw err;
          count(err.code === "not_found" ? "retryExpired" : "retryRefused");
        })
        : queue.retryMany({ ids }, body).then((k) => { ops.retried = (ops.retried ?? 0) + k; });
      await settled(w, write, (n) => snapshotOf(store, jobs.get(n)!.id!), () => false);
    },
    /** Rebind a queued job not on the take stream (_queue-budget-work.ts). */
    async rebind() {
      const { store, queue } = live;
      const n = pick(queued().filter((t) => !held.has(jobs.get(t)!.id!)));
      const id = jobs.get(n)!.id!;
      const w = issueJobs([n], "rebind");
      await budgetWork.rebind(store, queue, id, (write) => settled(w, write, () => snapshotOf(store, id)));
    },
    async heartbeat() {
      const id = pick(heldIdle());
      live.queue.heartbeat(id);
    },
    async pause() {
      const { store, queue } = live;
      const name = pick(PAUSE_NAMES.filter((p) => !busy(blobs.get(`pause:${p}`)!)));
      const w = issueBlob(`pause:${name}`);
      const began = restarts;
      await queue.setPaused(name, !queue.pauses.paused.has(name)).then(() => w.answer(store), (err) => {
        if (restarts === began || !isClosedRefusal(err)) throw err;
        w.unwritten();
      });
    },
    async cron() {
      const { store, queue } = live;
      const key = `cron:${CRON_GROUP}`;
      const w = issueBlob(key);
      const exists = queue.crons.names().includes(CRON_GROUP);
      const began = restarts;
      let write: Promise<unknown>;
      if (!exists || chance(0.1)) write = queue.crons.putGroup(CRON_GROUP, cronGroupBody);
      else if (chance(0.3)) write = queue.crons.patchGroup(CRON_GROUP, { paused: !queue.crons.getGroup(CRON_GROUP).paused });
      else write = cronTicker(queue).tick();
      await write.then(() => w.answer(store), (err) => {
        if (restarts === began || !isClosedRefusal(err)) throw err;
        w.unwritten();
      });
    },
  };
  const inFlight = new Set<Promise<void>>();
  const checkpoints = new Set<Promise<void>>();
  /** Every op answered, and every lease expiry and abandon kill (answered by an event). */
  const drain = async () => {
    while (inFlight.size > 0 || abandons.pending > 0) {
      if (inFlight.size > 0) await Promise.race(inFlight);
      else await new Promise((resolve) => setImmediate(resolve));
    }
  };
  const run = (name: string, op: () => Promise<void>): void => {
    count(name);
    const began = restarts;
    const p = op().catch((err) => {
      if (restarts !== began && isClosedRefusal(err)) count("refusedByRestart");
      else failures.push(`seed ${seed} step ${step}: ${name} failed: ${(err as Error).stack ?? err}`);
    }).finally(() => inFlight.delete(p));
    inFlight.add(p);
  };
  const cronBusy = () => busy(blobs.get(`cron:${CRON_GROUP}`)!);
  for (step = 0; step < steps && failures.length === 0; step++) {
    const r = random();
    if (r < 0.01) {
      // A clean restart with writes in flight (not drained): the take stream's jobs go back
      // to ready (abandoned: counted, the last allowed kills), the close lands what was
      // appended, and writes not appended yet are refused ("store is closed").
      count("restart");
      // Store.checkpoint() (for tests and benches; the server's own checkpoints stop at
      // close) waiting for a checkpoint in progress would start another beside close's
      // final one, on the same checkpoint.tmp: let the workload's finish first.
      while (checkpoints.size > 0) await Promise.race([...checkpoints].map((c) => c.catch(() => {})));
      dropStream();
      restarts++;
      live.closing.now = true;
      live.queue.stop();
      segmentsRetired += live.store.compactionStats.segments;
      await live.store.close();
      // Ops still waiting (for the enqueue lock, say) now find the store closed. Settled
      // before the reopen: one reading the old store's payloads must not get a file
      // descriptor the new store reused.
      await drain();
      abandons.counts.clear(); // counts are in memory only (docs/api.md)
      live = await openQueue();
    } else if (r < 0.014) {
      // A reset with writes in flight (not drained): each lands before or after the RESET
      // record, all or nothing (issueJobs says how the ledger tells which).
      count("reset");
      // Half the time, a burst of writes issued just before it, not awaited.
      if (chance(0.5)) {
        for (let i = 1 + Math.floor(random() * 3); i > 0; i--) {
          const op = pick(["enqueue", "enqueueBatched", "enqueueBatched", "enqueueBulk", "ack", "nack", "remove", "patch"]);
          if ((op === "ack" || op === "nack") && heldIdle().length === 0) continue;
          if (op === "remove" && idle().length === 0) continue;
          if (op === "patch" && queued().length === 0) continue;
          run(op, work[op]);
        }
      }
      const present = [...jobs.keys()].filter((n) => ledger.mayExist(n));
      const w = issueJobs(present, "reset");
      const answers = [...blobs.keys()].filter((k) => ledger.blobMayExist(k)).map((k) => issueBlob(k));
      ledger.onResetLanded = () => {
        w.fill(() => undefined, () => false);
        w.answer();
        for (const a of answers) a.answer(undefined);
      };
      const began = ledger.resetsLanded;
      await live.queue.reset();
      if (ledger.resetsLanded !== began + 1) failures.push(`seed ${seed} step ${step}: a reset was answered, its RESET record not seen landing`);
    } else if (r < 0.04) {
      const store = live.store;
      const p = (async () => {
        const before = ledgerNow();
        if (await store.checkpoint()) checkpointed = before;
      })();
      checkpoints.add(p);
      run("checkpoint", () => p.finally(() => checkpoints.delete(p)));
    } else if (r < 0.055) {
      run("compact", () => live.queue.compact());
    } else if (r < 0.12) {
      count("clock");
      clock.advance(100 + Math.floor(random() * 2500));
      live.queue.scheduler.tick();
      live.queue.budgets.gate.tick(); // drip wake-ups due at the new time
      abandons.fireLeases(live.store, live.queue);
    } else if (r < 0.13) {
      run("reap", async () => { await live.queue.reap(); });
    } else if (r < 0.14) {
      if (heldIdle().length === held.size) {
        count("dropStream");
        dropStream();
        const t = openTaker(live.queue);
        live = { ...live, ...t };
      }
    } else if (r < 0.16) {
      if (PAUSE_NAMES.some((p) => !busy(blobs.get(`pause:${p}`)!))) run("pause", work.pause);
    } else if (r < 0.21) {
      if (!cronBusy()) run("cron", work.cron);
    } else if (r < 0.235) {
      if (budgetWork.idleKeys().length > 0) run("budget", () => budgetWork.policyWrite(live.store, live.queue));
    } else if (r < 0.25) {
      if (queued().some((t) => !held.has(jobs.get(t)!.id!))) run("rebind", work.rebind);
    } else if (r < 0.42) {
      run("enqueue", work.enqueue);
    } else if (r < 0.49) {
      run("enqueueBulk", work.enqueueBulk);
    } else if (r < 0.62) {
      if (heldIdle().length > 0) run("ack", work.ack);
    } else if (r < 0.67) {
      if (heldIdle().length > 0) run("ackBulk", work.ackBulk);
    } else if (r < 0.79) {
      if (heldIdle().length > 0) run("nack", work.nack);
    } else if (r < 0.81) {
      if (heldIdle().length > 0) run("heartbeat", work.heartbeat);
    } else if (r < 0.87) {
      if (retryable().length > 0) run("retry", work.retry);
    } else if (r < 0.93) {
      if (idle().length > 0) run("remove", work.remove);
    } else if (queued().length > 0) {
      run("patch", work.patch);
    }
    if (inFlight.size >= 4 || (inFlight.size > 0 && chance(0.3))) await Promise.race(inFlight);
    // Let the take stream be served now and then (deliveries run from setImmediate).
    if (chance(0.3)) await new Promise((resolve) => setImmediate(resolve));
  }
  await drain();
  dropStream();
  live.queue.stop();
  segmentsRetired += live.store.compactionStats.segments;
  await live.store.close();
  for (const err of backgroundErrors) failures.push(`seed ${seed}: background error: ${err}`);
  for (const [n, e] of jobs) {
    if (e.versions.includes(UNFILLED) || e.pending.size > 0) failures.push(`seed ${seed}: tag ${n} (job ${e.id}) has a write never answered: ${e.versions.map((v, i) => `${e.writes[i]} ${v === UNFILLED ? "UNFILLED" : v ? v.meta.status : "absent"}`).join(", ")}`);
  }
  return { world: { jobs, blobs, atomics }, taken, moments: moments(), ops, failures, segmentsRetired, liveDir, pfs, random, acked: ledger.answered };
}
