// Ack (API.md §3.7–3.8): an in-flight job completes. With an effective completed
// retention of 0 it is deleted at once (one DELETE record for the whole bulk ack);
// otherwise it stays `completed` until purge_at.
// Guarantee: the 204 goes out only once the completion is durable. A completion whose
// write fails (EIO) puts its jobs back to ready, to be delivered again (Dispatcher.putBack).

import type { JobMeta } from "../storage/codec.ts";
import { STATUS_COMPLETED, STATUS_IN_FLIGHT } from "../storage/format.ts";
import { later } from "./clock.ts";
import type { QueueContext } from "./context.ts";
import { optionsOf, withMeta } from "./job.ts";

/** Completions were reserved room at enqueue (Store.update); one object for every ack. */
const RESERVED = { reserved: true } as const;

/** Complete every id that is in flight; returns the ids that were not. */
export async function complete(ctx: QueueContext, ids: readonly string[], nowMs: number): Promise<string[]> {
  const t = ctx.store.table;
  const notFound: string[] = [];
  const removals: number[] = [];
  const updates: number[] = [];
  const metas: JobMeta[] = [];
  const queues: string[] = [];
  for (const id of new Set(ids)) {
    const slot = t.slotById.get(id);
    if (slot === undefined || t.status[slot] !== STATUS_IN_FLIGHT) {
      notFound.push(id);
      continue;
    }
    ctx.dispatcher.release(id, slot);
    queues.push(t.queues.name(t.queue[slot]));
    const retentionMs = optionsOf(t, slot).retention?.completed_ms ?? ctx.defaults.completedRetentionMs;
    if (retentionMs === 0) {
      removals.push(slot);
    } else {
      updates.push(slot);
      metas.push(withMeta(t, slot, { status: STATUS_COMPLETED, completedAtMs: nowMs, purgeAtMs: later(nowMs, retentionMs) }));
    }
  }
  const writes = await Promise.allSettled([ctx.store.remove(removals, ctx.writeSync), ctx.store.update(updates, metas, ctx.writeSync, RESERVED)]);
  for (const w of writes) {
    if (w.status === "fulfilled") continue;
    // Both settled: every job whose write failed is back in flight (the store's undo),
    // and held by no stream after the release above.
    ctx.dispatcher.putBack(ids);
    throw w.reason;
  }
  for (const queue of queues) ctx.stats.completed(queue, nowMs);
  return notFound;
}
