// The dispatcher's budget gate (API-budgets.md §2.5–2.8): where ready jobs with budget
// bindings are parked, which of them may go next, and the debits and credits of their
// budgets. take.ts calls it at three points (pick, debit, release); with no budget
// defined it is inactive and the take path does not touch it.
//
// Parking: a ready job bound to budgets is kept out of the table's ready index (the
// table's ReadyDiversion hook) and sits in one group per (budget, queue), ordered by
// (priority, id). A group's head is a candidate until a look finds it unaffordable; then
// the group is *blocked* and looked at again only when something can change the answer:
// its head changes, a while_in_flight budget it waits on gets a slot back, its drip
// timer fires, or a budget policy changes. So parked jobs are never rescanned per take.

import type { JobTable, ReadyDiversion } from "../storage/job-table.ts";
import { DueTimer } from "./_due-timer.ts";
import { IndexedHeap } from "../storage/indexed-heap.ts";
import { ParkedQueue } from "./_parked-queue.ts";
import { type Budget, available, credit, debit, refill, waitMs } from "./budget-bucket.ts";
import type { Binding } from "./budget-policy.ts";
import type { Clock } from "./clock.ts";

interface Group {
  key: string;
  queue: number;
  jobs: ParkedQueue;
  blocked: boolean;
  /** Bumped on every block/unblock: timer entries of an older block are stale. */
  gen: number;
}

interface Wake {
  atMs: number;
  group: Group;
  gen: number;
}

/** The bindings a job carries (options.budgets), or undefined when none. */
export function bindingsOf(t: JobTable, slot: number): Binding[] | undefined {
  return (t.extras.get(slot)?.options as { budgets?: Binding[] } | undefined)?.budgets;
}

export class BudgetGate implements ReadyDiversion {
  /** False until a budget exists; take.ts skips the gate entirely while false. */
  active = false;
  /** Called when parked work may have become dispatchable (wakes the dispatcher). */
  onWake: () => void = () => {};
  private readonly table: JobTable;
  private readonly budgets: Map<string, Budget>;
  private readonly clock: Clock;
  /**
   * Budget key → its groups by queue name index. A Map, not an array indexed by queue:
   * a key leaves with its last group (budgets made and deleted by the thousand, one per
   * tenant, each left ~260 bytes here), and knowing that it was the last must not cost a
   * scan of every queue index on the take path (6 ms at index 100,000).
   */
  private readonly groups = new Map<string, Map<number, Group>>();
  /** Per queue index: groups whose head may be affordable, best head first. */
  private readonly candidates: (IndexedHeap<Group> | undefined)[] = [];
  private readonly candidateQueues = new Set<number>();
  private readonly blocked = new Set<Group>();
  /** while_in_flight (or missing) budget key → blocked groups waiting for it. */
  private readonly waiting = new Map<string, Set<Group>>();
  private readonly wakes = new IndexedHeap<Wake>((a, b) => a.atMs < b.atMs);
  private readonly timer: DueTimer;
  /**
   * Slots of in-flight jobs that were debited. Why slots, not ids: a Map of 25-char id
   * strings cost ~4% of a budgeted W3 in hashing. Bindings cannot change while a job is
   * in flight, so release() reads them back from the job. Requires: release runs before
   * the job's slot is freed (every caller releases, then writes).
   */
  private readonly held = new Set<number>();
  /**
   * The bindings of each slot the gate answers for, read once at index time (claims)
   * instead of through the table's `extras` Map on every step: with a budget on every
   * job that Map holds one entry per job, and its lookups (five per take+ack) were ~6%
   * of a budgeted W3's profile. A plain array (8 bytes a slot, grown only as far as the
   * highest budgeted slot) rather than a Map for the same reason.
   * Invariant: for a slot that is ready and indexed, or held, `bound[slot]` is its
   * bindings (undefined for none). claims() writes it whenever a ready slot is indexed
   * (options change only while unindexed), and bindings never change in flight
   * (budget-jobs.ts refuses in-flight jobs; a patch keeps the same array). A stale
   * entry of a finished job is overwritten before its slot is indexed again.
   */
  private readonly bound: (readonly Binding[] | undefined)[] = [];
  private readonly slotLess: (a: number, b: number) => boolean;

  constructor(table: JobTable, budgets: Map<string, Budget>, clock: Clock) {
    this.table = table;
    this.budgets = budgets;
    this.clock = clock;
    this.timer = new DueTimer(clock, () => this.tick());
    this.slotLess = (a, b) => {
      const pa = table.priority[a];
      const pb = table.priority[b];
      return pa < pb || (pa === pb && table.compare(a, b) < 0);
    };
  }

  /** Start parking (the first budget exists): ready budgeted jobs move out of the ready index. */
  activate(): void {
    if (this.active) return;
    this.active = true;
    this.table.divertReady(this);
  }

  get hasCandidates(): boolean {
    return this.candidateQueues.size > 0;
  }

  // ---- ReadyDiversion: the table tells us about ready budgeted jobs -----------------

  claims(slot: number): boolean {
    const bindings = bindingsOf(this.table, slot);
    const bound = this.bound;
    if (bindings !== undefined) {
      // Grown with undefined, never by a far write: a sparse array turns into a slow dictionary.
      while (bound.length < slot) bound.push(undefined);
      bound[slot] = bindings;
      return true;
    }
    if (slot < bound.length) bound[slot] = undefined;
    return false;
  }

  holds(slot: number): boolean {
    return slot < this.bound.length && this.bound[slot] !== undefined;
  }

  insert(slot: number): void {
    const q = this.table.queue[slot];
    for (const b of this.bound[slot]!) {
      let byQueue = this.groups.get(b.key);
      if (!byQueue) this.groups.set(b.key, (byQueue = new Map()));
      let g = byQueue.get(q);
      if (!g) byQueue.set(q, (g = { key: b.key, queue: q, jobs: this.newParkedQueue(), blocked: false, gen: 0 }));
      const head = g.jobs.peek();
      g.jobs.push(slot);
      if (g.jobs.peek() !== head) this.headChanged(g);
    }
  }

  remove(slot: number): void {
    const q = this.table.queue[slot];
    for (const b of this.bound[slot]!) {
      const byQueue = this.groups.get(b.key);
      const g = byQueue?.get(q);
      if (!g) continue;
      const wasHead = g.jobs.peek() === slot;
      g.jobs.remove(slot);
      if (g.jobs.size === 0) {
        this.dropCandidate(g);
        this.blocked.delete(g);
        byQueue!.delete(q);
        if (byQueue!.size === 0) this.groups.delete(b.key);
        g.gen++;
      } else if (wasHead) {
        this.headChanged(g);
      }
    }
  }

  /** Every parked slot (each once), for the admin view's ready list. */
  parkedSlots(): number[] {
    const seen = new Set<number>();
    for (const byQueue of this.groups.values()) for (const g of byQueue.values()) for (const s of g.jobs.values()) seen.add(s);
    return [...seen];
  }

  // ---- the take path ----------------------------------------------------------------

  /**
   * The slot a take should get among `queues` (undefined = all): `plain`, the best
   * unthrottled ready job (or -1), unless a parked job that can pay now comes before it
   * in (priority, id) order. Only heads better than the current best are looked at, so a
   * throttled head never lets a worse budgeted job jump an unthrottled one (the
   * reference's priority inversion, §6, is not copied).
   */
  /** The queues that hold parked jobs (for callers that must filter "all queues"). */
  candidateQueueIndexes(): Iterable<number> {
    return this.candidateQueues;
  }

  pick(queues: readonly number[] | undefined, plain: number, nowMs: number): number {
    let best = plain;
    if (queues) for (const q of queues) best = this.bestIn(q, best, nowMs);
    else for (const q of this.candidateQueues) best = this.bestIn(q, best, nowMs);
    return best;
  }

  /** The best payable head of queue `q` if it comes before `best`, else `best`. */
  private bestIn(q: number, best: number, nowMs: number): number {
    const heap = this.candidates[q];
    if (!heap) return best;
    for (let g = heap.peek(); g !== undefined; g = heap.peek()) {
      const head = g.jobs.peek()!;
      if (best !== -1 && !this.slotLess(head, best)) return best;
      if (this.affordable(head, nowMs)) return head;
      this.block(g, head, nowMs);
    }
    return best;
  }

  /** Dispatch: debit every budget of the job (all can pay: pick just checked). */
  debit(slot: number, nowMs: number): void {
    const bindings = slot < this.bound.length ? this.bound[slot] : undefined;
    if (!bindings) return;
    for (const b of bindings) {
      const budget = this.budgets.get(b.key);
      if (!budget) continue;
      refill(budget, nowMs);
      debit(budget, b.cost);
    }
    this.held.add(slot);
  }

  /**
   * The job left in_flight (ack, failure, delete, disconnect): while_in_flight slots come
   * back. `slot` saves the id lookup for callers that have it. Requires: it is `id`'s slot.
   */
  release(id: string, slot?: number): void {
    if (this.held.size === 0) return;
    if (slot === undefined) slot = this.table.slotById.get(id);
    if (slot === undefined || !this.held.delete(slot)) return;
    const bindings = this.bound[slot];
    if (!bindings) return;
    let woke = false;
    for (const b of bindings) {
      const budget = this.budgets.get(b.key);
      if (!budget) continue;
      credit(budget, b.cost);
      if (budget.strategy.type === "while_in_flight") woke = this.wakeWaiting(b.key) || woke;
    }
    if (woke) this.onWake();
  }

  /** Reset: nothing is in flight any more. */
  releaseAll(): void {
    this.held.clear();
    for (const b of this.budgets.values()) b.heldCost = 0;
  }

  /** A budget was created, replaced or patched: every blocked group may look again. */
  policyChanged(): void {
    for (const g of [...this.blocked]) this.unblock(g);
    this.waiting.clear();
    this.onWake();
  }

  /** POST /reset: forget every group, hold and timer (the table was cleared already). */
  reset(): void {
    this.groups.clear();
    this.candidates.length = 0;
    this.candidateQueues.clear();
    this.blocked.clear();
    this.waiting.clear();
    while (this.wakes.size > 0) this.wakes.remove(this.wakes.peek()!);
    this.held.clear();
    this.bound.length = 0;
    this.timer.arm(undefined);
  }

  /** Fire due drip timers (the DueTimer calls this; fixed-clock tests call it directly). */
  tick(): void {
    const now = this.clock.now();
    let woke = false;
    for (let w = this.wakes.peek(); w !== undefined && w.atMs <= now; w = this.wakes.peek()) {
      this.wakes.remove(w);
      if (w.gen === w.group.gen && w.group.blocked) {
        this.unblock(w.group);
        woke = true;
      }
    }
    this.timer.arm(this.wakes.peek()?.atMs);
    if (woke) this.onWake();
  }

  /** Earliest pending drip wake-up (tests and diagnostics). */
  nextWakeMs(): number | undefined {
    return this.wakes.peek()?.atMs;
  }

  stop(): void {
    this.timer.stop();
  }

  // ---- internals ----------------------------------------------------------------

  private affordable(slot: number, nowMs: number): boolean {
    for (const b of this.bound[slot]!) {
      const budget = this.budgets.get(b.key);
      if (!budget) return false;
      refill(budget, nowMs);
      if (available(budget) < b.cost) return false;
    }
    return true;
  }

  private block(g: Group, head: number, nowMs: number): void {
    this.dropCandidate(g);
    g.blocked = true;
    g.gen++;
    this.blocked.add(g);
    let wakeAt = -1;
    for (const b of this.bound[head]!) {
      const budget = this.budgets.get(b.key);
      const wait = budget ? waitMs(budget, b.cost) : Infinity;
      if (wait === 0) continue;
      if (wait === Infinity) {
        // A release (or the budget's creation) is what can help: wait for that event.
        let set = this.waiting.get(b.key);
        if (!set) this.waiting.set(b.key, (set = new Set()));
        set.add(g);
      } else {
        wakeAt = Math.max(wakeAt, nowMs + wait);
      }
    }
    if (wakeAt >= 0) {
      this.wakes.push({ atMs: wakeAt, group: g, gen: g.gen });
      this.timer.arm(this.wakes.peek()!.atMs);
    }
  }

  private unblock(g: Group): void {
    if (!g.blocked) return;
    g.blocked = false;
    g.gen++;
    this.blocked.delete(g);
    if (g.jobs.size > 0 && this.groups.get(g.key)?.get(g.queue) === g) this.addCandidate(g);
  }

  private wakeWaiting(key: string): boolean {
    const set = this.waiting.get(key);
    if (!set) return false;
    this.waiting.delete(key);
    let woke = false;
    for (const g of set) {
      if (g.blocked) {
        this.unblock(g);
        woke = true;
      }
    }
    return woke;
  }

  private newParkedQueue(): ParkedQueue {
    const t = this.table;
    return new ParkedQueue((a, b) => t.compare(a, b), (slot) => t.priority[slot]);
  }

  private headChanged(g: Group): void {
    if (g.blocked) this.unblock(g);
    else if (this.candidates[g.queue]?.has(g)) this.candidates[g.queue]!.update(g);
    else this.addCandidate(g);
  }

  private addCandidate(g: Group): void {
    let heap = this.candidates[g.queue];
    if (!heap) heap = this.candidates[g.queue] = new IndexedHeap<Group>((a, b) => this.slotLess(a.jobs.peek()!, b.jobs.peek()!));
    heap.push(g);
    this.candidateQueues.add(g.queue);
  }

  private dropCandidate(g: Group): void {
    const heap = this.candidates[g.queue];
    if (!heap || !heap.remove(g)) return;
    if (heap.size === 0) this.candidateQueues.delete(g.queue);
  }
}
