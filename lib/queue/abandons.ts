// Abandoned deliveries and poison jobs (an extension): a delivery that ends with neither
// ack nor nack (its take stream dropped, its lease expired) is counted per job; with
// --max-abandons N the Nth abandonment kills the job with the error `abandoned N times`,
// so one job that crashes its workers cannot take them down forever.
//
// Decision: the counts live in memory only. The case they guard against is a job that
// crashes the WORKER; the server stays up and keeps counting. Persisting every abandonment
// would put a disk write on every disconnect, and a server restart (not the job's fault)
// then costs at most N more deliveries. Off by default (docs/api.md says why).

import type { JobMeta } from "../storage/codec.ts";
import { STATUS_DEAD, STATUS_FREE } from "../storage/format.ts";
import { later } from "./clock.ts";
import type { QueueContext } from "./context.ts";
import { isTerminal, optionsOf, withMeta } from "./job.ts";
import type { ErrorRecord } from "./types.ts";

export class AbandonCounter {
  private readonly counts = new Map<string, number>();
  private pruneAt = 1024;
  /** Abandonments that kill a job; 0 = never (counting is off too). */
  readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  /** Count one abandonment of `id`; returns the job's total. */
  add(ctx: QueueContext, id: string): number {
    const n = (this.counts.get(id) ?? 0) + 1;
    this.counts.set(id, n);
    if (this.counts.size >= this.pruneAt) this.prune(ctx);
    return n;
  }

  /** Take back the last add() of `id` (its failure was refused; it will be counted when retried). */
  uncount(id: string): void {
    const n = this.counts.get(id);
    if (n === undefined) return;
    if (n <= 1) this.counts.delete(id);
    else this.counts.set(id, n - 1);
  }

  /** A retry starts the job afresh. */
  forget(id: string): void {
    this.counts.delete(id);
  }

  clear(): void {
    this.counts.clear();
  }

  /** Drop counts of jobs that are gone or finished; amortised O(1) per add. */
  private prune(ctx: QueueContext): void {
    const t = ctx.store.table;
    for (const id of this.counts.keys()) {
      const slot = t.slotById.get(id);
      if (slot === undefined || t.status[slot] === STATUS_FREE || isTerminal(t.status[slot])) this.counts.delete(id);
    }
    this.pruneAt = Math.max(1024, this.counts.size * 2);
  }
}

/**
 * Kill a job whose delivery was abandoned for the Nth time (it is ready again: its stream
 * closed). Like a nack with `kill`: attempts + 1, an error record, dead (or deleted with a
 * dead retention of 0). The new state is applied before this returns its promise, so no
 * dispatch round can hand the job out again.
 */
export function killAbandoned(ctx: QueueContext, slot: number, abandons: number, nowMs: number): Promise<void> {
  const t = ctx.store.table;
  const attempts = t.attempts[slot] + 1;
  const history = t.extras.get(slot)?.errors;
  const attempt = Math.max(attempts, (history?.[history.length - 1]?.attempt ?? 0) + 1);
  const dequeuedAt = t.dequeuedAt[slot];
  const record = {
    attempt,
    message: `abandoned ${abandons} times`,
    dequeued_at: Number.isNaN(dequeuedAt) ? 0 : dequeuedAt,
    failed_at: nowMs,
  } satisfies ErrorRecord;
  const deadMs = optionsOf(t, slot).retention?.dead_ms ?? ctx.defaults.deadRetentionMs;
  const meta: JobMeta = withMeta(t, slot, {
    status: STATUS_DEAD, attempts, failedAtMs: nowMs, purgeAtMs: deadMs === 0 ? undefined : later(nowMs, deadMs),
  });
  if (deadMs === 0) return ctx.store.remove([slot], ctx.writeSync);
  // Reserved: on a full disk a refused kill left the poison job ready, handed out again.
  return ctx.store.fail(slot, meta, attempt, record, ctx.writeSync, KILL);
}

/** A kill takes the place of the completion the job's reserve was kept for (Store.fail). */
const KILL = { reserved: true } as const;
