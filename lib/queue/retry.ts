// Retry (an extension, docs/api.md "Extensions"): a dead job, or a completed one still
// retained, goes back to ready (or scheduled, with a future `ready_at`) with attempts 0.
// Its error history stays; later failures continue its attempt numbering (fail.ts).
// Unique keys stay honoured as at enqueue: a key now held by another job is a 409. Budget
// bindings too: a budget deleted or shrunk while the job was terminal is a 422.
// Guarantee: each call's jobs change state in one atomic write (bulk: one per chunk).

import type { JobMeta } from "../storage/codec.ts";
import { STATUS_COMPLETED, STATUS_DEAD, STATUS_READY, STATUS_SCHEDULED } from "../storage/format.ts";
import type { BudgetBook } from "./budget-book.ts";
import type { Binding } from "./budget-policy.ts";
import type { QueueContext } from "./context.ts";
import { STATUS_NAME, isExpired, optionsOf, withMeta } from "./job.ts";
import { QueueError, type UniqueWhile } from "./types.ts";
import { U64_MAX, expectObject, expectUint, optional } from "./validate.ts";

export interface RetryInput {
  /** When the job becomes ready again; absent = now. */
  readyAtMs?: number;
}

/** The optional body `{ready_at?}`; an absent body (undefined) means `{}`. */
export function parseRetry(raw: unknown): RetryInput {
  if (raw === undefined) return {};
  const o = expectObject(raw, "struct RetryRequest");
  for (const key of Object.keys(o)) {
    if (key !== "ready_at") throw new QueueError("invalid_argument", `unknown field \`${key}\`, expected \`ready_at\``);
  }
  return { readyAtMs: optional(o, "ready_at", (v) => expectUint(v, "ready_at", U64_MAX, "u64")) };
}

export const isRetryable = (status: number): boolean => status === STATUS_DEAD || status === STATUS_COMPLETED;

/** Why `slot` cannot be retried now, or undefined. The 409 names the key's holder. */
export function retryRefusal(ctx: QueueContext, book: BudgetBook, slot: number): QueueError | undefined {
  const t = ctx.store.table;
  const status = t.status[slot];
  if (!isRetryable(status)) {
    return new QueueError("unprocessable", `cannot retry a job in ${STATUS_NAME[status]} status (only dead or completed jobs)`);
  }
  const o = optionsOf(t, slot);
  const budgetProblem = bindingsOf(o) && book.retryRefusal(bindingsOf(o)!);
  if (budgetProblem) return budgetProblem;
  if (o.unique_key === undefined) return undefined;
  const holder = ctx.unique.conflict(t, o.unique_key, (o.unique_while ?? "queued") as UniqueWhile);
  if (holder === -1 || holder === slot) return undefined;
  const holderId = t.idOf(holder);
  return new QueueError("conflict", `unique key '${o.unique_key}' is held by job ${holderId}`, { holder: holderId });
}

const bindingsOf = (o: object): readonly Binding[] | undefined => (o as { budgets?: Binding[] }).budgets;

/**
 * The job's state after a retry: ready (or scheduled), attempts 0, terminal stamps gone.
 * A batch job comes back sealed (docs/api.md: a retried job does not re-open its batch):
 * its items ran once already, and later batched enqueues of the key start a new batch job
 * instead of folding into it, live (retrySlots drops it as the open batch) and after a
 * restart (which reopens the newest ready job of each key unless it is sealed).
 */
export function retriedMeta(ctx: QueueContext, slot: number, input: RetryInput, nowMs: number): JobMeta {
  const readyAtMs = input.readyAtMs ?? nowMs;
  const options = optionsOf(ctx.store.table, slot);
  return withMeta(ctx.store.table, slot, {
    status: readyAtMs > nowMs ? STATUS_SCHEDULED : STATUS_READY,
    attempts: 0,
    readyAtMs,
    dequeuedAtMs: undefined,
    completedAtMs: undefined,
    purgeAtMs: undefined,
    ...(options.batch !== undefined && !options.batch_sealed ? { options: { ...options, batch_sealed: true } } : {}),
  });
}

/**
 * Retry the given slots (the caller holds ctx.enqueueLock, so unique checks and claims
 * cannot interleave with an enqueue). Slots that are not retryable are skipped when
 * `skipRefused`, else the first refusal is thrown. Returns the ids retried.
 */
export async function retrySlots(
  ctx: QueueContext, book: BudgetBook, slots: readonly number[], input: RetryInput, nowMs: number, skipRefused: boolean,
): Promise<string[]> {
  const t = ctx.store.table;
  const chosen: number[] = [];
  const metas: JobMeta[] = [];
  const keys = new Set<string>();
  for (const slot of slots) {
    if (isExpired(t, slot, nowMs)) {
      if (skipRefused) continue;
      throw new QueueError("not_found", "job not found");
    }
    const key = optionsOf(t, slot).unique_key;
    const refusal = retryRefusal(ctx, book, slot) ?? (key !== undefined && keys.has(key)
      ? new QueueError("conflict", `unique key '${key}' is held by another job in this request`)
      : undefined);
    if (refusal) {
      if (skipRefused) continue;
      throw refusal;
    }
    if (key !== undefined) keys.add(key);
    chosen.push(slot);
    metas.push(retriedMeta(ctx, slot, input, nowMs));
  }
  const ids = chosen.map((s) => t.idOf(s));
  // The bindings count in the budgets' delete and shrink guards while the write is out.
  const unpin = book.pin(chosen.flatMap((slot) => bindingsOf(optionsOf(t, slot)) ?? []));
  try {
    await ctx.store.update(chosen, metas, ctx.writeSync);
  } finally {
    unpin();
  }
  for (const meta of metas) ctx.stats.retried(meta.queue, nowMs);
  chosen.forEach((slot, i) => {
    const options = optionsOf(t, slot);
    if (options.unique_key !== undefined) ctx.unique.claim(t, options.unique_key, ids[i]);
    if (options.batch !== undefined) ctx.batches.closeIfOpen(options.batch.key, ids[i]);
  });
  if (chosen.length > 0) ctx.afterChange();
  return ids;
}
