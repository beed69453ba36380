// The queue's wire-shaped views to the client's resource data, through the client's own
// converters (lib/client/_wire.ts), so an embedded Job has exactly the keys, undefined
// members and defaults that a Job read from an HTTP response has. The queue's views are
// API.md §2.1 objects already; only the payload (stored JSON text) is parsed here.

import type { CronEntry as CronEntryView, CronGroup as CronGroupView, CronTemplate } from "../queue/cron.ts";
import type { EnqueueResult, JobView } from "../queue/types.ts";
import type { BudgetView } from "../queue/budget-book.ts";
import { budgetIn, cronEntryIn, cronGroupIn } from "../client/_wire.ts";
import type { Budget, CronEntryData, CronGroupData, JobData } from "../client/types.ts";

export {
  bindingOut, budgetPatchOut, budgetPolicyOut, errorIn, cronEntryOut, enqueueOut, failureOut, updateOut,
} from "../client/_wire.ts";

/**
 * jobIn(view + payload), written out: this runs for every job taken and enqueued, and the
 * generic converter over a spread copy cost a quarter of the embedded take+ack CPU
 * (megamorphic reads, bench/embedded.ts profile). Same keys, order and undefined members
 * as jobIn; test/embedded/convert.test.ts holds the two equal.
 */
export function toJobData(v: JobView, payloadJson?: string, result?: EnqueueResult): JobData {
  const b = v.backoff;
  const r = v.retention;
  let retention: JobData["retention"];
  if (r !== undefined) {
    retention = {};
    if (r.completed_ms !== undefined) retention.completedMs = r.completed_ms;
    if (r.dead_ms !== undefined) retention.deadMs = r.dead_ms;
  }
  return {
    id: v.id,
    type: v.type,
    queue: v.queue,
    priority: v.priority,
    status: v.status,
    payload: payloadJson === undefined ? undefined : JSON.parse(payloadJson),
    readyAt: v.ready_at,
    attempts: v.attempts,
    retryLimit: v.retry_limit,
    backoff: b === undefined ? undefined : { baseMs: b.base_ms, exponent: b.exponent, jitterMs: b.jitter_ms },
    dequeuedAt: v.dequeued_at,
    failedAt: v.failed_at,
    completedAt: v.completed_at,
    retention,
    purgeAt: v.purge_at,
    uniqueKey: v.unique_key,
    uniqueWhile: v.unique_while,
    duplicate: result?.duplicate,
    folded: result?.folded,
    batch: v.batch,
    budgets: v.budgets === undefined ? [] : v.budgets.map((x) => ({ key: x.key, cost: x.cost })),
  };
}

const templateWire = ({ payloadJson, ...rest }: CronTemplate) => ({ ...rest, payload: JSON.parse(payloadJson) });

export const toCronEntryData = (e: CronEntryView): CronEntryData => cronEntryIn({ ...e, job: templateWire(e.job) });

export const toCronGroupData = (g: CronGroupView): CronGroupData =>
  cronGroupIn({ ...g, entries: g.entries.map((e) => ({ ...e, job: templateWire(e.job) })) });

/** A budget as GET /budgets/{key} shows it (routes/budgets.ts wireBudget), read as the Client reads it. */
export function toBudget(b: BudgetView): Budget {
  const s = b.strategy;
  const strategy = s.type === "time_based" ? { type: s.type, duration_ms: s.duration_ms, burst: s.burst } : { type: s.type };
  return budgetIn({ key: b.key, allocation: b.allocation, strategy, created_at: b.created_at, updated_at: b.updated_at });
}
