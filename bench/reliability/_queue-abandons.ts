// The writes the queue makes by itself in the power-loss workload (_queue-workload.ts):
// lease expiries and abandon kills (docs/api.md "leases and heartbeats", "poison jobs").
// The workload keeps its own abandon count per job and predicts each one, issues it in
// the ledger before it happens, answers it when the queue's `dead` event says it landed,
// and checks the queue did exactly that: the MAX_ABANDONS-th abandonment (a dropped
// stream or an expired lease) kills, any other puts the job back (ready, or failed with
// `lease expired after …`), and a late ack of a job no longer in flight is a 404.

import { STATUS_DEAD, STATUS_IN_FLIGHT, STATUS_READY } from "../../lib/storage/format.ts";
import type { Store } from "../../lib/storage/store.ts";
import type { Clock } from "../../lib/queue/clock.ts";
import { formatLease } from "../../lib/queue/lease.ts";
import type { Queue } from "../../lib/queue/queue.ts";
import type { Taker } from "../../lib/queue/types.ts";
import type { Ledger } from "./_queue-ledger.ts";
import { type JobState, MAX_ABANDONS, snapshotOf } from "./_queue-model.ts";

export interface AbandonContext {
  ledger: Ledger;
  clock: Clock;
  idToTag: Map<string, number>;
  /** Jobs delivered on the live stream and not yet acked, nacked, deleted or expired. */
  held: Set<string>;
  failures: string[];
  count: (op: string) => void;
  where: () => string;
}

export class Abandons {
  /** Abandonments per tag, as the queue counts them (in memory: a restart or reset clears them, a retry forgets one). */
  readonly counts = new Map<number, number>();
  /** Expiries and kills issued, answered by the queue's `dead` event for the job. */
  private readonly answers = new Map<string, () => void>();
  private readonly c: AbandonContext;

  constructor(context: AbandonContext) {
    this.c = context;
  }

  /** Writes issued and not yet landed. */
  get pending(): number {
    return this.answers.size;
  }

  /** Answer expiries and kills from `queue`'s events (its LeaseBook timer stopped: fireLeases drives it). */
  listen(queue: Queue): void {
    queue.leases.leases.stop();
    queue.onChange((event) => {
      if (event.kind !== "dead") return;
      for (const id of event.ids) {
        const answer = this.answers.get(id);
        this.answers.delete(id);
        answer?.();
      }
    });
  }

  /**
   * Close the live take stream: its jobs go back to ready, each abandonment counted, and
   * the MAX_ABANDONS-th kills the job (`abandoned N times`). The kills are issued in the
   * ledger before the close, and what the queue did is checked against them.
   */
  dropStream(store: Store, queue: Queue, taker: Taker): void {
    const { held, idToTag, failures } = this.c;
    const t = store.table;
    const ids = [...held].filter((id) => { const slot = t.slotById.get(id); return slot !== undefined && t.status[slot] === STATUS_IN_FLIGHT; });
    const kills = new Set<string>();
    for (const id of ids) {
      const n = idToTag.get(id)!;
      const k = this.add(n);
      if (k < MAX_ABANDONS) continue;
      kills.add(id);
      this.expect(store, queue, n, `abandoned ${k} times`, "kill");
    }
    taker.close();
    held.clear();
    for (const id of ids) {
      const slot = t.slotById.get(id);
      const status = slot === undefined ? "absent" : t.status[slot];
      if (kills.has(id) ? status !== "absent" && status !== STATUS_DEAD : status !== STATUS_READY) {
        // The job's last error record says what the queue counted ("abandoned N times").
        const last = slot === undefined ? undefined : (store.errors(slot) as { message?: string }[]).at(-1)?.message;
        failures.push(`${this.c.where()}: job ${id}, its stream closed after ${this.counts.get(idToTag.get(id)!)} abandonments, is in status ${status}; ${kills.has(id) ? "expected it killed" : "expected it ready"} (its last error: ${last ?? "none"}; the stream held ${ids.length} jobs)`);
      }
    }
  }

  /**
   * Expire the leases due at the manual clock's now (the LeaseBook's own fire, its timer
   * stopped): each is a failed attempt (`lease expired after …`), or with the job's
   * MAX_ABANDONS-th abandonment a kill. Skipped while a due job has a write in flight.
   */
  fireLeases(store: Store, queue: Queue): void {
    const { ledger, idToTag, held, failures } = this.c;
    const book = queue.leases.leases as unknown as { byLength: Map<number, Map<string, number>>; fire(): void };
    const due: [string, number][] = [];
    for (const [leaseMs, deadlines] of book.byLength) for (const [id, deadline] of deadlines) if (deadline <= this.c.clock.now()) due.push([id, leaseMs]);
    if (due.length === 0 || due.some(([id]) => !idToTag.has(id) || ledger.busy(ledger.jobs.get(idToTag.get(id)!)!))) return;
    for (const [id, leaseMs] of due) {
      const n = idToTag.get(id)!;
      const k = this.add(n);
      held.delete(id);
      this.expect(store, queue, n, k >= MAX_ABANDONS ? `abandoned ${k} times` : `lease expired after ${formatLease(leaseMs)}`, "leaseExpiry");
    }
    book.fire();
    for (const [id] of due) {
      const slot = store.table.slotById.get(id);
      if (slot !== undefined && store.table.status[slot] === STATUS_IN_FLIGHT && !held.has(id)) failures.push(`${this.c.where()}: job ${id}'s lease expired, still in flight`);
    }
  }

  private add(n: number): number {
    const k = (this.counts.get(n) ?? 0) + 1;
    this.counts.set(n, k);
    return k;
  }

  /** A failure the queue writes by itself on tag `n`, answered by its `dead` event. */
  private expect(store: Store, queue: Queue, n: number, message: string, what: string): void {
    const { ledger, failures } = this.c;
    const id = ledger.jobs.get(n)!.id!;
    const w = ledger.issueJobs([n], what);
    this.c.count(what);
    this.answers.set(id, () => {
      w.fill(() => snapshotOf(store, id));
      w.answer();
      const s = ledger.jobs.get(n)!.versions[w.at[0]] as JobState | undefined;
      if (s && JSON.parse(s.errors.at(-1) ?? "{}").message !== message) {
        failures.push(`${this.c.where()}: ${what} of job ${id}: last error record ${s.errors.at(-1)}, expected message '${message}'`);
      }
      // A late ack of a job no longer in flight is a 404 (docs/api.md, leases).
      const slot = store.table.slotById.get(id);
      if (!store.isClosed && (slot === undefined || store.table.status[slot] !== STATUS_IN_FLIGHT)) {
        queue.complete(id).then(
          () => failures.push(`${this.c.where()}: a late ack of ${id} after its ${what} was accepted`),
          (err: { code?: string }) => { if (err.code !== "not_found") failures.push(`${this.c.where()}: late ack of ${id}: ${err}`); },
        );
      }
    });
  }
}
