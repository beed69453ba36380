// The budgets (API-budgets.md §3.1, §2.9–2.12): kept in memory with their live token
// state, each policy persisted as one store blob (namespace BLOB_NAMESPACE_BUDGET,
// MessagePack {allocation, strategy, created_at, updated_at}; docs/format.md) so it
// survives restarts and compaction. Token state is not persisted: every start is full.
// Writes run one at a time; the guards against deleting or shrinking a budget that
// jobs or cron entries still draw on are checked and applied in one synchronous step.

import { BLOB_NAMESPACE_BUDGET, STATUS_IN_FLIGHT, STATUS_READY, STATUS_SCHEDULED } from "../storage/format.ts";
import { packValue, unpackValue } from "../storage/codec.ts";
import type { BlobWrite, Store } from "../storage/store.ts";
import { Mutex } from "./_mutex.ts";
import {
  type Budget, type BudgetPolicy, applyPolicy, capacityOf, newBudget, policyOf,
} from "./budget-bucket.ts";
import { BudgetGate } from "./budget-gate.ts";
import {
  type Binding, type BindingRequest, checkBudgetKey, mergePolicyPatch, parsePolicy, unprocessable,
} from "./budget-policy.ts";
import type { Clock } from "./clock.ts";
import { guarded } from "./errors.ts";
import { QueueError } from "./types.ts";

/** The wire budget (§2.1), in emission order. */
export interface BudgetView extends BudgetPolicy {
  key: string;
  created_at: number;
  updated_at: number;
}

/** §2.1 field order: key, allocation, strategy{type, duration_ms?, burst?}, created_at, updated_at. */
export function budgetWire(b: BudgetView): Record<string, unknown> {
  const s = b.strategy;
  const strategy: Record<string, unknown> = { type: s.type };
  if (s.type === "time_based") {
    strategy.duration_ms = s.duration_ms;
    if (s.burst !== undefined) strategy.burst = s.burst;
  }
  return { key: b.key, allocation: b.allocation, strategy, created_at: b.created_at, updated_at: b.updated_at };
}

/** Cron templates drawing on a budget: how many, the first as 'group/entry', the largest cost. */
export interface CronRefs {
  count: number;
  first?: string;
  maxCost: number;
  /** The first entry whose cost exceeds `cap`, as 'group/entry' with its cost. */
  over?: (cap: number) => { name: string; cost: number } | undefined;
}

export const budgetNotFound = (key: string): QueueError => new QueueError("not_found", `budget '${key}' not found`);

const plural = (n: number, one: string, many: string): string => (n === 1 ? one : many);

export function viewOfBudget(b: Budget): BudgetView {
  return { key: b.key, ...policyOf(b), created_at: b.created_at, updated_at: b.updated_at };
}

/**
 * What prepare resolved: the new budgets' blobs, to ride in the write that binds to them,
 * and what to call after it.
 */
export interface PreparedBindings {
  blobs: BlobWrite[];
  /** After that write: whether it landed. Only the first call counts. */
  settle(written: boolean): void;
  unpin(): void;
}

/**
 * Runs `write` with the prepared bindings (prepare, prepareCron): it calls `carry()` for
 * the new budgets' blobs when it puts them in a write. Then, whatever happens, the new
 * budgets are settled (landed only if carried and `write` resolved: a write that did not
 * happen, or failed, takes them away again) and the pins dropped.
 */
export async function writeBound<T>(
  prepared: Promise<PreparedBindings | undefined>, write: (carry: () => readonly BlobWrite[]) => Promise<T>,
): Promise<T> {
  const p = await prepared;
  let carried = false;
  let written = false;
  try {
    const value = await write(() => {
      carried = true;
      return p?.blobs ?? [];
    });
    written = carried;
    return value;
  } finally {
    p?.settle(written);
    p?.unpin();
  }
}

export class BudgetBook {
  readonly budgets = new Map<string, Budget>();
  /** Budgets made by prepare whose write has not landed yet: key → settled. */
  private readonly unwritten = new Map<string, Promise<void>>();
  readonly gate: BudgetGate;
  /** How many budgets may exist (--max-budgets). */
  maxBudgets: number;
  /** The cron templates drawing on a key (the cron book answers; none by default). */
  cronRefs: (key: string) => CronRefs = () => ({ count: 0, maxCost: 0 });
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly sync: boolean;
  private readonly lock = new Mutex();
  /** Costs drawn by enqueues between their checks and their durable insert (guards count them). */
  private readonly pinned = new Map<string, Map<number, number>>();
  /** Waiting for no pin at all (quiesced). */
  private readonly onUnpinned: (() => void)[] = [];

  constructor(store: Store, clock: Clock, sync: boolean, maxBudgets: number) {
    this.store = store;
    this.clock = clock;
    this.sync = sync;
    this.maxBudgets = maxBudgets;
    this.gate = new BudgetGate(store.table, this.budgets, clock);
    const now = clock.now();
    for (const [key, bytes] of store.blobsIn(BLOB_NAMESPACE_BUDGET)) {
      const v = unpackValue(bytes) as BudgetView;
      this.budgets.set(key, newBudget(key, { allocation: v.allocation, strategy: v.strategy }, now, v.created_at, v.updated_at));
    }
    if (this.budgets.size > 0) this.gate.activate();
  }

  list(): BudgetView[] {
    return [...this.budgets.values()].sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key))).map(viewOfBudget);
  }

  get(key: string): BudgetView {
    const b = this.budgets.get(key);
    if (!b) throw budgetNotFound(key);
    return viewOfBudget(b);
  }

  /** POST /budgets/{key}: 409 when it exists (stored policy untouched). */
  create(key: string, body: unknown): Promise<BudgetView> {
    const policy = parsePolicy(body);
    checkBudgetKey(key);
    return this.writeOf(key, async () => {
      if (this.budgets.has(key)) throw new QueueError("conflict", `budget '${key}' already exists`);
      return viewOfBudget(await this.add(key, policy));
    });
  }

  /** PUT /budgets/{key}: create, or replace the whole policy (shrink guard applies). */
  replace(key: string, body: unknown): Promise<BudgetView> {
    const policy = parsePolicy(body);
    checkBudgetKey(key);
    return this.writeOf(key, async () => {
      if (!this.budgets.has(key)) return viewOfBudget(await this.add(key, policy));
      return this.change(key, policy);
    });
  }

  /** PATCH /budgets/{key}: merge patch; never creates. */
  patch(key: string, body: unknown): Promise<BudgetView> {
    return this.writeOf(key, async () => {
      const b = this.budgets.get(key);
      if (!b) throw budgetNotFound(key);
      return this.change(key, mergePolicyPatch(policyOf(b), body));
    });
  }

  /** DELETE /budgets/{key}: 409 while a cron entry or an unfinished job draws on it. */
  remove(key: string): Promise<void> {
    return this.writeOf(key, async () => {
      const b = this.budgets.get(key);
      if (!b) throw budgetNotFound(key);
      const cron = this.cronRefs(key);
      if (cron.count > 0) {
        throw new QueueError("conflict", `budget '${key}' is referenced by ${cron.count} cron ${plural(cron.count, "entry", "entries")}, including '${cron.first}'. Remove them before deleting it.`);
      }
      const jobs = this.unfinishedRefs(key);
      if (jobs.count > 0) {
        throw new QueueError("conflict", `budget '${key}' is referenced by ${jobs.count} unfinished ${plural(jobs.count, "job", "jobs")}. Delete them or wait for them to finish before deleting it.`);
      }
      // Gone from memory before the await: an enqueue checking meanwhile must not bind to it.
      this.budgets.delete(key);
      try {
        await guarded(this.store.deleteBlob(BLOB_NAMESPACE_BUDGET, key, this.sync));
      } catch (err) {
        this.budgets.set(key, b);
        throw err;
      }
    });
  }

  /**
   * Run `fn` (a reset) with no budget write in flight and none starting: under the book's
   * lock (budget writes, create_with preparations) once every create_with write pending
   * has landed. Why: a budget write racing the reset's record applied to memory on the
   * wrong side of it (a budget served but gone on a restart, or the other way round).
   * Requires: no caller holds a lock that a pending create_with write waits for (the cron
   * lock is fine: cron installs hold it through their write, so none is pending; the
   * enqueue lock is not: a keyed enqueue waits for it holding a pending budget). It
   * also waits until no enqueue holds a pin: a job bound to an existing budget, written
   * after the reset, was left with its budget gone (acknowledged, never delivered).
   */
  quiesced<T>(fn: () => Promise<T>): Promise<T> {
    return this.whenSettled(async () => {
      await this.landed([...this.unwritten.keys()]);
      await this.unpinned();
    }, () => this.unwritten.size > 0 || this.pinned.size > 0, fn);
  }

  /**
   * Resolves once no enqueue holds a pin (it has prepared its bindings and not yet
   * written its jobs): a reset between would drop the budget under a job written after
   * it, acknowledged and never delivered. Pins are dropped when those writes settle.
   */
  private async unpinned(): Promise<void> {
    while (this.pinned.size > 0) await new Promise<void>((resolve) => this.onUnpinned.push(resolve));
  }

  /** POST /reset: the store dropped every blob already. */
  clear(): void {
    this.budgets.clear();
    this.pinned.clear();
    this.gate.reset();
  }

  /**
   * Resolve the bindings of a request before anything is written (§2.2, §4.1): budgets
   * named with create_with that do not exist are made (counting toward --max-budgets);
   * every binding must then name a budget whose capacity covers its cost. The new
   * budgets are made in memory only: their blobs are returned to ride in the request's
   * own write (the jobs of an enqueue, the job's new bindings, the cron group), one
   * transaction as §3.2 step 4 asks. Written first, on their own, a kill -9 or a failed
   * write between left a budget nothing drew on, the request unanswered. Call `settle`
   * with whether that write landed (a failed one takes them away again), then `unpin`:
   * until then the guards count these costs. Another request naming such a budget waits
   * for it to land, so nothing is ever bound to a budget not on disk.
   */
  async prepare(requests: readonly (readonly BindingRequest[])[]): Promise<PreparedBindings> {
    const all = requests.flat();
    if (all.length === 0) return { blobs: [], settle: () => {}, unpin: () => {} };
    const keys = all.map((r) => r.key);
    // Checked, made and pinned in one step under the lock: a budget change or delete
    // (which take it too) sees these costs, and no await splits them.
    return this.whenSettled(() => this.landed(keys), () => keys.some((k) => this.unwritten.has(k)), async () => {
      const made = this.creations(all).map(([key, policy]) => newBudget(key, policy, this.clock.now()));
      const unpin = this.pin(all);
      if (made.length === 0) return { blobs: [], settle: () => {}, unpin };
      for (const b of made) this.budgets.set(b.key, b);
      this.gate.activate();
      this.gate.policyChanged();
      return { blobs: made.map((b) => ({ namespace: BLOB_NAMESPACE_BUDGET, key: b.key, value: this.blobOf(b) })), settle: this.unwrittenUntilSettled(made), unpin };
    });
  }

  /** Marks `made` as being written; the returned settle ends that (see prepare). */
  private unwrittenUntilSettled(made: readonly Budget[]): (written: boolean) => void {
    let settled = false;
    let wake!: () => void;
    const landing = new Promise<void>((resolve) => { wake = resolve; });
    for (const b of made) this.unwritten.set(b.key, landing);
    return (written) => {
      if (settled) return;
      settled = true;
      for (const b of made) {
        this.unwritten.delete(b.key);
        // Not written: gone again (no other write of it came between: writeOf waits).
        if (!written && this.budgets.get(b.key) === b) this.budgets.delete(b.key);
      }
      wake();
    };
  }

  /**
   * Requires: the lock is held. The budgets `all` asks to create (create_with on the first
   * binding naming a missing key), once checked against --max-budgets and every cost.
   */
  private creations(all: readonly BindingRequest[]): [string, BudgetPolicy][] {
    const missing = new Map<string, BudgetPolicy | undefined>();
    for (const r of all) if (!this.budgets.has(r.key) && !missing.has(r.key)) missing.set(r.key, r.createWith);
    const toCreate = [...missing].filter(([, p]) => p !== undefined) as [string, BudgetPolicy][];
    if (this.budgets.size + toCreate.length > this.maxBudgets) {
      const [key] = toCreate[Math.max(0, this.maxBudgets - this.budgets.size)] ?? toCreate[0];
      throw this.fullError(key);
    }
    this.checkCosts(all, toCreate);
    return toCreate;
  }

  /** Resolves once none of `keys` is a budget still being written (prepare). */
  private async landed(keys: readonly string[]): Promise<void> {
    for (;;) {
      const landing = [...new Set(keys.map((k) => this.unwritten.get(k)).filter((p) => p !== undefined))];
      if (landing.length === 0) return;
      await Promise.all(landing);
    }
  }

  /**
   * Why a job bound to `bindings` cannot become unfinished again (a retry of a dead or
   * completed job), or undefined. Its budget may have been deleted or shrunk meanwhile:
   * terminal jobs do not hold the guards (§2.10), and a ready job drawing on a missing
   * budget, or more than its capacity, would never be dispatched.
   */
  retryRefusal(bindings: readonly Binding[]): QueueError | undefined {
    for (const b of bindings) {
      const misfit = this.misfit(b);
      if (misfit === "missing") return unprocessable(`cannot retry: budget '${b.key}' no longer exists. Create it again first.`);
      if (misfit !== undefined) return unprocessable(`cannot retry: the job draws ${b.cost} from budget '${b.key}', which now holds at most ${misfit}. Raise its allocation first.`);
    }
    return undefined;
  }

  /** Counts `bindings` in the delete and shrink guards until the returned unpin is called. */
  pin(all: readonly Binding[]): () => void {
    for (const r of all) {
      let costs = this.pinned.get(r.key);
      if (!costs) this.pinned.set(r.key, (costs = new Map()));
      costs.set(r.cost, (costs.get(r.cost) ?? 0) + 1);
    }
    return () => {
      for (const r of all) {
        const costs = this.pinned.get(r.key);
        const n = costs?.get(r.cost);
        if (!costs || n === undefined) continue;
        if (n > 1) costs.set(r.cost, n - 1);
        else costs.delete(r.cost);
        if (costs.size === 0) this.pinned.delete(r.key);
      }
      if (this.pinned.size === 0) for (const wake of this.onUnpinned.splice(0)) wake();
    };
  }

  /**
   * Cron installs resolve like an enqueue, as 400s (§3.6); the new budgets ride in the
   * group's write. Unpin once the cron book holds the entries (it counts them).
   */
  async prepareCron(requests: readonly (readonly BindingRequest[])[]): Promise<PreparedBindings> {
    try {
      return await this.prepare(requests);
    } catch (err) {
      if (err instanceof QueueError && err.code === "unprocessable") throw new QueueError("invalid_argument", err.message);
      throw err;
    }
  }

  /** Unfinished (scheduled, ready, in-flight) jobs drawing on `key`, plus pinned enqueues. */
  unfinishedRefs(key: string): { count: number; maxCost: number } {
    const t = this.store.table;
    let count = 0;
    let maxCost = 0;
    for (const [slot, extras] of t.extras) {
      const bindings = (extras.options as { budgets?: Binding[] } | undefined)?.budgets;
      if (!bindings) continue;
      const s = t.status[slot];
      if (s !== STATUS_SCHEDULED && s !== STATUS_READY && s !== STATUS_IN_FLIGHT) continue;
      for (const b of bindings) {
        if (b.key !== key) continue;
        count++;
        maxCost = Math.max(maxCost, b.cost);
      }
    }
    for (const [cost, n] of this.pinned.get(key) ?? []) {
      count += n;
      maxCost = Math.max(maxCost, cost);
    }
    return { count, maxCost };
  }

  // ---- internals ------------------------------------------------------------------

  /**
   * A write of budget `key` (POST, PUT, PATCH, DELETE /budgets/{key}), under the lock and
   * once a create_with write of it has landed. Why wait: that write carries the budget as
   * first made; a change written before it lands would be undone by it on disk (a restart
   * brought back the old policy), and a failed one takes the budget away again.
   */
  private writeOf<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return this.whenSettled(() => this.landed([key]), () => this.unwritten.has(key), fn);
  }

  /**
   * `fn` under the lock, once `busy()` is false there: waits (`wait`) outside the lock,
   * then checks again under it, and waits again if something started meanwhile. Waiting
   * inside the lock stalled every bound enqueue and budget write behind one slow write.
   */
  private async whenSettled<T>(wait: () => Promise<void>, busy: () => boolean, fn: () => Promise<T>): Promise<T> {
    for (;;) {
      await wait();
      const done = await this.lock.run(async () => (busy() ? undefined : { value: await fn() }));
      if (done) return done.value;
    }
  }

  private checkCosts(all: readonly BindingRequest[], creating: readonly [string, BudgetPolicy][]): void {
    const planned = new Map(creating);
    for (const r of all) {
      const misfit = this.misfit(r, planned);
      if (misfit === "missing") throw unprocessable(`budget '${r.key}' does not exist and no create_with policy was supplied to create it with`);
      if (misfit !== undefined) throw unprocessable(`cost ${r.cost} exceeds budget '${r.key}', which holds at most ${misfit}`);
    }
  }

  /** Why `b` cannot draw on its budget: "missing", or the capacity its cost exceeds. */
  private misfit(b: Binding, planned?: ReadonlyMap<string, BudgetPolicy>): "missing" | number | undefined {
    const policy = this.budgets.get(b.key) ?? planned?.get(b.key);
    if (!policy) return "missing";
    const cap = capacityOf(policy);
    return b.cost > cap ? cap : undefined;
  }

  private fullError(key: string): QueueError {
    return unprocessable(`cannot create budget '${key}': the server already holds its maximum of ${this.maxBudgets} budgets (--max-budgets / ZIZQ_MAX_BUDGETS). Raise the limit, or express the throttle as one shared budget rather than one per caller.`);
  }

  /** Requires: the lock is held and `key` does not exist. */
  private async add(key: string, policy: BudgetPolicy): Promise<Budget> {
    if (this.budgets.size >= this.maxBudgets) throw this.fullError(key);
    const now = this.clock.now();
    const b = newBudget(key, policy, now);
    await this.persist(b);
    this.budgets.set(key, b);
    this.gate.activate();
    this.gate.policyChanged();
    return b;
  }

  /** Requires: the lock is held and `key` exists. Guards, then the new policy on live state. */
  private async change(key: string, policy: BudgetPolicy): Promise<BudgetView> {
    const b = this.budgets.get(key)!;
    const cap = capacityOf(policy);
    const over = this.cronRefs(key).over?.(cap);
    if (over) {
      throw unprocessable(`budget '${key}' cannot allocate ${cap}: cron entry '${over.name}' draws ${over.cost} from it. Lower the entry's cost or remove it first.`);
    }
    const jobs = this.unfinishedRefs(key);
    if (jobs.maxCost > cap) {
      throw unprocessable(`budget '${key}' cannot allocate ${cap}: ${jobs.count} unfinished ${plural(jobs.count, "job draws", "jobs draw")} up to ${jobs.maxCost} from it. Raise the allocation, delete them, or wait for them to drain.`);
    }
    // Applied before the await: an enqueue checking meanwhile sees the new capacity.
    const before = { ...b, strategy: { ...b.strategy } };
    const now = this.clock.now();
    applyPolicy(b, policy, now);
    b.updated_at = Math.max(now, b.created_at);
    try {
      await this.persist(b);
    } catch (err) {
      Object.assign(b, { allocation: before.allocation, strategy: before.strategy, updated_at: before.updated_at });
      throw err;
    }
    this.gate.policyChanged();
    return viewOfBudget(b);
  }

  private persist(b: Budget): Promise<void> {
    return guarded(this.store.putBlob(BLOB_NAMESPACE_BUDGET, b.key, this.blobOf(b), this.sync));
  }

  private blobOf(b: Budget): Buffer {
    return packValue({ ...policyOf(b), created_at: b.created_at, updated_at: b.updated_at });
  }
}
