// Leases on delivered jobs (an extension; SQS's visibility timeout, beanstalkd's TTR): a
// job taken by a stream with a lease must be acked, nacked or extended by a heartbeat
// before its deadline, or `expire` is called for it. In memory only: a restart makes
// every in-flight job ready again, so no lease outlives the process that granted it.
//
// Why one FIFO map per lease length rather than a heap: every grant or heartbeat of a
// given length sets now + length, so a map kept in insertion order (delete + set moves
// an entry to the end) is already in deadline order. Grant, extend and drop are O(1),
// the earliest deadline is the first entry of one of a handful of maps.

import { DueTimer } from "./_due-timer.ts";
import type { Clock } from "./clock.ts";

export class LeaseBook {
  /** lease length (ms) → job id → deadline (ms since epoch), in deadline order. */
  private readonly byLength = new Map<number, Map<string, number>>();
  private readonly lengthOf = new Map<string, number>();
  private readonly timer: DueTimer;
  private readonly clock: Clock;
  private readonly expire: (id: string, leaseMs: number) => void;

  constructor(clock: Clock, expire: (id: string, leaseMs: number) => void) {
    this.clock = clock;
    this.expire = expire;
    this.timer = new DueTimer(clock, () => this.fire());
  }

  get size(): number {
    return this.lengthOf.size;
  }

  /** Start a lease of `leaseMs` on a job just delivered. */
  grant(id: string, leaseMs: number, nowMs: number): void {
    this.drop(id);
    let deadlines = this.byLength.get(leaseMs);
    if (!deadlines) this.byLength.set(leaseMs, (deadlines = new Map()));
    const wasEmpty = deadlines.size === 0;
    deadlines.set(id, nowMs + leaseMs);
    this.lengthOf.set(id, leaseMs);
    if (wasEmpty) this.arm();
  }

  /** Heartbeat: the lease runs its full length again from now. False if the job has none. */
  extend(id: string, nowMs: number): boolean {
    const leaseMs = this.lengthOf.get(id);
    if (leaseMs === undefined) return false;
    const deadlines = this.byLength.get(leaseMs)!;
    deadlines.delete(id);
    deadlines.set(id, nowMs + leaseMs);
    return true;
  }

  /** The job left flight (acked, failed, deleted, stream closed): forget its lease. */
  drop(id: string): void {
    if (this.lengthOf.size === 0) return;
    const leaseMs = this.lengthOf.get(id);
    if (leaseMs === undefined) return;
    this.lengthOf.delete(id);
    this.byLength.get(leaseMs)!.delete(id);
  }

  clear(): void {
    this.byLength.clear();
    this.lengthOf.clear();
    this.timer.arm(undefined);
  }

  stop(): void {
    this.timer.stop();
  }

  /** Re-arm for the earliest deadline. Stale arming (a dropped or extended front) just fires early and re-arms. */
  private arm(): void {
    let earliest: number | undefined;
    for (const [leaseMs, deadlines] of this.byLength) {
      const first = deadlines.values().next();
      if (first.done) {
        this.byLength.delete(leaseMs);
        continue;
      }
      if (earliest === undefined || first.value < earliest) earliest = first.value;
    }
    this.timer.arm(earliest);
  }

  private fire(): void {
    const nowMs = this.clock.now();
    const due: [string, number][] = [];
    for (const [leaseMs, deadlines] of this.byLength) {
      for (const [id, deadline] of deadlines) {
        if (deadline > nowMs) break;
        deadlines.delete(id);
        this.lengthOf.delete(id);
        due.push([id, leaseMs]);
      }
    }
    this.arm();
    for (const [id, leaseMs] of due) this.expire(id, leaseMs);
  }
}

/** `lease expired after 30s`: the length in the largest unit that divides it. */
export function formatLease(ms: number): string {
  for (const [unit, size] of [["h", 3_600_000], ["m", 60_000], ["s", 1000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
