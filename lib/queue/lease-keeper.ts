// Wires leases (lease.ts) and abandon counting (abandons.ts) into the dispatcher: a job
// delivered on a leased stream gets a lease; leaving flight drops it; an expired lease is
// a failed attempt (`lease expired after 30s`, backoff and retry limit apply) through the
// normal nack path, so a late ack finds the job no longer in flight (404). With
// --max-abandons N, the Nth abandoned delivery (expiry or dropped stream) kills the job.

import { STATUS_IN_FLIGHT } from "../storage/format.ts";
import { AbandonCounter, killAbandoned } from "./abandons.ts";
import { guarded, isStorageRefusal, toQueueError } from "./errors.ts";
import type { QueueContext } from "./context.ts";
import { fail } from "./fail.ts";
import { LeaseBook, formatLease } from "./lease.ts";
import { QueueError } from "./types.ts";

export interface LeaseKeeperOptions {
  /** Lease for streams that do not ask for one; 0 = none. */
  defaultLeaseMs: number;
  /** Abandonments that kill a job; 0 = never. */
  maxAbandons: number;
  onError: (err: unknown, where: string) => void;
  /** A job died or was rescheduled here (the admin event stream listens). */
  onFailed: (id: string) => void;
}

export class LeaseKeeper {
  readonly leases: LeaseBook;
  readonly abandons: AbandonCounter;
  readonly defaultLeaseMs: number;
  private readonly ctx: QueueContext;
  private readonly options: LeaseKeeperOptions;

  constructor(ctx: QueueContext, options: LeaseKeeperOptions) {
    this.ctx = ctx;
    this.options = options;
    this.defaultLeaseMs = options.defaultLeaseMs;
    this.abandons = new AbandonCounter(options.maxAbandons);
    this.leases = new LeaseBook(ctx.clock, (id, leaseMs) => this.expire(id, leaseMs));
    const d = ctx.dispatcher;
    d.onDelivered = (id, o) => {
      if (o.leaseMs) this.leases.grant(id, o.leaseMs, ctx.clock.now());
    };
    d.onReleased = (id) => this.leases.drop(id);
  }

  /**
   * A closed stream put `slot` back to ready: count the abandonment; true when that was
   * the last one allowed and the job is now dead (the caller then skips re-claiming keys).
   */
  abandoned(slot: number): boolean {
    if (this.abandons.max === 0) return false;
    const t = this.ctx.store.table;
    const id = t.idOf(slot);
    const n = this.abandons.add(this.ctx, id);
    if (n < this.abandons.max) return false;
    killAbandoned(this.ctx, slot, n, this.ctx.clock.now()).then(
      () => this.options.onFailed(id),
      (err) => this.options.onError(toQueueError(err), `killing job ${id} after ${n} abandoned deliveries`),
    );
    return true;
  }

  private expire(id: string, leaseMs: number): void {
    const t = this.ctx.store.table;
    const slot = t.slotById.get(id);
    if (slot === undefined || t.status[slot] !== STATUS_IN_FLIGHT) return;
    const n = this.abandons.max === 0 ? 0 : this.abandons.add(this.ctx, id);
    const kill = n > 0 && n >= this.abandons.max;
    const message = kill ? `abandoned ${n} times` : `lease expired after ${formatLease(leaseMs)}`;
    guarded(fail(this.ctx, id, { message, kill }, this.ctx.clock.now())).then(
      () => this.options.onFailed(id),
      (err) => {
        // Refused for space (a full disk): the failure changed nothing and the job is still
        // in flight on its stream. Try again one lease later, the abandonment not counted
        // twice, rather than leave it with a worker that may be gone.
        if (isStorageRefusal(err) && t.slotById.get(id) === slot && t.status[slot] === STATUS_IN_FLIGHT && this.ctx.dispatcher.holderOf(id)) {
          if (n > 0) this.abandons.uncount(id);
          this.leases.grant(id, leaseMs, this.ctx.clock.now());
        }
        this.options.onError(err, `expiring the lease of job ${id}`);
      },
    );
  }

  /**
   * POST /jobs/{id}/heartbeat: the lease runs its full length again. 404 when the job is
   * not in flight; 409 when the request names a worker (Worker-Id) and the stream holding
   * the job was opened by another. A job in flight without a lease is a no-op.
   */
  heartbeat(id: string, workerId: string | undefined): void {
    const t = this.ctx.store.table;
    const slot = t.slotById.get(id);
    if (slot === undefined || t.status[slot] !== STATUS_IN_FLIGHT) throw new QueueError("not_found", "job not found in in-flight set");
    const holder = this.ctx.dispatcher.holderOf(id)?.workerId;
    if (workerId !== undefined && holder !== undefined && holder !== workerId) {
      throw new QueueError("conflict", `job ${id} is held by another worker`);
    }
    this.leases.extend(id, this.ctx.clock.now());
  }

  clear(): void {
    this.leases.clear();
    this.abandons.clear();
  }

  stop(): void {
    this.leases.stop();
  }
}
