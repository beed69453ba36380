// The take path (API.md §3.6): open take streams, and a dispatcher that hands ready
// jobs to them in (priority, id) order, one job per stream per round so that no stream
// starves, within each stream's prefetch credits and the server-wide in-flight cap.
//
// Guarantee: a job is in at most one stream's held set, and only while in_flight.
// Taking writes nothing to disk: after a crash every in-flight job is ready again.

import { STATUS_IN_FLIGHT, STATUS_READY } from "../storage/format.ts";
import type { Store } from "../storage/store.ts";
import type { BudgetGate } from "./budget-gate.ts";
import type { Clock } from "./clock.ts";
import type { QueueStats } from "./stats.ts";
import { viewOf } from "./job.ts";
import type { Taker, TakeOptions } from "./types.ts";

class DispatchHalted extends Error {}

/** Jobs handed out per dispatch turn before yielding to the event loop. */
const DISPATCH_BUDGET = 2000;

class Stream implements Taker {
  readonly held = new Set<string>();
  congested = false;
  closed = false;
  private readonly dispatcher: Dispatcher;
  readonly options: TakeOptions;

  constructor(dispatcher: Dispatcher, options: TakeOptions) {
    this.dispatcher = dispatcher;
    this.options = options;
  }

  canTake(): boolean {
    if (this.closed || this.congested) return false;
    return this.options.prefetch === 0 || this.held.size < this.options.prefetch;
  }

  resume(): void {
    if (this.closed) return;
    this.congested = false;
    this.dispatcher.wake();
  }

  close(): void {
    this.dispatcher.closeStream(this);
  }
}

export class Dispatcher {
  private readonly store: Store;
  private readonly clock: Clock;
  private streams: Stream[] = [];
  private readonly owners = new Map<string, Stream>();
  private round = 0;
  private pending = false;
  /** A job went in flight since the round began: dispatch() tells onChange once. */
  private deliveredInRound = false;
  /** Server-wide cap on held jobs; 0 = none. */
  globalLimit: number;
  /**
   * Called with the jobs a closed stream (`abandoned`) or putBack() put back to ready (the
   * queue re-claims unique keys, records them, counts abandonments).
   */
  onRequeue: (slots: readonly number[], abandoned: boolean) => void = () => {};
  /** Failures outside any request (the dispatch loop runs from setImmediate). */
  onError: (err: unknown, where: string) => void = () => {};
  /** Jobs moved between ready and in flight (the admin event stream listens); once per dispatch round. */
  onChange: () => void = () => {};
  /** Where deliveries report their wait (lib/queue/stats.ts); set by the Queue. */
  stats: QueueStats | undefined;
  /** A job was handed to a stream / left it (leases, lib/queue/lease.ts, listen here). */
  onDelivered: (id: string, options: TakeOptions) => void = () => {};
  onReleased: (id: string) => void = () => {};
  /** Queue names that take streams skip (lib/queue/pauses.ts); in-flight jobs are unaffected. */
  paused: ReadonlySet<string> = new Set();
  /** Budget parking (budget-gate.ts); consulted only while `gate.active`. */
  gate: BudgetGate | undefined;

  constructor(store: Store, clock: Clock, globalLimit: number) {
    this.store = store;
    this.clock = clock;
    this.globalLimit = globalLimit;
  }

  get inFlight(): number {
    return this.owners.size;
  }

  get streamCount(): number {
    return this.streams.length;
  }

  open(options: TakeOptions): Taker {
    const stream = new Stream(this, options);
    this.streams.push(stream);
    this.wake();
    return stream;
  }

  /** Stream gone: its jobs go back to ready (status only) and wake other streams. */
  closeStream(stream: Stream): void {
    if (stream.closed) return;
    stream.closed = true;
    this.streams = this.streams.filter((s) => s !== stream);
    const t = this.store.table;
    const requeued: number[] = [];
    for (const id of stream.held) {
      this.owners.delete(id);
      this.onReleased(id);
      this.gate?.release(id);
      const slot = t.slotById.get(id);
      if (slot !== undefined && t.status[slot] === STATUS_IN_FLIGHT) {
        t.setStatus(slot, STATUS_READY);
        requeued.push(slot);
      }
    }
    if (requeued.length > 0) this.onRequeue(requeued, true);
    if (stream.held.size > 0) this.onChange();
    stream.held.clear();
    this.wake();
  }

  /**
   * A job left in-flight (acked, failed, deleted, patched away): free its stream's credit.
   * `slot`, when the caller has it, spares the budget gate an id lookup.
   */
  release(id: string, slot?: number): void {
    this.gate?.release(id, slot);
    const stream = this.owners.get(id);
    if (!stream) return;
    this.owners.delete(id);
    this.onReleased(id);
    stream.held.delete(id);
    this.wake();
  }

  /**
   * Jobs released for a write (an ack, a failure) that then failed after it began (EIO):
   * the store undid their new state, so they are in flight again but held by no stream,
   * and nothing would deliver them again, or let a lease expire, until a restart. They go
   * back to ready, as a closed stream's jobs do: delivered again, at least once (their
   * worker was answered with the error). Not counted as abandoned: the worker reported.
   * A job that moved on meanwhile, or is held again, is left alone.
   */
  putBack(ids: readonly string[]): void {
    const t = this.store.table;
    const back: number[] = [];
    for (const id of ids) {
      const slot = t.slotById.get(id);
      if (slot === undefined || t.status[slot] !== STATUS_IN_FLIGHT || this.owners.has(id)) continue;
      t.setStatus(slot, STATUS_READY);
      back.push(slot);
    }
    if (back.length === 0) return;
    this.onRequeue(back, false);
    this.onChange();
    this.wake();
  }

  /** For a write that `ids` were released for: on its failure, putBack(ids) and rethrow. */
  putBackOnFailure(ids: readonly string[]): (err: unknown) => never {
    return (err) => {
      this.putBack(ids);
      throw err;
    };
  }

  /** The options of the stream holding an in-flight job (heartbeats check the worker). */
  holderOf(id: string): TakeOptions | undefined {
    return this.owners.get(id)?.options;
  }

  /** Forget every held job (reset). */
  releaseAll(): void {
    this.owners.clear();
    this.gate?.releaseAll();
    for (const s of this.streams) s.held.clear();
    this.wake();
  }

  /** Schedule a dispatch round; many wakes in one turn coalesce into one. */
  wake(): void {
    if (this.pending) return;
    this.pending = true;
    setImmediate(() => {
      this.pending = false;
      this.dispatch();
    });
  }

  private capped(): boolean {
    return this.globalLimit > 0 && this.owners.size >= this.globalLimit;
  }

  dispatch(): void {
    try {
      this.dispatchRound();
    } catch (err) {
      if (!(err instanceof DispatchHalted)) this.onError(err, "dispatching jobs");
    } finally {
      // Once per round, not per job: a round hands out up to DISPATCH_BUDGET jobs.
      if (this.deliveredInRound) {
        this.deliveredInRound = false;
        this.onChange();
      }
    }
  }

  private dispatchRound(): void {
    const t = this.store.table;
    const gate = this.gate?.active ? this.gate : undefined;
    if ((t.readyQueues.length === 0 && !gate?.hasCandidates) || this.streams.length === 0) return;
    const nowMs = this.clock.now();
    const skip = pausedIndexes(t.queues, this.paused);
    let progress = true;
    // Bounded per turn so a backlog of ready jobs never stalls the event loop.
    let budget = DISPATCH_BUDGET;
    while (progress && !this.capped()) {
      if (budget <= 0) {
        this.wake();
        return;
      }
      progress = false;
      const n = this.streams.length;
      const start = this.round++ % n;
      for (let i = 0; i < n && !this.capped(); i++) {
        const stream = this.streams[(start + i) % n];
        if (!stream || !stream.canTake()) continue;
        const named = queueIndexes(t.queues, stream.options.queues);
        let slot = t.peekReady(skip ? withoutPaused(named ?? t.readyQueues, skip) : named);
        // Parked jobs live outside the ready index, so "all queues" means the gate's own.
        if (gate) slot = gate.pick(skip ? withoutPaused(named ?? gate.candidateQueueIndexes(), skip) : named, slot, nowMs);
        if (slot === -1) continue;
        this.deliver(stream, slot, gate, nowMs);
        progress = true;
        budget--;
      }
    }
  }

  private deliver(stream: Stream, slot: number, gate?: BudgetGate, nowMs = this.clock.now()): void {
    const t = this.store.table;
    let payloadJson: string;
    try {
      payloadJson = this.store.payload(slot).toString("utf8");
    } catch (err) {
      // An unreadable payload must not kill the dispatch loop (it runs outside any
      // request): leave the job ready, report it, and stop this round.
      this.onError(err, `reading the payload of job ${t.idOf(slot)}`);
      throw new DispatchHalted();
    }
    // Budgets are debited only once the payload was read: nothing to refund after this.
    gate?.debit(slot, nowMs);
    this.stats?.taken(t.queues.name(t.queue[slot]), nowMs - t.readyAt[slot], nowMs);
    t.take(slot, nowMs);
    // The view carries the id string: making it is ~0.6 µs, so once per job, not twice.
    const job = viewOf(t, slot);
    this.owners.set(job.id, stream);
    stream.held.add(job.id);
    this.onDelivered(job.id, stream.options);
    this.deliveredInRound = true;
    if (!stream.options.deliver({ job, payloadJson })) stream.congested = true;
  }
}

/** Name indexes of the stream's queues that exist now; undefined = all queues. */
function queueIndexes(names: { lookup(name: string): number | undefined }, queues: string[] | undefined): number[] | undefined {
  if (!queues || queues.length === 0) return undefined;
  const out: number[] = [];
  for (const q of queues) {
    const i = names.lookup(q);
    if (i !== undefined) out.push(i);
  }
  return out;
}

/** Name indexes of the paused queues that exist now; undefined when none (the common case). */
function pausedIndexes(names: { lookup(name: string): number | undefined }, paused: ReadonlySet<string>): Set<number> | undefined {
  if (paused.size === 0) return undefined;
  const out = new Set<number>();
  for (const name of paused) {
    const i = names.lookup(name);
    if (i !== undefined) out.add(i);
  }
  return out.size === 0 ? undefined : out;
}

/** Queue indexes `from` minus the paused ones. */
function withoutPaused(from: Iterable<number>, skip: Set<number>): number[] {
  const out: number[] = [];
  for (const q of from) if (!skip.has(q)) out.push(q);
  return out;
}
