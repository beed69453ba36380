// The queue facade the HTTP layer talks to: one method per API operation, each reading
// the clock once and delegating to its transition module. It owns the background
// loops (scheduler timer, reaper) and the indexes kept beside the store.

import { STATUS_IN_FLIGHT } from "../storage/format.ts";
import { type Snapshot, openSnapshot } from "../storage/snapshot.ts";
import type { Store } from "../storage/store.ts";
import { Mutex } from "./_mutex.ts";
import { AdminView } from "./admin-view.ts";
import { BatchIndex } from "./batch.ts";
import { BudgetBook, writeBound } from "./budget-book.ts";
import { type BudgetMutation, type BulkBudgetResult, mutateJobBudgets, mutateJobsBudgets } from "./budget-jobs.ts";
import { type Clock, systemClock } from "./clock.ts";
import { complete } from "./complete.ts";
import type { QueueContext } from "./context.ts";
import { CronBook } from "./cron-book.ts";
import { CronScheduler } from "./cron-scheduler.ts";
import { type EnqueueInput, checkBatches, enqueue, parseEnqueue } from "./enqueue.ts";
import type { BindingRequest } from "./budget-policy.ts";
import { fail, parseFailure } from "./fail.ts";
import { IdGenerator } from "./ids.ts";
import { guarded, toQueueError } from "./errors.ts";
import { DEFAULTS, type JobDefaults, isExpired, isTerminal, optionsOf, viewOf, viewOfMeta } from "./job.ts";
import { LeaseKeeper } from "./lease-keeper.ts";
import { parsePatch, patchedMeta } from "./patch.ts";
import { PauseBook, type PauseState, checkQueueName } from "./pauses.ts";
import { type QueueView, queueCounts, toQueueView } from "./queue-view.ts";
import { reap } from "./reaper.ts";
import { parseRetry, retrySlots } from "./retry.ts";
import { Scheduler } from "./scheduler.ts";
import { count, list, selectSlots, slotTest } from "./select.ts";
import { QueueStats } from "./stats.ts";
import { Dispatcher } from "./take.ts";
import {
  QueueError, type EnqueueResult, type ErrorListRequest, type ErrorListResult, type ErrorRecord, type JobFilter,
  type JobView, type JobWithPayload, type ListRequest, type ListResult, type Taker, type TakeOptions,
} from "./types.ts";
import { BodyShapeError, expectObject, expectString, requireField } from "./validate.ts";
import { UniqueIndex } from "./unique.ts";
import { diskBytes as storeDiskBytes } from "../storage/compaction.ts";
import { TimeSlice, yieldToLoop } from "../storage/time-slice.ts";
import { MATCH_CHUNK, MatchedJobs } from "./_matched-jobs.ts";
import { PendingWrites } from "./_pending-writes.ts";

export interface QueueOptions {
  clock?: Clock;
  defaults?: Partial<JobDefaults>;
  /** Server-wide in-flight cap; 0 = none. @default 1024 */
  globalInFlightLimit?: number;
  /** fsync before answering enqueues. @default false */
  enqueueSync?: boolean;
  /** fsync before answering every other write. @default false */
  writeSync?: boolean;
  /** How often the reaper looks for expired jobs; 0 = never (tests call reap()). @default 30000 */
  reaperIntervalMs?: number;
  random?: () => number;
  /** Lease on jobs taken by streams that do not ask for one (extension); 0 = none. @default 0 */
  defaultLeaseMs?: number;
  /** Abandoned deliveries (dropped stream, expired lease) that kill a job; 0 = never. @default 0 */
  maxAbandons?: number;
  /** Background failures (reaper ticks) are reported here and the loop carries on. */
  onError?: (err: unknown, where: string) => void;
  /** Most budgets that may exist (--max-budgets). @default 8192 */
  maxBudgets?: number;
}

/** Bulk delete and patch work in slices of this many jobs, yielding in between. */
const BULK_SLICE = 4096;
/**
 * Bulk delete works in chunks of MATCH_CHUNK jobs (one DELETE record each) and yields
 * once a synchronous run passes DELETE_YIELD_MS. Why a time budget, not a fixed slice:
 * store.remove costs ~1.5 µs per job warm but ~17 µs cold, and a bulk delete runs
 * rarely, so often unoptimised; a fixed 4096-job slice stalled the loop 33 ms
 * (issue 4: no stall over 20 ms during a 1M-job delete; bench/manage.ts).
 */
const DELETE_YIELD_MS = 4;

/**
 * What the admin event stream hears about (API.md §5.1): `jobs` for any list change,
 * `completed`/`dead` for acks and failures, `patched` (the stream resends snapshots).
 * A bulk ack is one `completed` event with every acked id, in order: a summary-mode
 * listener only counts them, so the work per ack request stays O(1) for it.
 */
export type ChangeEvent = { kind: "jobs" } | { kind: "completed" | "dead"; ids: readonly string[] } | { kind: "patched" };

const JOBS_CHANGED: ChangeEvent = { kind: "jobs" };

export class Queue {
  readonly store: Store;
  readonly ctx: QueueContext;
  readonly scheduler: Scheduler;
  /** The cron endpoints' operations (API.md §3.19); one method each, like the facade's. */
  readonly crons: CronBook;
  readonly cronScheduler: CronScheduler;
  /** The budget endpoints' operations (API-budgets.md §3.1) and the dispatcher's gate. */
  readonly budgets: BudgetBook;
  private readonly reaperTimer: NodeJS.Timeout | undefined;
  private readonly onError: (err: unknown, where: string) => void;
  /** The admin stream's ordered windows (lib/queue/admin-view.ts). */
  readonly admin: AdminView;
  private readonly changeListeners = new Set<(event: ChangeEvent) => void>();
  /** Totals, the 15-minute ring and wait histograms (lib/queue/stats.ts). */
  readonly activity = new QueueStats({ hasJobs: (queue) => this.store.table.queues.lookup(queue) !== undefined });
  /** Paused queues (extension): take streams skip them. */
  readonly pauses: PauseBook;
  /** Leases, heartbeats and abandon counts (extension). */
  readonly leases: LeaseKeeper;

  constructor(store: Store, options: QueueOptions = {}) {
    this.store = store;
    const clock = options.clock ?? systemClock;
    const dispatcher = new Dispatcher(store, clock, options.globalInFlightLimit ?? 1024);
    dispatcher.stats = this.activity;
    const order = store.table.orderedSlots();
    this.scheduler = new Scheduler(store.table, clock, () => {
      dispatcher.wake();
      this.changed();
    });
    this.admin = new AdminView(store);
    dispatcher.onChange = () => this.changed();
    // Before anything reads the ready index: budgeted ready jobs are parked from the start.
    this.budgets = new BudgetBook(store, clock, options.writeSync ?? false, options.maxBudgets ?? 8192);
    dispatcher.gate = this.budgets.gate;
    this.budgets.gate.onWake = () => dispatcher.wake();
    this.admin.parked = () => this.budgets.gate.parkedSlots();
    this.ctx = {
      store,
      clock,
      defaults: { ...DEFAULTS, ...options.defaults },
      ids: new IdGenerator(order.length > 0 ? store.table.idOf(order[order.length - 1]) : undefined),
      unique: new UniqueIndex(),
      batches: new BatchIndex(),
      dispatcher,
      enqueueLock: new Mutex(),
      enqueueSync: options.enqueueSync ?? false,
      writeSync: options.writeSync ?? false,
      random: options.random ?? Math.random,
      stats: this.activity,
      afterChange: () => {
        this.changed();
        dispatcher.wake();
        this.scheduler.poke();
      },
    };
    this.ctx.unique.rebuild(store.table);
    // A job requeued by a disconnect (or put back after a failed write) re-claims its
    // unique key if free (§4.3; the reference's "no longer blocks duplicates" quirk is not copied).
    dispatcher.onRequeue = (slots, abandoned) => {
      const back = abandoned ? slots.filter((slot) => !this.leases.abandoned(slot)) : slots;
      for (const slot of back) {
        const key = optionsOf(store.table, slot).unique_key;
        if (key !== undefined) this.ctx.unique.reclaim(store.table, key, store.table.idOf(slot));
      }
      this.recordRequeue(back);
    };
    this.ctx.batches.rebuild(store.table);
    this.onError = options.onError ?? (() => {});
    this.leases = new LeaseKeeper(this.ctx, {
      defaultLeaseMs: options.defaultLeaseMs ?? 0,
      maxAbandons: options.maxAbandons ?? 0,
      onError: this.onError,
      onFailed: (id) => this.changed({ kind: "dead", ids: [id] }),
    });
    dispatcher.onError = this.onError;
    const interval = options.reaperIntervalMs ?? 30_000;
    if (interval > 0) {
      this.reaperTimer = setInterval(() => {
        this.reap().catch((err) => this.onError(err, "reaper"));
      }, interval);
      this.reaperTimer.unref();
    }
    this.scheduler.poke();
    this.pauses = new PauseBook(store, this.ctx.writeSync);
    dispatcher.paused = this.pauses.paused;
    this.pauses.onResume = () => dispatcher.wake();
    this.crons = new CronBook(store, clock, this.ctx.writeSync);
    // Cron jobs go through the normal enqueue path, so unique and batch rules apply (§4.5).
    this.cronScheduler = new CronScheduler(this.crons, clock, (inputs, nowMs, alsoWrite) => guarded(enqueue(this.ctx, inputs, nowMs, [alsoWrite])), this.onError);
    this.crons.onChange = () => this.cronScheduler.poke();
    this.crons.budgets = this.budgets;
    this.budgets.cronRefs = (key) => this.crons.budgetRefs(key);
    this.cronScheduler.poke();
  }

  /**
   * Listen for job changes (the admin event stream); returns the unsubscribe. Listeners
   * are called synchronously and must only note the change (they debounce themselves).
   */
  onChange(listener: (event: ChangeEvent) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** Tell admin listeners; free when none is connected (it runs on every take and ack). */
  private changed(event?: ChangeEvent): void {
    if (this.changeListeners.size === 0) return;
    const e = event ?? JOBS_CHANGED;
    for (const listener of this.changeListeners) listener(e);
  }

  private now(): number {
    return this.ctx.clock.now();
  }

  async enqueue(body: unknown): Promise<EnqueueResult> {
    const input = parseEnqueue(body);
    await checkBatches([input]);
    if (!input.budgets) return (await guarded(enqueue(this.ctx, [input], this.now())))[0];
    return (await this.enqueueBound([input], [input.budgets]))[0];
  }

  /** Enqueue jobs that draw on budgets: any budget their create_with makes is written with them. */
  private enqueueBound(inputs: EnqueueInput[], requests: BindingRequest[][]): Promise<EnqueueResult[]> {
    return writeBound(this.budgets.prepare(requests), (carry) => guarded(enqueue(this.ctx, inputs, this.now(), carry())));
  }

  /** POST /jobs/bulk: every element validated first; all or nothing. */
  async enqueueBulk(body: unknown): Promise<EnqueueResult[]> {
    const jobs = expectObject(body, "struct BulkEnqueueRequest");
    const list = requireField(jobs, "jobs");
    if (!Array.isArray(list)) throw new BodyShapeError("jobs: invalid type, expected a sequence");
    const inputs = list.map((raw, i) => {
      try {
        return parseEnqueue(raw);
      } catch (err) {
        if (err instanceof BodyShapeError) throw new BodyShapeError(`jobs[${i}]: ${err.message}`);
        // Budget rule errors (422) are store errors in the reference: not prefixed.
        if (err instanceof QueueError && err.code !== "unprocessable") throw new QueueError(err.code, `jobs[${i}]: ${err.message}`);
        throw err;
      }
    });
    if (inputs.length === 0) return [];
    await checkBatches(inputs);
    const requests = inputs.flatMap((i) => (i.budgets ? [i.budgets] : []));
    if (requests.length === 0) return guarded(enqueue(this.ctx, inputs, this.now()));
    return this.enqueueBound(inputs, requests);
  }

  /** The single-job budget routes (API-budgets.md §3.2). */
  mutateJobBudgets(id: string, mutation: BudgetMutation): Promise<JobView> {
    return guarded(mutateJobBudgets(this.ctx, this.budgets, id, mutation, this.now()));
  }

  /** The bulk job-budget routes (API-budgets.md §3.3). */
  mutateJobsBudgets(filter: JobFilter, mutation: BudgetMutation): Promise<BulkBudgetResult> {
    return guarded(mutateJobsBudgets(this.ctx, this.budgets, filter, mutation, this.now()));
  }

  take(options: TakeOptions): Taker {
    if (options.leaseMs === undefined && this.leases.defaultLeaseMs > 0) options = { ...options, leaseMs: this.leases.defaultLeaseMs };
    return this.ctx.dispatcher.open(options);
  }

  /** POST /jobs/{id}/heartbeat (extension): 404 not in flight, 409 held by another worker. */
  heartbeat(id: string, workerId?: string): void {
    this.leases.heartbeat(id, workerId);
  }

  /** POST /jobs/{id}/success. */
  async complete(id: string): Promise<void> {
    const notFound = await guarded(complete(this.ctx, [id], this.now()));
    if (notFound.length === 0) this.changed({ kind: "completed", ids: [id] });
    this.changed();
    if (notFound.length > 0) throw new QueueError("not_found", "job not found in in-flight set");
  }

  /** POST /jobs/success: returns the ids that were not in flight. */
  async completeMany(body: unknown): Promise<string[]> {
    const o = expectObject(body, "struct BulkSuccessRequest");
    const ids = requireField(o, "ids");
    if (!Array.isArray(ids)) throw new BodyShapeError("ids: invalid type, expected a sequence");
    const strings = ids.map((id, i) => expectString(id, `ids[${i}]`));
    if (strings.length === 0) throw new QueueError("invalid_argument", "ids must not be empty");
    const notFound = await guarded(complete(this.ctx, strings, this.now()));
    if (this.changeListeners.size > 0) {
      const missing = new Set(notFound);
      this.changed({ kind: "completed", ids: notFound.length === 0 ? strings : strings.filter((id) => !missing.has(id)) });
      this.changed();
    }
    return notFound;
  }

  async fail(id: string, body: unknown): Promise<JobView> {
    const view = await guarded(fail(this.ctx, id, parseFailure(body), this.now()));
    // Reference quirk (§5.1): every failure is announced as `dead`, retries too.
    this.changed({ kind: "dead", ids: [id] });
    return view;
  }

  private visibleSlot(id: string): number {
    const t = this.store.table;
    const slot = t.slotById.get(id);
    if (slot === undefined || isExpired(t, slot, this.now())) throw new QueueError("not_found", "job not found");
    return slot;
  }

  get(id: string): JobWithPayload {
    const slot = this.visibleSlot(id);
    return { job: viewOf(this.store.table, slot), payloadJson: this.store.payload(slot).toString("utf8") };
  }

  list(req: ListRequest): Promise<ListResult> {
    return list(this.store, req, this.now());
  }

  count(filter: JobFilter): Promise<number> {
    return count(this.store, filter, this.now());
  }

  queues(): string[] {
    return this.store.table.queues.sorted();
  }

  /** GET /queues/{queue} (extension): 404 for a name with no job and no pause record. */
  queueView(name: string): QueueView {
    checkQueueName(name);
    const counts = queueCounts(this.store.table, name, this.now());
    const pause = this.pauses.state(name);
    if (!counts && !pause) throw new QueueError("not_found", `queue '${name}' not found`);
    return toQueueView(name, pause, counts);
  }

  /** Admin `GET /queues` (extension, `zizq top`): every queue with jobs or a pause record, and its pause state. */
  queueStates(): ({ name: string } & PauseState)[] {
    const names = new Set([...this.queues(), ...this.pauses.names()]);
    return [...names].sort(compareUtf8).map((name) => ({ name, ...(this.pauses.state(name) ?? { paused: false }) }));
  }

  /** POST /queues/{queue}/pause | resume (extension); allowed for a queue with no jobs yet. */
  async setPaused(name: string, paused: boolean): Promise<QueueView> {
    const pause = await this.pauses.set(name, paused, this.now());
    this.changed();
    return toQueueView(name, pause, queueCounts(this.store.table, name, this.now()));
  }

  async deleteOne(id: string): Promise<void> {
    const t = this.store.table;
    const slot = t.slotById.get(id);
    if (slot === undefined) throw new QueueError("not_found", "job not found");
    this.ctx.dispatcher.release(id, slot);
    // A delete whose write fails (EIO) revives the job: one in flight, released above, is
    // put back to ready rather than left in flight with no stream (as a failed report is).
    await guarded(this.store.remove([slot], this.ctx.writeSync)).catch(this.ctx.dispatcher.putBackOnFailure([id]));
    this.changed();
  }

  /** DELETE /jobs: chunks of MATCH_CHUNK jobs, each its own atomic record, yielding on a time budget. */
  async deleteMany(filter: JobFilter): Promise<number> {
    const t = this.store.table;
    // Reference quirk kept: expired-but-unreaped jobs count as deleted.
    const matched = await this.matchForDelete(filter);
    let deleted = 0;
    const writes = new PendingWrites();
    const slice = new TimeSlice(DELETE_YIELD_MS);
    for (let i = 0; i < matched.length && !writes.failed; i += MATCH_CHUNK) {
      const slots: number[] = [];
      const released: string[] = [];
      for (let j = i; j < Math.min(i + MATCH_CHUNK, matched.length); j++) {
        const slot = matched.slot(j);
        if (slot < 0) continue;
        if (t.status[slot] === STATUS_IN_FLIGHT) {
          const id = t.idOf(slot);
          this.ctx.dispatcher.release(id);
          released.push(id);
        }
        slots.push(slot);
      }
      deleted += slots.length;
      // As deleteOne: in-flight jobs of a chunk whose write fails are put back to ready.
      writes.add(this.store.remove(slots, this.ctx.writeSync).catch(this.ctx.dispatcher.putBackOnFailure(released)));
      await slice.pace();
    }
    await guarded(writes.settled());
    this.changed();
    return deleted;
  }

  /**
   * The jobs a bulk delete acts on (MatchedJobs: slots and id words, so a slot reused
   * during the delete's yields is told apart). Without jq or ids, the table scan itself
   * yields on the same time budget (a 1M-slot scan is ~30 ms).
   */
  private async matchForDelete(filter: JobFilter): Promise<MatchedJobs> {
    const t = this.store.table;
    const test = slotTest(t, filter, this.now(), true);
    const matched = new MatchedJobs(t, test);
    if (filter.jq !== undefined || filter.ids?.length) {
      // selectSlots re-checks jq matches after its own yields and returns synchronously
      // after the last one, so the snapshot is of the jobs it matched.
      for (const slot of await selectSlots(this.store, filter, this.now(), true)) matched.add(slot);
      return matched;
    }
    const slice = new TimeSlice(DELETE_YIELD_MS);
    for (let start = 0; start < t.slotLimit; start += 4096) {
      const end = Math.min(t.slotLimit, start + 4096);
      for (let slot = start; slot < end; slot++) if (test(slot)) matched.add(slot);
      await slice.pace();
    }
    return matched;
  }

  async patchOne(id: string, body: unknown): Promise<JobView> {
    const patch = parsePatch(body);
    const t = this.store.table;
    const slot = t.slotById.get(id);
    if (slot === undefined || isExpired(t, slot, this.now())) throw new QueueError("not_found", "job not found");
    const meta = patchedMeta(t, slot, patch, this.now());
    await guarded(this.store.update([slot], [meta], this.ctx.writeSync));
    this.ctx.afterChange();
    this.changed({ kind: "patched" });
    return viewOfMeta(meta);
  }

  /** PATCH /jobs: terminal jobs are skipped; returns how many matched and were patched. */
  async patchMany(filter: JobFilter, body: unknown): Promise<number> {
    for (const s of filter.statuses ?? []) {
      if (s === "completed" || s === "dead") {
        throw new QueueError("unprocessable", `cannot patch jobs in ${s === "completed" ? "Completed" : "Dead"} status`);
      }
    }
    const patch = parsePatch(body);
    const t = this.store.table;
    const matched = new MatchedJobs(t, slotTest(t, filter, this.now()));
    for (const slot of await selectSlots(this.store, filter, this.now())) matched.add(slot);
    let patched = 0;
    const writes = new PendingWrites();
    for (let i = 0; i < matched.length && !writes.failed; i += BULK_SLICE) {
      const slots: number[] = [];
      const metas = [];
      for (let j = i; j < Math.min(i + BULK_SLICE, matched.length); j++) {
        const slot = matched.slot(j);
        if (slot < 0 || isTerminal(t.status[slot])) continue;
        metas.push(patchedMeta(t, slot, patch, this.now()));
        slots.push(slot);
      }
      patched += slots.length;
      writes.add(this.store.update(slots, metas, this.ctx.writeSync));
      await yieldToLoop();
    }
    await guarded(writes.settled());
    this.ctx.afterChange();
    this.changed({ kind: "patched" });
    return patched;
  }

  /** POST /jobs/{id}/retry (extension): dead or retained completed → ready; 422 / 409 otherwise. */
  async retryOne(id: string, body: unknown): Promise<JobView> {
    const input = parseRetry(body);
    const view = await this.ctx.enqueueLock.run(async () => {
      const slot = this.visibleSlot(id);
      this.forgetAbandons([slot]);
      await guarded(retrySlots(this.ctx, this.budgets, [slot], input, this.now(), false));
      return viewOf(this.store.table, slot);
    });
    this.changed({ kind: "patched" });
    return view;
  }

  /**
   * POST /jobs/retry (extension): every dead or retained completed job the filter matches,
   * in chunks of MATCH_CHUNK jobs, each one atomic write; jobs whose unique key another
   * job holds are left as they are. Returns how many were retried.
   */
  async retryMany(filter: JobFilter, body: unknown): Promise<number> {
    for (const s of filter.statuses ?? []) {
      if (s !== "completed" && s !== "dead") throw new QueueError("unprocessable", `cannot retry jobs in ${s} status (only dead or completed jobs)`);
    }
    const input = parseRetry(body);
    const t = this.store.table;
    const terminal = filter.statuses?.length ? filter : { ...filter, statuses: ["completed", "dead"] as JobFilter["statuses"] };
    // Slots and their generations, not id strings (~1 µs each, a stall at 1M jobs): a slot
    // still holds the matched job iff its generation is unchanged (any change bumps it).
    const slots = await selectSlots(this.store, terminal, this.now());
    const gens = Uint32Array.from(slots, (slot) => t.gen[slot]);
    let retried = 0;
    for (let i = 0; i < slots.length; i += MATCH_CHUNK) {
      retried += await this.ctx.enqueueLock.run(async () => {
        const chunk: number[] = [];
        for (let j = i; j < Math.min(i + MATCH_CHUNK, slots.length); j++) if (t.gen[slots[j]] === gens[j]) chunk.push(slots[j]);
        this.forgetAbandons(chunk);
        const done = await guarded(retrySlots(this.ctx, this.budgets, chunk, input, this.now(), true));
        return done.length;
      });
      await yieldToLoop();
    }
    this.changed({ kind: "patched" });
    return retried;
  }

  /**
   * A retry starts a job's abandon count afresh: forgotten before its write, for the
   * terminal jobs it may retry. Not after: the job is ready in memory as soon as the
   * write is appended, and one delivered and dropped meanwhile was counted on its old
   * count and killed at its first abandonment since the retry (test/queue/retry-abandons.test.ts).
   * A refused retry's terminal job loses a count that mattered only in flight.
   */
  private forgetAbandons(slots: readonly number[]): void {
    const t = this.store.table;
    for (const slot of slots) if (isTerminal(t.status[slot])) this.leases.abandons.forget(t.idOf(slot));
  }

  errors(id: string, req: ErrorListRequest): ErrorListResult {
    const slot = this.visibleSlot(id);
    let records = this.store.errors(slot) as ErrorRecord[];
    if (req.order === "desc") records = records.reverse();
    if (req.from !== undefined) {
      const from = req.from;
      records = records.filter((r) => (req.order === "asc" ? r.attempt > from : r.attempt < from));
    }
    return { errors: records.slice(0, req.limit), hasMore: records.length > req.limit };
  }

  error(id: string, attempt: number): ErrorRecord {
    const slot = this.visibleSlot(id);
    const record = (this.store.errors(slot) as ErrorRecord[]).find((r) => r.attempt === attempt);
    if (!record) throw new QueueError("not_found", "error record not found");
    return record;
  }

  /** POST /reset: every cron group, every job (in flight too), then every budget. */
  async reset(): Promise<void> {
    // Inside the cron book's lock, so a firing in progress can neither save a group back
    // nor claim a unique key after the indexes were cleared.
    // Everything in memory is cleared when the store applies the reset, in the same turn,
    // and only if its record was written: a refused reset (507, EIO) changes nothing.
    // Until then memory still holds the old jobs, so nothing may be planned from them and
    // land after the RESET record, where a restart would replay it: batch folds and seals
    // (rewrites of a job, under the enqueue lock) and compaction copies (the store pauses
    // them) wait for the reset.
    // Budget and pause writes are held off too, and the ones in flight land first: applied
    // to memory after the reset cleared it, they were served but not on disk after it.
    // Compaction is paused first, outside the locks: waiting for a long run inside them
    // held every keyed enqueue and cron firing.
    const clearMemory = (): void => {
      this.ctx.dispatcher.releaseAll();
      this.ctx.unique.clear();
      this.ctx.batches.clear();
      this.pauses.clear();
      this.leases.clear();
      this.budgets.clear();
    };
    const resetStore = () => guarded(this.store.reset(this.ctx.writeSync, clearMemory));
    const resumeCompaction = await this.store.pauseCompaction();
    try {
      // Lock order: cron book, budget book, pause book, enqueue lock.
      await this.crons.reset(() => this.budgets.quiesced(() => this.pauses.exclusive(() => this.ctx.enqueueLock.run(resetStore))));
    } finally {
      resumeCompaction();
    }
    this.changed();
    this.scheduler.poke();
  }

  /** Delete expired completed/dead jobs now; returns how many. */
  reap(): Promise<number> {
    return reap(this.store, this.now(), this.ctx.writeSync);
  }

  stats(): { ready: number; inFlight: number; scheduled: number; completed: number; dead: number; streams: number } {
    const c = this.store.table.statusCounts;
    return { scheduled: c[0], ready: c[1], inFlight: c[2], completed: c[3], dead: c[4], streams: this.ctx.dispatcher.streamCount };
  }

  /** A consistent copy of the data dir for a backup (lib/storage/snapshot.ts). */
  /** Bytes the data dir takes: segments, spares and the checkpoint (storage's own count). */
  diskBytes(): number {
    return storeDiskBytes(this.store);
  }

  snapshot(): Promise<Snapshot> {
    return openSnapshot(this.store);
  }

  /** Compact every sealed segment now (admin POST /compact). */
  compact(): Promise<void> {
    return guarded(this.store.compactAll());
  }

  /**
   * Taking a job writes nothing (a record per take would cost every W3 job a write), so
   * its `dequeued_at` lives in memory until the job's next record: the ack, the failure,
   * or the checkpoint. A job put back to ready by a dropped stream may have no next
   * record for a long time, and a kill -9 or a restore (a scan) then brought it back
   * with an older `dequeued_at`, or none, though API.md §3.6 keeps it across a requeue.
   * So a stream's requeued jobs are recorded as they stand, in groups that fit a segment (not
   * awaited: nobody waits on a dropped stream). The requeue itself is in memory and
   * always happens; on a full disk the record is refused (a `storage_refused` line)
   * rather than eat the room kept for acks, and only `dequeued_at` is then lost to a crash.
   */
  private recordRequeue(slots: readonly number[]): void {
    const store = this.ctx.store;
    if (store.isClosed) return;
    store.recordMeta(slots, this.ctx.writeSync).catch((err: unknown) => this.onError(toQueueError(err), "recording requeued jobs"));
  }

  /** Stop background loops; the caller closes the store. */
  stop(): void {
    if (this.reaperTimer) clearInterval(this.reaperTimer);
    this.scheduler.stop();
    this.cronScheduler.stop();
    this.leases.stop();
    this.budgets.gate.stop();
  }
}

const compareUtf8 = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

export const createQueue = (store: Store, options?: QueueOptions): Queue => new Queue(store, options);
