// Job rules shared by every transition: status names, per-job options, effective
// settings (per-job override, else server default), and the wire view of a job.
// Allowed transitions: scheduled → ready → in_flight → completed | dead;
// in_flight → scheduled (retry) or → ready (disconnect, restart). Terminal is final.

import type { JobMeta } from "../storage/codec.ts";
import {
  STATUS_COMPLETED, STATUS_DEAD, STATUS_IN_FLIGHT, STATUS_READY, STATUS_SCHEDULED,
} from "../storage/format.ts";
import type { JobTable } from "../storage/job-table.ts";
import type { Binding } from "./budget-policy.ts";
import type { Backoff, BatchConfig, JobStatus, JobView, Retention, UniqueWhile } from "./types.ts";

export const STATUS_NAME: readonly JobStatus[] = ["scheduled", "ready", "in_flight", "completed", "dead"];
export const STATUS_CODE: Readonly<Record<JobStatus, number>> = {
  scheduled: STATUS_SCHEDULED, ready: STATUS_READY, in_flight: STATUS_IN_FLIGHT, completed: STATUS_COMPLETED, dead: STATUS_DEAD,
};

export const isTerminal = (status: number): boolean => status === STATUS_COMPLETED || status === STATUS_DEAD;

/** Per-job overrides, stored as the record's options map (opaque to storage). */
export interface JobOptions {
  retry_limit?: number;
  backoff?: Backoff;
  retention?: Retention;
  unique_key?: string;
  unique_while?: UniqueWhile;
  batch?: BatchConfig;
  /** Budget bindings (API-budgets.md §4): never empty when present. */
  budgets?: Binding[];
  /**
   * Set (never by a client, never on the wire) on a batch job whose `when` said no to an
   * incoming job: it stays a normal ready job (API.md §4.4) and must not be reopened by a
   * restart, which rebuilds open batches from the newest ready job of each key.
   */
  batch_sealed?: true;
}

/** Server defaults a job falls back to (API.md §6.1). */
export interface JobDefaults {
  retryLimit: number;
  backoff: Backoff;
  completedRetentionMs: number;
  deadRetentionMs: number;
}

export const DEFAULTS: JobDefaults = {
  retryLimit: 25,
  backoff: { exponent: 4, base_ms: 15_000, jitter_ms: 30_000 },
  completedRetentionMs: 0,
  deadRetentionMs: 7 * 24 * 3600 * 1000,
};

export function optionsOf(table: JobTable, slot: number): JobOptions {
  return (table.extras.get(slot)?.options ?? {}) as JobOptions;
}

/**
 * Slots that may carry options, in id order (callers check status and options). When few
 * jobs have extras, those are sorted instead of walking the whole id order: a restart at
 * 10M jobs rebuilds unique keys and batches this way in ~0 ms instead of ~100 ms each.
 */
export function optionSlotsInIdOrder(table: JobTable): Iterable<number> {
  if (table.extras.size * 8 < table.size) return [...table.extras.keys()].sort((a, b) => table.compare(a, b));
  return table.orderedSlots();
}

export function cleanOptions(options: JobOptions): JobOptions | undefined {
  // Most jobs carry no options: answer them without walking entries (per job on enqueue).
  const o = options;
  if (o.retry_limit === undefined && o.backoff === undefined && o.retention === undefined && o.unique_key === undefined
    && o.unique_while === undefined && o.batch === undefined && o.budgets === undefined) return undefined;
  const out: JobOptions = {};
  for (const [k, v] of Object.entries(options)) if (v !== undefined && !(Array.isArray(v) && v.length === 0)) (out as Record<string, unknown>)[k] = v;
  return Object.keys(out).length > 0 ? out : undefined;
}

/** A job's stored state with some fields replaced. */
export function withMeta(table: JobTable, slot: number, changes: Partial<JobMeta>): JobMeta {
  const meta = { ...table.meta(slot), ...changes };
  for (const k of Object.keys(changes) as (keyof JobMeta)[]) if (changes[k] === undefined) delete meta[k];
  return meta;
}

/** Expired terminal jobs are invisible everywhere, even before the reaper removes them. */
export function isExpired(table: JobTable, slot: number, nowMs: number): boolean {
  const purgeAt = table.extras.get(slot)?.purgeAtMs;
  return purgeAt !== undefined && purgeAt <= nowMs;
}

/** The wire job object (API.md §2.1) minus payload, duplicate and folded. */
export function viewOf(table: JobTable, slot: number): JobView {
  return viewOfMeta(table.meta(slot));
}

export function viewOfMeta(meta: JobMeta): JobView {
  const view: JobView = {
    id: meta.id,
    type: meta.type,
    queue: meta.queue,
    priority: meta.priority,
    status: STATUS_NAME[meta.status],
    ready_at: meta.readyAtMs,
    attempts: meta.attempts,
  };
  const o = (meta.options ?? {}) as JobOptions;
  if (o.retry_limit !== undefined) view.retry_limit = o.retry_limit;
  if (o.backoff !== undefined) view.backoff = o.backoff;
  if (meta.dequeuedAtMs !== undefined) view.dequeued_at = meta.dequeuedAtMs;
  if (meta.failedAtMs !== undefined) view.failed_at = meta.failedAtMs;
  if (o.retention !== undefined) view.retention = o.retention;
  if (meta.purgeAtMs !== undefined) view.purge_at = meta.purgeAtMs;
  if (meta.completedAtMs !== undefined) view.completed_at = meta.completedAtMs;
  if (o.unique_key !== undefined) {
    view.unique_key = o.unique_key;
    view.unique_while = o.unique_while ?? "queued";
  }
  if (o.batch !== undefined) view.batch = o.batch;
  // The stored array itself (exactly {key, cost} each): views are encoded, never mutated.
  if (o.budgets !== undefined) view.budgets = o.budgets;
  return view;
}
