// Nack (API.md §3.9): count the failure, record it, then kill, reschedule at retry_at,
// kill past the retry limit, or reschedule after backoff.
// Guarantee: the job's new state and its error record are written atomically. On a full
// disk a failure that would use the room kept for acks is refused (507) and changes
// nothing: no reserve can cover a job's failures, of which there may be any number. A
// failure whose write fails after it began (EIO) puts the job back to ready: delivered
// again, its attempt not counted (Dispatcher.putBack).

import { STATUS_DEAD, STATUS_IN_FLIGHT, STATUS_SCHEDULED } from "../storage/format.ts";
import { backoffDelayMs } from "./backoff.ts";
import { later } from "./clock.ts";
import type { QueueContext } from "./context.ts";
import { optionsOf, viewOfMeta, withMeta } from "./job.ts";
import { QueueError, type ErrorRecord, type JobView } from "./types.ts";
import {
  U64_MAX, expectBool, expectObject, expectString, expectUint, optional, requireField, wellFormed,
} from "./validate.ts";

export interface FailureInput {
  message: string;
  errorType?: string;
  backtrace?: string;
  retryAtMs?: number;
  kill: boolean;
}

export function parseFailure(raw: unknown): FailureInput {
  const o = expectObject(raw, "struct FailureRequest");
  return {
    message: wellFormed(expectString(requireField(o, "message"), "message")),
    errorType: optional(o, "error_type", (v) => wellFormed(expectString(v, "error_type"))),
    backtrace: optional(o, "backtrace", (v) => wellFormed(expectString(v, "backtrace"))),
    retryAtMs: optional(o, "retry_at", (v) => expectUint(v, "retry_at", U64_MAX, "u64")),
    kill: optional(o, "kill", (v) => expectBool(v, "kill")) ?? false,
  };
}

export async function fail(ctx: QueueContext, id: string, input: FailureInput, nowMs: number): Promise<JobView> {
  const t = ctx.store.table;
  const slot = t.slotById.get(id);
  if (slot === undefined || t.status[slot] !== STATUS_IN_FLIGHT) {
    throw new QueueError("not_found", "job not found in in-flight set");
  }
  const options = optionsOf(t, slot);
  const attempts = t.attempts[slot] + 1;
  const dequeuedAt = t.dequeuedAt[slot];
  // After a retry (retry.ts) attempts restart at 0 but the error history stays, so the
  // records number on from it; for any other job this is `attempts` itself.
  const history = t.extras.get(slot)?.errors;
  const attempt = Math.max(attempts, (history?.[history.length - 1]?.attempt ?? 0) + 1);
  // Built in wire order: attempt, message, error_type?, backtrace?, dequeued_at, failed_at.
  const record = {
    attempt,
    message: input.message,
    ...(input.errorType === undefined ? {} : { error_type: input.errorType }),
    ...(input.backtrace === undefined ? {} : { backtrace: input.backtrace }),
    dequeued_at: Number.isNaN(dequeuedAt) ? 0 : dequeuedAt,
    failed_at: nowMs,
  } satisfies ErrorRecord;

  const retryLimit = options.retry_limit ?? ctx.defaults.retryLimit;
  let dead = input.kill;
  let readyAtMs = t.readyAt[slot];
  if (!dead && input.retryAtMs !== undefined) readyAtMs = input.retryAtMs;
  else if (!dead && attempts > retryLimit) dead = true;
  else if (!dead) readyAtMs = later(nowMs, backoffDelayMs(attempts, options.backoff ?? ctx.defaults.backoff, ctx.random));

  // The job leaves its stream (and lease) only once its write is taken: a failure the
  // storage refuses (507 on a full disk) leaves it in flight on its stream, as it was, so
  // the worker can report again, or the stream's end or the lease puts it back. One whose
  // write then fails (EIO) is undone by the store to in flight, off its stream: putBack.
  const release = () => ctx.dispatcher.release(id, slot);
  const putBack = ctx.dispatcher.putBackOnFailure([id]);
  if (dead) {
    const deadMs = options.retention?.dead_ms ?? ctx.defaults.deadRetentionMs;
    const meta = withMeta(t, slot, {
      status: STATUS_DEAD, attempts, failedAtMs: nowMs, purgeAtMs: deadMs === 0 ? undefined : later(nowMs, deadMs),
    });
    if (deadMs === 0) {
      // A delete: its room was reserved at enqueue, so it is never refused for space.
      release();
      await ctx.store.remove([slot], ctx.writeSync).catch(putBack);
    } else {
      await ctx.store.fail(slot, meta, attempt, record, ctx.writeSync, { accepted: release }).catch(putBack);
    }
    ctx.stats.failed(meta.queue, true, nowMs);
    return viewOfMeta(meta);
  }
  const meta = withMeta(t, slot, { status: STATUS_SCHEDULED, attempts, failedAtMs: nowMs, readyAtMs });
  await ctx.store.fail(slot, meta, attempt, record, ctx.writeSync, { accepted: release }).catch(putBack);
  ctx.stats.failed(meta.queue, false, nowMs);
  // Rescheduled: a unique job takes its key back if it is free (§4.3).
  if (options.unique_key !== undefined && t.slotById.get(id) === slot) ctx.unique.reclaim(t, options.unique_key, id);
  ctx.afterChange();
  return viewOfMeta(meta);
}
