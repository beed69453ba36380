// Power loss under the queue layer: a seeded workload drives a Queue (lib/queue/queue.ts)
// over a Store on the simulated disk of test/helpers/power-loss-fs.ts, with a manual
// clock, up to 4 operations in flight: enqueue (single and bulk; unique keys in all three
// scopes; ready_at in the future; retry limits, backoff and retention; batches, whose
// folds rewrite the open batch job; a concurrency budget made by create_with), take (one
// take stream, as a worker holds it), ack (single and bulk), nack (retry, retry_at,
// kill), patches, deletes (single and bulk), queue pauses, a cron group (put, pause,
// firings), the reaper, checkpoints, compaction, clean restarts and resets. Cuts and images as in
// power-loss.ts (shared: _power-cuts.ts). Each image is opened as a server opens it (store,
// then Queue, at the cut's clock) and judged on what a user of the queue relies on:
//
//  Every job (keyed by the tag in its payload: the caller knows the id only once told)
//  is compared as a user sees it: its job view (API.md §2.1) without `dequeued_at` (a
//  take writes nothing, so a crash may bring back an older one; docs/api.md), with
//  scheduled, ready and in_flight as one "pending" status (taking and promotion write
//  nothing; ready_at is compared exactly), a job past its purge_at as absent (§4.2:
//  invisible everywhere), its payload and its error records.
//
//  fsync mode (enqueue and write sync): every job is in the state of its last
//    acknowledged write, or of the one write in flight on it at the cut (an enqueue not
//    yet answered may be there or not; a duplicate answer wrote nothing); pause states
//    and the cron group likewise (last answered, or the one in flight).
//  buffered mode: every job served is exactly as one write issued for it left it (view,
//    payload and error records together: a cut keeps a prefix of the log), or absent;
//    and nothing acknowledged before the last completed checkpoint (which syncs the log
//    before it) is older or absent unless a later write made it so. Pause states and the
//    cron group likewise. (Cross-job checks below hold in every mode: a prefix of the
//    log never shows a later write without an earlier one.)
//  enqueue-fsync mode (`--enqueue-commit-mode fsync`, other writes buffered): as
//    buffered, and an answered enqueue that created a job is there (in a state written
//    for it) unless a write since removed it (an ack, a delete, a death, a purge).
//  all modes:
//   - no job comes back in flight (a worker's jobs are ready again after a restart),
//     and a take stream then gets every ready job of an unpaused queue;
//   - attempts and error history agree: the n-th error record has attempt n, and there
//     are as many as attempts (the workload never retries a dead job);
//   - a cron entry fired each occurrence at most once, its jobs (ready_at = the firing
//     time) are exactly the firings its served schedule says happened (a firing and
//     its schedule are one write), and last/next_enqueue_at agree;
//   - a unique key blocks a new enqueue after recovery iff a served job with that key
//     is in the key's scope (API.md §4.3); an `active` key has at most one unfinished
//     job, an `exists` key at most one job;
//   - a bulk enqueue is all or nothing; a budget an unfinished job draws on exists;
//   - after recovery, jobs no budget parks are handed out in (priority, id) order;
//   - writes made after recovery (the probes, acks of everything taken) survive a clean
//     reopen, which serves the same.
//
// `npm run reliability -- --only power-loss-queue` runs the long version; the reduced one
// is test/queue/power-loss-queue.test.ts.

import assert from "node:assert/strict";
import type { JobMeta } from "../../lib/storage/codec.ts";
import { unpackValue } from "../../lib/storage/codec.ts";
import { BLOB_NAMESPACE_BUDGET, BLOB_NAMESPACE_CRON, BLOB_NAMESPACE_QUEUE, STATUS_IN_FLIGHT, STATUS_READY } from "../../lib/storage/format.ts";
import { type Store, openStore } from "../../lib/storage/store.ts";
import { ManualClock } from "../../lib/queue/clock.ts";
import { viewOfMeta } from "../../lib/queue/job.ts";
import { Queue, type QueueOptions } from "../../lib/queue/queue.ts";
import type { EnqueueResult, Taker } from "../../lib/queue/types.ts";
import { inScope } from "../../lib/queue/unique.ts";
import { type NamesModel, PowerLossFs } from "../../test/helpers/power-loss-fs.ts";
import { prng } from "../../test/helpers/random.ts";
import { T0 } from "../../test/helpers/storage.ts";
import { tmpDir } from "../../test/helpers/tmp.ts";
import { type Taken, judgeCuts, sampleCuts } from "./_power-cuts.ts";

export interface QueuePowerLossOptions {
  seed: number;
  /** "enqueue-fsync": `--enqueue-commit-mode fsync` over buffered writes. */
  mode: "fsync" | "buffered" | "enqueue-fsync";
  names?: NamesModel;
  steps?: number;
  cuts?: number;
  imagesPerCut?: number;
  /** Stop judging after this many failed images. @default 5 */
  maxFailures?: number;
  log?: (line: string) => void;
}

export interface QueuePowerLossResult {
  seed: number;
  mode: string;
  names: NamesModel;
  steps: number;
  /** Operations answered (each enqueue, ack, nack, delete, pause, cron write, reset). */
  acked: number;
  ops: Record<string, number>;
  moments: number;
  cuts: number;
  images: number;
  opened: number;
  fromCheckpoint: number;
  failedImages: number;
  /** Jobs judged over all opens: as last acknowledged, as the write in flight, an older written state (buffered), checked against a checkpoint (buffered). */
  jobs: { acked: number; inFlight: number; older: number; checkpointed: number; cron: number };
  /** Probes after recovery: unique-key enqueues, jobs taken and acked. */
  probes: { unique: number; duplicates: number; taken: number };
  fsCalls: PowerLossFs["counts"];
  segmentsRetired: number;
  failures: string[];
}

const SEGMENT_BYTES = 64 * 1024;
const QUEUES = ["a", "b"];
const PAUSE_NAMES = ["a", "b", "x"];
/** Unique keys by scope: the workload uses each key with one scope only, so "held" has one meaning per key. */
const KEYS: Record<string, "queued" | "active" | "exists"> = { q0: "queued", q1: "queued", a0: "active", a1: "active", e0: "exists", e1: "exists" };
const BUDGET_KEYS = ["w0", "w1"];
/** Batched jobs (API.md §4.4): up to 3 items a batch; a fold keeps the open job's tag. */
const BATCH_KEYS = ["bk0", "bk1"];
const batchOf = (key: string) => ({ key, when: "(($existing.items | length) + ($new.items | length)) <= 3", fold: "$existing | .items += $new.items" });
const CRON_GROUP = "g";
const CRON_ENTRIES = [
  { name: "e1", expression: "* * * * * *" },
  { name: "e2", expression: "*/3 * * * * *" },
];

/** A job as the store holds it after a write: what a user can read back. */
interface JobState {
  meta: JobMeta;
  payload: string;
  errors: string[];
}

const UNFILLED = Symbol("unfilled");
type Version = JobState | undefined | typeof UNFILLED;

interface Entry {
  /** State after each write issued for this job (undefined: absent); filled when the write is answered. */
  versions: Version[];
  acked: number;
  busy: boolean;
  id?: string;
  /** Enqueued with this batch key: later batched enqueues may rewrite it. */
  batchKey?: string;
}

interface BlobEntry {
  /** The blob as JSON after each write (undefined: none). */
  versions: (string | undefined | typeof UNFILLED)[];
  acked: number;
  busy: boolean;
}

type LedgerCut = { jobs: Map<number, [number, number]>; blobs: Map<string, [number, number]>; clockMs: number };
interface Ledgers {
  ledger: LedgerCut;
  /** The ledger when the last completed checkpoint (as of the cut) began. */
  checkpointed: LedgerCut;
}

/** A job as a user compares it (see the header); undefined when absent or past its purge_at. */
function userView(s: JobState | undefined, nowMs: number): { view: string; payload: string; errors: string[] } | undefined {
  if (!s) return undefined;
  if (s.meta.purgeAtMs !== undefined && s.meta.purgeAtMs <= nowMs) return undefined;
  const v: Record<string, unknown> = { ...viewOfMeta(s.meta) };
  delete v.dequeued_at;
  if (v.status === "scheduled" || v.status === "ready" || v.status === "in_flight") v.status = "pending";
  return { view: JSON.stringify(v), payload: s.payload, errors: s.errors };
}
const whole = (u: ReturnType<typeof userView>): string => (u ? `${u.view} payload ${u.payload.slice(0, 60)} errors ${JSON.stringify(u.errors)}` : "absent");

/** What a recovered store serves: jobs by tag, cron jobs by entry, the blobs we write. */
interface Served {
  jobs: Map<number, JobState>;
  cron: Map<string, JobState[]>;
  probes: JobState[];
  blobs: Map<string, string>;
  budgets: Set<string>;
}

function serve(store: Store): Served {
  const out: Served = { jobs: new Map(), cron: new Map(), probes: [], blobs: new Map(), budgets: new Set() };
  for (const slot of store.table.slotById.values()) {
    const s = stateOf(store, slot);
    const p = JSON.parse(s.payload) as { n?: number; cron?: string; probe?: string };
    if (typeof p.n === "number") out.jobs.set(p.n, s);
    else if (typeof p.cron === "string") out.cron.set(p.cron, [...(out.cron.get(p.cron) ?? []), s]);
    else out.probes.push(s);
  }
  for (const [k, v] of store.blobsIn(BLOB_NAMESPACE_QUEUE)) out.blobs.set(`pause:${k}`, JSON.stringify(unpackValue(v)));
  for (const [k, v] of store.blobsIn(BLOB_NAMESPACE_CRON)) out.blobs.set(`cron:${k}`, JSON.stringify(unpackValue(v)));
  for (const k of store.blobsIn(BLOB_NAMESPACE_BUDGET).keys()) out.budgets.add(k);
  return out;
}

function stateOf(store: Store, slot: number): JobState {
  return { meta: store.table.meta(slot), payload: store.payload(slot).toString(), errors: store.errors(slot).map((e) => JSON.stringify(e)) };
}

const cronGroupBody = {
  entries: CRON_ENTRIES.map((e) => ({ name: e.name, expression: e.expression, timezone: "UTC", job: { type: "cron", queue: "cron", payload: { cron: e.name } } })),
};

interface CronEntryState { name: string; last_enqueue_at?: number; next_enqueue_at?: number }

export async function runQueuePowerLoss(options: QueuePowerLossOptions): Promise<QueuePowerLossResult> {
  const { seed, mode } = options;
  const names = options.names ?? "journal";
  const steps = options.steps ?? 400;
  const sync = mode === "fsync";
  const enqueueSync = mode !== "buffered";
  const random = prng(seed);
  const chance = (p: number): boolean => random() < p;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const clock = new ManualClock(T0);
  // As power-loss.ts: odd seeds checkpoint in the background all the time, even ones
  // only when the workload asks (and at the first roll).
  const storeOptions = { segmentBytes: SEGMENT_BYTES, syncDirs: enqueueSync, cacheBytes: 256 * 1024, checkpointEveryMs: seed % 2 === 0 ? 60_000 : 20 };
  const queueOptions = (c: ManualClock, onError: (err: unknown, where: string) => void): QueueOptions => ({
    clock: c,
    enqueueSync,
    writeSync: sync,
    reaperIntervalMs: 0,
    random: prng(seed ^ 0xbac),
    defaults: { retryLimit: 2, backoff: { exponent: 1, base_ms: 500, jitter_ms: 0 }, completedRetentionMs: 0, deadRetentionMs: 4000 },
    onError,
  });

  const liveDir = tmpDir("zizq-power-queue-live-");
  const pfs = new PowerLossFs(liveDir, names);
  const jobs = new Map<number, Entry>();
  const idToTag = new Map<string, number>();
  /** The tags of each bulk enqueue: all or nothing (API.md §3.5). */
  const bulks: number[][] = [];
  const blobs = new Map<string, BlobEntry>([...PAUSE_NAMES.map((n) => `pause:${n}`), `cron:${CRON_GROUP}`].map((k) => [k, { versions: [], acked: 0, busy: false }]));
  const failures: string[] = [];
  const backgroundErrors: string[] = [];
  const ops: Record<string, number> = {};
  let acked = 0;
  let step = 0;
  let segmentsRetired = 0;

  const ledgerNow = (): LedgerCut => ({
    jobs: new Map([...jobs].map(([n, e]) => [n, [e.versions.length, e.acked]])),
    blobs: new Map([...blobs].map(([k, e]) => [k, [e.versions.length, e.acked]])),
    clockMs: clock.now(),
  });
  let checkpointed: LedgerCut = { jobs: new Map(), blobs: new Map(), clockMs: T0 };
  const { taken, moments } = sampleCuts<Ledgers>(pfs, seed, options.cuts ?? 40, () => ({ ledger: ledgerNow(), checkpointed }), () => step);

  // ---- the live queue
  const onError = (err: unknown, where: string) => backgroundErrors.push(`${where}: ${(err as Error).stack ?? err}`);
  const held = new Set<string>();
  const openQueue = async (): Promise<{ store: Store; queue: Queue; taker: Taker }> => {
    const store = await openStore({ dir: liveDir, fs: pfs, ...storeOptions, now: () => clock.now() });
    store.onBackgroundError = (err) => onError(err, "compaction");
    const queue = new Queue(store, queueOptions(clock, onError));
    // Cron firings are the workload's own (cronTick below), so each is in the ledger:
    // the queue's timer runs on real time against the manual clock.
    queue.cronScheduler.stop();
    const taker = queue.take({ queues: QUEUES, prefetch: 6, deliver: ({ job }) => { held.add(job.id); return true; } });
    return { store, queue, taker };
  };
  let live = await openQueue();

  const snapshot = (id: string): JobState | undefined => {
    const slot = live.store.table.slotById.get(id);
    return slot === undefined ? undefined : stateOf(live.store, slot);
  };
  const blobNow = (key: string): string | undefined => {
    const [kind, name] = key.split(":");
    const bytes = live.store.blobsIn(kind === "cron" ? BLOB_NAMESPACE_CRON : BLOB_NAMESPACE_QUEUE).get(name);
    return bytes === undefined ? undefined : JSON.stringify(unpackValue(bytes));
  };
  /** Issue a write on `tags`: returns the answer, which fills each version from memory. */
  const issueJobs = (tags: readonly number[]): ((fill: (tag: number) => JobState | undefined) => void) => {
    const at = tags.map((n) => {
      const e = jobs.get(n)!;
      e.busy = true;
      e.versions.push(UNFILLED);
      return e.versions.length - 1;
    });
    return (fill) => {
      tags.forEach((n, i) => {
        const e = jobs.get(n)!;
        e.versions[at[i]] = fill(n);
        e.acked = at[i] + 1;
        e.busy = false;
      });
      if (tags.length > 0) acked++;
    };
  };
  const issueBlob = (key: string): (() => void) => {
    const e = blobs.get(key)!;
    e.busy = true;
    e.versions.push(UNFILLED);
    const at = e.versions.length - 1;
    return () => {
      e.versions[at] = blobNow(key);
      e.acked = at + 1;
      e.busy = false;
      acked++;
    };
  };
  const current = (n: number): Version => jobs.get(n)!.versions.at(-1);
  /** Jobs with no write in flight that exist now (by their last answered write). */
  const idle = (): number[] => [...jobs].filter(([, e]) => !e.busy && e.id !== undefined && e.versions.at(-1)).map(([n]) => n);
  const heldIdle = (): string[] => [...held].filter((id) => idToTag.has(id) && !jobs.get(idToTag.get(id)!)!.busy);

  let nextTag = 1;
  const jobBody = (n: number): Record<string, unknown> => {
    const body: Record<string, unknown> = {
      type: "t", queue: pick(QUEUES), priority: Math.floor(random() * 4),
      payload: { n, items: [n], pad: "p".repeat(chance(0.1) ? 1500 + Math.floor(random() * 2500) : Math.floor(random() * 300)) },
    };
    if (chance(0.2)) body.ready_at = clock.now() + 1 + Math.floor(random() * 5000);
    if (chance(0.15)) {
      body.batch = batchOf(pick(BATCH_KEYS));
    } else if (chance(0.3)) {
      const key = pick(Object.keys(KEYS));
      body.unique_key = key;
      body.unique_while = KEYS[key];
    }
    if (chance(0.5)) body.retry_limit = Math.floor(random() * 3);
    if (chance(0.3)) body.backoff = { exponent: 1, base_ms: Math.floor(random() * 3000), jitter_ms: 0 };
    if (chance(0.5)) body.retention = { completed_ms: pick([0, 1500, 60_000]), dead_ms: pick([0, 2000, 60_000]) };
    // A concurrency budget, made by the first enqueue that names it (in its own write).
    if (chance(0.15)) body.budgets = [{ key: pick(BUDGET_KEYS), cost: 1, create_with: { allocation: 3, strategy: { type: "while_in_flight" } } }];
    return body;
  };
  const answerEnqueue = (tags: number[], results: EnqueueResult[]) => (n: number): JobState | undefined => {
    const r = results[tags.indexOf(n)];
    if (!r.created) {
      // A duplicate wrote nothing, a fold rewrote its batch job (in `batchTargets`): no job of its own.
      const what = r.folded ? "folded" : "duplicates";
      ops[what] = (ops[what] ?? 0) + 1;
      assert.ok((r.duplicate || r.folded) && idToTag.has(r.job.id), `enqueue of tag ${n}: answered ${JSON.stringify(r)}, not a created job nor a known holder or batch`);
      return undefined;
    }
    jobs.get(n)!.id = r.job.id;
    idToTag.set(r.job.id, n);
    return snapshot(r.job.id);
  };

  /**
   * The jobs a batched enqueue may rewrite (fold into, or seal): every present job of its
   * batch keys, issued a write with it. Undefined when one of them has a write in flight
   * (the workload then sends the enqueue without `batch`).
   */
  const batchTargets = (bodies: Record<string, unknown>[]): number[] | undefined => {
    const keys = new Set(bodies.flatMap((b) => (b.batch ? [(b.batch as { key: string }).key] : [])));
    if (keys.size === 0) return [];
    const targets = [...jobs].filter(([, e]) => e.batchKey !== undefined && keys.has(e.batchKey) && e.versions.at(-1) !== undefined);
    if (targets.some(([, e]) => e.busy)) return undefined;
    return targets.map(([n]) => n);
  };
  const enqueueTags = async (tags: number[], bulk: boolean): Promise<void> => {
    const bodies = tags.map(jobBody);
    let targets = batchTargets(bodies);
    if (!targets) {
      for (const b of bodies) delete b.batch;
      targets = [];
    }
    tags.forEach((n, i) => jobs.set(n, { versions: [], acked: 0, busy: false, batchKey: (bodies[i].batch as { key: string } | undefined)?.key }));
    const answer = issueJobs(tags);
    const rewritten = issueJobs(targets);
    const rs = bulk ? await live.queue.enqueueBulk({ jobs: bodies }) : [await live.queue.enqueue(bodies[0])];
    answer(answerEnqueue(tags, rs));
    rewritten((n) => snapshot(jobs.get(n)!.id!));
  };

  const work: Record<string, () => Promise<void>> = {
    async enqueue() {
      await enqueueTags([nextTag++], false);
    },
    async enqueueBulk() {
      const tags = Array.from({ length: 2 + Math.floor(random() * 4) }, () => nextTag++);
      bulks.push(tags);
      await enqueueTags(tags, true);
    },
    async ack() {
      const id = pick(heldIdle());
      held.delete(id);
      const answer = issueJobs([idToTag.get(id)!]);
      await live.queue.complete(id);
      answer(() => snapshot(id));
    },
    async ackBulk() {
      const ids = [...new Set(Array.from({ length: 2 + Math.floor(random() * 4) }, () => pick(heldIdle())))];
      for (const id of ids) held.delete(id);
      const answer = issueJobs(ids.map((id) => idToTag.get(id)!));
      const notFound = await live.queue.completeMany({ ids });
      assert.deepEqual(notFound, [], "a bulk ack of held jobs");
      answer((n) => snapshot(jobs.get(n)!.id!));
    },
    async nack() {
      const id = pick(heldIdle());
      held.delete(id);
      const n = idToTag.get(id)!;
      const answer = issueJobs([n]);
      const body: Record<string, unknown> = { message: `boom ${n}.${jobs.get(n)!.versions.length}`, error_type: "E" };
      if (chance(0.15)) body.kill = true;
      else if (chance(0.2)) body.retry_at = clock.now() + Math.floor(random() * 4000);
      const view = await live.queue.fail(id, body);
      answer(() => {
        const s = snapshot(id);
        if (s) assert.equal(s.meta.attempts, view.attempts, `nack of ${id}: answered attempts ${view.attempts}, memory ${s.meta.attempts}`);
        return s;
      });
    },
    async remove() {
      const all = idle();
      const tags = [...new Set(Array.from({ length: chance(0.3) ? 2 + Math.floor(random() * 3) : 1 }, () => pick(all)))];
      const ids = tags.map((n) => jobs.get(n)!.id!);
      for (const id of ids) held.delete(id);
      const answer = issueJobs(tags);
      if (ids.length === 1) {
        // A job the reaper removed (past its purge_at) is not found: it was gone already.
        await live.queue.deleteOne(ids[0]).catch((err: { code?: string }) => { if (err.code !== "not_found") throw err; });
      } else {
        await live.queue.deleteMany({ ids });
      }
      answer(() => undefined);
    },
    async patch() {
      const n = pick(idle().filter((t) => { const v = current(t); return v !== UNFILLED && v !== undefined && v.meta.status <= STATUS_READY; }));
      const id = jobs.get(n)!.id!;
      const answer = issueJobs([n]);
      const body = chance(0.5) ? { priority: Math.floor(random() * 4) } : { ready_at: clock.now() + Math.floor(random() * 3000) - 1000 };
      await live.queue.patchOne(id, body).catch((err: { code?: string }) => { if (err.code !== "not_found") throw err; });
      answer(() => snapshot(id));
    },
    async pause() {
      const name = pick(PAUSE_NAMES.filter((p) => !blobs.get(`pause:${p}`)!.busy));
      const answer = issueBlob(`pause:${name}`);
      await live.queue.setPaused(name, !live.queue.pauses.paused.has(name));
      answer();
    },
    async cron() {
      const key = `cron:${CRON_GROUP}`;
      const answer = issueBlob(key);
      const exists = live.queue.crons.names().includes(CRON_GROUP);
      if (!exists || chance(0.1)) await live.queue.crons.putGroup(CRON_GROUP, cronGroupBody);
      else if (chance(0.3)) await live.queue.crons.patchGroup(CRON_GROUP, { paused: !live.queue.crons.getGroup(CRON_GROUP).paused });
      else await cronTicker(live.queue).tick();
      answer();
    },
  };
  // The queue's own CronScheduler is stopped (its timer runs on real time, against the
  // manual clock); a twin of it (its prototype: the same book and enqueue path, not
  // stopped) fires when the workload says so, so every firing is in the ledger.
  const tickers = new WeakMap<Queue, Queue["cronScheduler"]>();
  function cronTicker(queue: Queue): Queue["cronScheduler"] {
    let t = tickers.get(queue);
    if (!t) {
      t = Object.create(queue.cronScheduler) as Queue["cronScheduler"];
      (t as unknown as { stopped: boolean }).stopped = false;
      tickers.set(queue, t);
    }
    return t;
  }

  const inFlight = new Set<Promise<void>>();
  const drain = async () => { while (inFlight.size > 0) await Promise.race(inFlight); };
  const run = (name: string, op: () => Promise<void>): void => {
    ops[name] = (ops[name] ?? 0) + 1;
    const p = op().catch((err) => { failures.push(`seed ${seed} step ${step}: ${name} failed: ${(err as Error).stack ?? err}`); })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  };
  const cronBusy = () => blobs.get(`cron:${CRON_GROUP}`)!.busy;
  for (step = 0; step < steps && failures.length === 0; step++) {
    const r = random();
    if (r < 0.01) {
      // A clean restart (page cache kept): the take stream's jobs go back to ready.
      ops.restart = (ops.restart ?? 0) + 1;
      await drain();
      live.taker.close();
      live.queue.stop();
      segmentsRetired += live.store.compactionStats.segments;
      await live.store.close();
      held.clear();
      live = await openQueue();
    } else if (r < 0.014) {
      ops.reset = (ops.reset ?? 0) + 1;
      await drain();
      const present = [...jobs].filter(([, e]) => e.versions.at(-1)).map(([n]) => n);
      const answer = issueJobs(present);
      const answers = [...blobs].filter(([, e]) => e.versions.at(-1) !== undefined).map(([k]) => issueBlob(k));
      await live.queue.reset();
      held.clear();
      answer(() => undefined);
      for (const a of answers) a();
    } else if (r < 0.04) {
      run("checkpoint", async () => {
        const before = ledgerNow();
        if (await live.store.checkpoint()) checkpointed = before;
      });
    } else if (r < 0.055) {
      run("compact", () => live.queue.compact());
    } else if (r < 0.12) {
      ops.clock = (ops.clock ?? 0) + 1;
      clock.advance(100 + Math.floor(random() * 2500));
      live.queue.scheduler.tick();
    } else if (r < 0.14) {
      run("reap", async () => { await live.queue.reap(); });
    } else if (r < 0.16) {
      if (PAUSE_NAMES.some((p) => !blobs.get(`pause:${p}`)!.busy)) run("pause", work.pause);
    } else if (r < 0.22) {
      if (!cronBusy()) run("cron", work.cron);
    } else if (r < 0.45) {
      run("enqueue", work.enqueue);
    } else if (r < 0.52) {
      run("enqueueBulk", work.enqueueBulk);
    } else if (r < 0.66) {
      if (heldIdle().length > 0) run("ack", work.ack);
    } else if (r < 0.72) {
      if (heldIdle().length > 0) run("ackBulk", work.ackBulk);
    } else if (r < 0.86) {
      if (heldIdle().length > 0) run("nack", work.nack);
    } else if (r < 0.93) {
      if (idle().length > 0) run("remove", work.remove);
    } else if (idle().some((t) => { const v = current(t); return v !== UNFILLED && v !== undefined && v.meta.status <= STATUS_READY; })) {
      run("patch", work.patch);
    }
    if (inFlight.size >= 4 || (inFlight.size > 0 && chance(0.3))) await Promise.race(inFlight);
    // Let the take stream be served now and then (deliveries run from setImmediate).
    if (chance(0.3)) await new Promise((resolve) => setImmediate(resolve));
  }
  await drain();
  live.taker.close();
  live.queue.stop();
  segmentsRetired += live.store.compactionStats.segments;
  await live.store.close();
  for (const err of backgroundErrors) failures.push(`seed ${seed}: background error: ${err}`);

  // ---- judge every cut
  const result: QueuePowerLossResult = {
    seed, mode, names, steps, acked, ops, moments: moments(), cuts: taken.length, images: 0, opened: 0, fromCheckpoint: 0, failedImages: 0,
    jobs: { acked: 0, inFlight: 0, older: 0, checkpointed: 0, cron: 0 }, probes: { unique: 0, duplicates: 0, taken: 0 },
    fsCalls: pfs.counts, segmentsRetired, failures,
  };
  if (failures.length > 0) return result;
  const counts = await judgeCuts(
    taken, { seed, label: `queue ${mode}/${names}`, liveDir, names, imagesPerCut: options.imagesPerCut ?? 2, maxFailures: options.maxFailures ?? 5, failures, log: options.log, random },
    (dir, checkpoint, t, where) => judgeImage(dir, checkpoint, t, where),
  );
  Object.assign(result, counts);
  return result;

  async function openImage(dir: string, checkpoint: boolean, nowMs: number, how: string): Promise<{ store: Store; queue: Queue }> {
    let store: Store;
    try {
      store = await openStore({ dir, ...storeOptions, checkpoint, now: () => nowMs });
    } catch (err) {
      throw new Error(`the store refused to open after the power cut (${how}): ${(err as Error).message}`, { cause: err });
    }
    const errors: string[] = [];
    const queue = new Queue(store, queueOptions(new ManualClock(nowMs), (err, where) => errors.push(`${where}: ${err}`)));
    queue.cronScheduler.stop();
    return { store, queue };
  }

  async function judgeImage(dir: string, checkpoint: boolean, t: Taken<Ledgers>, where: string): Promise<boolean> {
    const how = checkpoint ? "from checkpoint if usable" : "full scan";
    const nowMs = t.ledger.ledger.clockMs;
    let { store, queue } = await openImage(dir, checkpoint, nowMs, how);
    let closed = false;
    try {
      result.opened++;
      const label = `${where} [${how}, recovered by ${store.recovery.from}${store.recovery.reason ? `: ${store.recovery.reason}` : ""}]`;
      assert.equal(store.table.statusCounts[STATUS_IN_FLIGHT], 0, `${label}: jobs came back in flight`);
      const served = serve(store);
      judge(served, t.ledger, nowMs, label, checkpoint);
      // ---- probes: unique keys block iff a served job holds them
      for (const [key, scope] of Object.entries(KEYS)) {
        const holders = [...store.table.slotById.values()].filter((slot) => {
          const o = store.table.extras.get(slot)?.options as { unique_key?: string } | undefined;
          return o?.unique_key === key && inScope(scope, store.table.status[slot]);
        });
        const r = await queue.enqueue({ type: "probe", queue: "probe", payload: { probe: key }, unique_key: key, unique_while: scope });
        result.probes.unique++;
        if (r.duplicate) result.probes.duplicates++;
        assert.equal(r.duplicate, holders.length > 0, `${label}: unique key ${key} (${scope}) ${r.duplicate ? "blocked an enqueue with no job holding it" : `did not block an enqueue though ${holders.map((s) => store.table.idOf(s)).join(", ")} hold it`}`);
      }
      // ---- every ready job of an unpaused queue is handed out, and its ack lands
      queue.scheduler.tick();
      const readyIds: string[] = [];
      const recovered = new Map([...store.table.slotById.values()].map((slot) => [store.table.idOf(slot), store.table.meta(slot)]));
      for (const slot of store.table.slotById.values()) {
        if (store.table.status[slot] === STATUS_READY && !queue.pauses.paused.has(store.table.queues.name(store.table.queue[slot]))) readyIds.push(store.table.idOf(slot));
      }
      // Acked as they come: a concurrency budget hands out only as many as it allows.
      const got: string[] = [];
      let fresh: string[] = [];
      const taker = queue.take({ prefetch: 0, deliver: ({ job }) => { got.push(job.id); fresh.push(job.id); return true; } });
      const deadline = Date.now() + 60_000;
      while (got.length < readyIds.length && Date.now() < deadline) {
        if (fresh.length > 0) {
          const ids = fresh;
          fresh = [];
          assert.deepEqual(await queue.completeMany({ ids }), [], `${label}: acks of jobs taken after recovery`);
        } else {
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
      }
      if (fresh.length > 0) assert.deepEqual(await queue.completeMany({ ids: fresh }), []);
      assert.deepEqual([...got].sort(), [...readyIds].sort(), `${label}: a take stream after recovery got other jobs than the ready ones`);
      // In (priority, id) order, the jobs no budget parks (all ready from the start).
      const free = got.map((id) => recovered.get(id)!).filter((m) => m.options?.budgets === undefined);
      for (let i = 1; i < free.length; i++) {
        const [a, b] = [free[i - 1], free[i]];
        assert.ok(a.priority < b.priority || (a.priority === b.priority && a.id < b.id), `${label}: after recovery ${a.id} (priority ${a.priority}) was handed out before ${b.id} (priority ${b.priority})`);
      }
      result.probes.taken += got.length;
      taker.close();
      const after = serve(store);
      queue.stop();
      await store.close();
      closed = true;
      ({ store, queue } = await openImage(dir, checkpoint, nowMs, how));
      try {
        assert.deepEqual(comparable(serve(store), nowMs), comparable(after, nowMs), `${label}: a reopen after recovery and the probes serves something else`);
      } finally {
        queue.stop();
        await store.close();
      }
      return checkpoint && store.recovery.from === "checkpoint";
    } finally {
      if (!closed) {
        queue.stop();
        await store.close().catch(() => {});
      }
    }
  }

  function comparable(s: Served, nowMs: number): unknown {
    const views = (xs: JobState[]) => xs.map((x) => whole(userView(x, nowMs))).sort();
    return { jobs: views([...s.jobs.values()]), cron: [...s.cron].map(([k, v]) => [k, views(v)]).sort(), probes: views(s.probes), blobs: [...s.blobs].sort(), budgets: [...s.budgets].sort() };
  }

  function judge(served: Served, ledgers: Ledgers, nowMs: number, where: string, count: boolean): void {
    const r = count ? result : undefined;
    const { ledger, checkpointed } = ledgers;
    for (const n of served.jobs.keys()) assert.ok(ledger.jobs.has(n), `${where}: job with tag ${n} was never enqueued`);
    for (const [n, e] of jobs) {
      const [issued, ackedN] = ledger.jobs.get(n) ?? [0, 0];
      const written = e.versions.slice(0, issued) as (JobState | undefined)[];
      const got = userView(served.jobs.get(n), nowMs);
      const gotText = `${whole(got)}${got ? ` (id ${served.jobs.get(n)!.meta.id})` : ""}`;
      const same = (v: JobState | undefined) => whole(userView(v, nowMs)) === whole(got);
      if (got) {
        const s = served.jobs.get(n)!;
        const attempts = s.errors.map((x) => (JSON.parse(x) as { attempt: number }).attempt);
        assert.deepEqual(attempts, Array.from({ length: s.meta.attempts }, (_, i) => i + 1), `${where}: job ${s.meta.id} has attempts ${s.meta.attempts} and error records for attempts ${JSON.stringify(attempts)}`);
      }
      if (sync) {
        const last = ackedN > 0 ? written[ackedN - 1] : undefined;
        if (same(last)) {
          if (r) r.jobs.acked++;
          continue;
        }
        if (issued > ackedN && same(written[ackedN])) {
          if (r) r.jobs.inFlight++;
          continue;
        }
        assert.fail(`${where}: job with tag ${n} is ${gotText}; acknowledged: ${whole(userView(last, nowMs))}${issued > ackedN ? `; in flight: ${whole(userView(written[ackedN], nowMs))}` : ""}`);
      }
      // Buffered: nothing older than the last completed checkpoint ...
      const durableN = checkpointed.jobs.get(n)?.[1] ?? 0;
      if (durableN > 0) {
        const since = written.slice(durableN - 1).map((v) => userView(v, nowMs));
        const held = `acknowledged before the last completed checkpoint: ${whole(since[0])}${since.length > 1 ? `; written since: ${since.slice(1).map(whole).join(" | ")}` : ""}`;
        if (since.length === 1) assert.equal(whole(got), whole(since[0]), `${where}: job with tag ${n} is ${gotText}; ${held}`);
        else if (!got) assert.ok(since.some((v) => !v), `${where}: job with tag ${n} is absent; ${held}`);
        else {
          assert.ok(since.some((v) => v?.view === got.view), `${where}: job with tag ${n} is older than the checkpoint: ${gotText}; ${held}`);
          for (const err of since[0]?.errors ?? []) assert.ok(got.errors.includes(err), `${where}: job with tag ${n} lost an error record older than the checkpoint: ${err}; ${held}`);
        }
        if (r) r.jobs.checkpointed++;
      }
      // enqueue-fsync: an answered enqueue is there, unless a write since removed it.
      if (enqueueSync && ackedN > 0 && written[0] !== undefined && !got) {
        assert.ok(written.some((v) => !userView(v, nowMs)), `${where}: job with tag ${n} is absent, though its enqueue was answered and nothing since removed it; written: ${written.map((v) => whole(userView(v, nowMs))).join(" | ")}`);
      }
      // ... and each part of what is served was written for the job.
      if (!got) continue;
      const views = written.map((v) => userView(v, nowMs)).filter((v) => v !== undefined);
      assert.ok(views.some((v) => v.view === got.view), `${where}: job with tag ${n} is in a state never written: ${gotText}; written: ${views.map((v) => v.view).join(" | ")}`);
      const errorsWritten = new Set(views.flatMap((v) => v.errors));
      for (const err of got.errors) assert.ok(errorsWritten.has(err), `${where}: job with tag ${n} has an error record never written: ${err}`);
      // A cut keeps a prefix of the log (LogWriter.syncOlderThan, the scan stopping at a
      // gap): the job is as one write left it, its view, payload and history together.
      assert.ok(views.some((v) => whole(v) === whole(got)), `${where}: job with tag ${n} is ${gotText}, a mix of states written: ${views.map(whole).join(" | ")}`);
      if (r) {
        if (ackedN > 0 && same(written[ackedN - 1])) r.jobs.acked++;
        else r.jobs.older++;
      }
    }
    // ---- a bulk enqueue is one write: with nothing written on its jobs since, all or none of them
    for (const tags of bulks) {
      const made = tags.filter((n) => (ledger.jobs.get(n)?.[0] ?? 0) === 1 && jobs.get(n)!.versions[0] !== undefined);
      if (made.length < 2) continue;
      const present = made.filter((n) => served.jobs.has(n));
      assert.ok(present.length === 0 || present.length === made.length, `${where}: a bulk enqueue came back in part: tags ${present.join(", ")} of ${made.join(", ")}`);
    }
    // ---- a unique key in scope `active` has at most one unfinished job, in scope `exists`
    // at most one job (API.md §4.3: no enqueue is created while another job holds it so)
    const byKey = new Map<string, JobState[]>();
    for (const s of served.jobs.values()) {
      const key = (s.meta.options as { unique_key?: string } | undefined)?.unique_key;
      if (key !== undefined && KEYS[key] !== "queued") byKey.set(key, [...(byKey.get(key) ?? []), s]);
    }
    for (const [key, holders] of byKey) {
      const live = KEYS[key] === "exists" ? holders : holders.filter((s) => s.meta.status <= STATUS_IN_FLIGHT);
      assert.ok(live.length <= 1, `${where}: unique key ${key} (${KEYS[key]}) is held by ${live.length} jobs: ${live.map((s) => `${s.meta.id} (tag ${JSON.parse(s.payload).n}, status ${s.meta.status})`).join(", ")}`);
    }
    // ---- a budget an unfinished job draws on exists (made in the same write as its first job)
    for (const s of [...served.jobs.values()]) {
      if (s.meta.status > STATUS_IN_FLIGHT) continue;
      for (const b of (s.meta.options?.budgets ?? []) as { key: string }[]) {
        assert.ok(served.budgets.has(b.key), `${where}: job ${s.meta.id} draws on budget ${b.key}, which is not there`);
      }
    }
    // ---- pauses and the cron group: blobs
    const servedCronAt: number[] = [];
    for (const [key, e] of blobs) {
      const [issued, ackedN] = ledger.blobs.get(key) ?? [0, 0];
      const written = e.versions.slice(0, issued) as (string | undefined)[];
      const got = served.blobs.get(key);
      let ok: number[];
      if (sync) {
        ok = [ackedN - 1, ...(issued > ackedN ? [ackedN] : [])].filter((i) => (i < 0 ? got === undefined : written[i] === got));
        assert.ok(ok.length > 0, `${where}: ${key} is ${got}; acknowledged ${ackedN > 0 ? written[ackedN - 1] : undefined}${issued > ackedN ? `, in flight ${written[ackedN]}` : ""}`);
      } else {
        const durableN = checkpointed.blobs.get(key)?.[1] ?? 0;
        ok = written.map((v, i) => (v === got && i >= durableN - 1 ? i : -2)).filter((i) => i !== -2);
        if (got === undefined && (durableN === 0 || written.slice(Math.max(0, durableN - 1)).includes(undefined))) ok.push(-1);
        assert.ok(ok.length > 0, `${where}: ${key} is ${got}; written: ${written.join(" | ")}; acknowledged before the last completed checkpoint: ${durableN}`);
      }
      if (key.startsWith("cron:")) servedCronAt.push(...ok);
    }
    // ---- cron: the entries' jobs are exactly the firings their served schedule has seen
    const e = blobs.get(`cron:${CRON_GROUP}`)!;
    const firesUpTo = (k: number): Map<string, number[]> => {
      const fires = new Map<string, Set<number>>(CRON_ENTRIES.map((x) => [x.name, new Set()]));
      for (let i = 0; i <= k; i++) {
        const v = e.versions[i] as string | undefined;
        if (v === undefined) {
          for (const s of fires.values()) s.clear(); // a reset took the jobs with it
          continue;
        }
        for (const entry of (JSON.parse(v) as { entries: CronEntryState[] }).entries) {
          if (entry.last_enqueue_at !== undefined) fires.get(entry.name)!.add(entry.last_enqueue_at);
        }
      }
      return new Map([...fires].map(([name, s]) => [name, [...s].sort((a, b) => a - b)]));
    };
    const servedFires = new Map(CRON_ENTRIES.map((x) => [x.name, (served.cron.get(x.name) ?? []).map((s) => s.meta.readyAtMs).sort((a, b) => a - b)]));
    for (const [name, fires] of servedFires) {
      assert.equal(new Set(fires).size, fires.length, `${where}: cron entry ${name} fired an occurrence twice: ${fires.join(", ")}`);
    }
    const explained = servedCronAt.some((k) => {
      const want = k < 0 ? new Map(CRON_ENTRIES.map((x) => [x.name, [] as number[]])) : firesUpTo(k);
      return [...want].every(([name, fires]) => JSON.stringify(fires) === JSON.stringify(servedFires.get(name)));
    });
    assert.ok(explained, `${where}: the cron jobs served (${JSON.stringify([...servedFires])}) are not the firings of the served schedule ${served.blobs.get(`cron:${CRON_GROUP}`)}`);
    if (r) r.jobs.cron += [...servedFires.values()].reduce((s, f) => s + f.length, 0);
  }

}
