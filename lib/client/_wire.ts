// camelCase ⇄ snake_case for every body the client sends or reads (CLIENT-API.md §3.1,
// §3.2, §4) and the filter query string. Rule for bodies: undefined keys are dropped, null
// is kept (that is how PATCH clears a field). Module-private: only client files use it.

import type {
  BackoffConfig, Budget, BudgetBindingInput, BudgetPolicy, CronEntryData, CronEntryInput, CronGroupData,
  EnqueueOptions, ErrorRecordData, FailureOptions, JobData, JobFilter, RangeFilter, RetentionConfig,
  UpdateBudgetOptions, UpdateJobOptions,
} from "./types.ts";

export type Wire = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A copy of `obj` without its undefined members. */
export function defined(obj: Wire): Wire {
  const out: Wire = {};
  for (const key in obj) if (obj[key] !== undefined) out[key] = obj[key];
  return out;
}

const backoffOut = (b: BackoffConfig | null | undefined) =>
  b == null ? b : { base_ms: b.baseMs, exponent: b.exponent, jitter_ms: b.jitterMs };
const retentionOut = (r: RetentionConfig | null | undefined) =>
  r == null ? r : defined({ completed_ms: r.completedMs, dead_ms: r.deadMs });
const policyOut = (p: BudgetPolicy): Wire => {
  const s = p.strategy as { type: string; durationMs?: number; burst?: number };
  return { allocation: p.allocation, strategy: defined({ type: s.type, duration_ms: s.durationMs, burst: s.burst }) };
};

export const bindingOut = (b: BudgetBindingInput): Wire =>
  defined({ cost: b.cost, create_with: b.createWith && policyOut(b.createWith) });

export function enqueueOut(o: EnqueueOptions): Wire {
  return defined({
    type: o.type,
    queue: o.queue,
    payload: o.payload,
    priority: o.priority,
    ready_at: o.readyAt,
    retry_limit: o.retryLimit,
    backoff: backoffOut(o.backoff),
    retention: retentionOut(o.retention),
    unique_key: o.uniqueKey,
    unique_while: o.uniqueWhile,
    batch: o.batch,
    budgets: o.budgets?.length ? o.budgets.map((b) => ({ key: b.key, ...bindingOut(b) })) : undefined,
  });
}

export const updateOut = (o: UpdateJobOptions): Wire => defined({
  queue: o.queue,
  priority: o.priority,
  ready_at: o.readyAt,
  retry_limit: o.retryLimit,
  backoff: backoffOut(o.backoff),
  retention: retentionOut(o.retention),
});

export const failureOut = (f: FailureOptions): Wire =>
  defined({ message: f.message, error_type: f.errorType, backtrace: f.backtrace, retry_at: f.retryAt, kill: f.kill });

/** A cron entry body; `ready_at` is never sent for a template (§3.2). */
export function cronEntryOut(e: CronEntryInput): Wire {
  const job = enqueueOut(e.job);
  delete job.ready_at;
  return defined({ name: e.name, expression: e.expression, timezone: e.timezone, paused: e.paused, job });
}

export const budgetPolicyOut = policyOut;
export const budgetPatchOut = (o: UpdateBudgetOptions): Wire => defined({
  allocation: o.allocation,
  strategy: o.strategy && defined({ type: o.strategy.type, duration_ms: o.strategy.durationMs, burst: o.strategy.burst }),
});

// ---- wire → client ----------------------------------------------------------------------------

const backoffIn = (b: Wire | undefined | null) =>
  b == null ? b ?? undefined : { baseMs: b.base_ms, exponent: b.exponent, jitterMs: b.jitter_ms };
const retentionIn = (r: Wire | undefined | null) =>
  r == null ? r ?? undefined : defined({ completedMs: r.completed_ms, deadMs: r.dead_ms });

export function jobIn(w: Wire): JobData {
  return {
    id: w.id,
    type: w.type,
    queue: w.queue,
    priority: w.priority,
    status: w.status,
    payload: w.payload,
    readyAt: w.ready_at,
    attempts: w.attempts,
    retryLimit: w.retry_limit,
    backoff: backoffIn(w.backoff),
    dequeuedAt: w.dequeued_at,
    failedAt: w.failed_at,
    completedAt: w.completed_at,
    retention: retentionIn(w.retention),
    purgeAt: w.purge_at,
    uniqueKey: w.unique_key,
    uniqueWhile: w.unique_while,
    duplicate: w.duplicate,
    folded: w.folded,
    batch: w.batch,
    budgets: Array.isArray(w.budgets) ? w.budgets.map((b: Wire) => ({ key: b.key, cost: b.cost })) : [],
  };
}

export const errorIn = (w: Wire): ErrorRecordData => ({
  attempt: w.attempt,
  message: w.message,
  errorType: w.error_type,
  backtrace: w.backtrace,
  dequeuedAt: w.dequeued_at,
  failedAt: w.failed_at,
});

/** A cron template back to options; batch and budgets are not converted (quirk 7). */
export function templateIn(w: Wire): EnqueueOptions {
  return defined({
    type: w.type,
    queue: w.queue,
    payload: w.payload,
    priority: w.priority,
    retryLimit: w.retry_limit,
    backoff: backoffIn(w.backoff),
    retention: retentionIn(w.retention),
    uniqueKey: w.unique_key,
    uniqueWhile: w.unique_while,
  }) as EnqueueOptions;
}

export const cronEntryIn = (w: Wire): CronEntryData => ({
  name: w.name,
  expression: w.expression,
  timezone: w.timezone,
  paused: w.paused,
  pausedAt: w.paused_at,
  resumedAt: w.resumed_at,
  job: templateIn(w.job ?? {}),
  nextEnqueueAt: w.next_enqueue_at,
  lastEnqueueAt: w.last_enqueue_at,
});

export const cronGroupIn = (w: Wire): CronGroupData => ({
  name: w.name,
  paused: w.paused,
  timezone: w.timezone,
  pausedAt: w.paused_at,
  resumedAt: w.resumed_at,
  entries: (w.entries ?? []).map(cronEntryIn),
});

export function budgetIn(w: Wire): Budget {
  const strategy = w.strategy?.type === "time_based"
    ? defined({ type: "time_based", durationMs: w.strategy.duration_ms, burst: w.strategy.burst })
    : { ...w.strategy };
  return defined({ key: w.key, allocation: w.allocation, strategy, createdAt: w.created_at, updatedAt: w.updated_at }) as Budget;
}

// ---- filters → query --------------------------------------------------------------------------

export const FILTER_KEYS = ["id", "status", "queue", "type", "budgetsKey", "filter", "priority", "readyAt", "attempts"];

function range(name: string, value: RangeFilter): string {
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new TypeError(`${name}: expected a finite number or {min, max}`);
    return String(value);
  }
  if (typeof value !== "object" || Array.isArray(value)) throw new TypeError(`${name}: expected a finite number or {min, max}`);
  const { min, max } = value;
  for (const bound of [min, max]) {
    if (bound !== undefined && !(typeof bound === "number" && Number.isFinite(bound))) {
      throw new TypeError(`${name}: min and max must be finite numbers`);
    }
  }
  return `${min ?? ""}..${max ?? ""}`;
}

const list = (v: string | string[]) => (Array.isArray(v) ? v.join(",") : v);

/** True when a list filter is an empty set: the result is "nothing" without a request (§2.5). */
export function matchesNothing(where: JobFilter): boolean {
  return [where.id, where.status, where.queue, where.type, where.budgetsKey].some((v) => v != null && v.length === 0);
}

/** Appends the filter params in the official order (§3.1). */
/** `from`, `order`, `limit` of a list (jobs or errors), as the query starts. */
export function pageParams(options: { from?: string | number; order?: string; limit?: number }): URLSearchParams {
  const params = new URLSearchParams();
  if (options.from != null) params.append("from", String(options.from));
  if (options.order != null) params.append("order", options.order);
  if (options.limit != null) params.append("limit", String(options.limit));
  return params;
}

/** GET /jobs/take: `prefetch` whenever given (0 too), `queue` only for a non-empty list. */
export function takeParams(options: { prefetch?: number; queues?: string[] }): URLSearchParams {
  const params = new URLSearchParams();
  if (options.prefetch != null) params.append("prefetch", String(options.prefetch));
  if (options.queues?.length) params.append("queue", options.queues.join(","));
  return params;
}

export function filterParams(where: JobFilter, params = new URLSearchParams()): URLSearchParams {
  if (where.id != null) params.append("id", list(where.id));
  if (where.status != null) params.append("status", list(where.status));
  if (where.queue != null) params.append("queue", list(where.queue));
  if (where.type != null) params.append("type", list(where.type));
  if (where.budgetsKey != null) params.append("budgets.key", list(where.budgetsKey));
  if (where.filter != null) params.append("filter", where.filter);
  if (where.priority != null) params.append("priority", range("priority", where.priority));
  if (where.readyAt != null) params.append("ready_at", range("readyAt", where.readyAt));
  if (where.attempts != null) params.append("attempts", range("attempts", where.attempts));
  return params;
}

/** Plain `Error` for unknown option keys, as the official client throws (§2.5). */
export function checkKeys(context: string, obj: object, allowed: string[]): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) throw new Error(`${context}: unknown option "${key}". Allowed: ${allowed.join(", ")}`);
  }
}

/**
 * A request path must be origin-form (`/jobs?…`): `listJobsByPath("jobs")` used to reach
 * HTTP/2 as an invalid `:path` and came back as a ConnectionError, which callers retry.
 * A caller's mistake is a TypeError, on the Client and the embedded queue alike.
 */
export function checkRequestPath(path: string): void {
  if (typeof path !== "string" || !path.startsWith("/")) {
    throw new TypeError(`request path must start with "/" (got ${JSON.stringify(String(path)).slice(0, 200)})`);
  }
}

export const withQuery = (path: string, params: URLSearchParams): string => {
  const q = params.toString();
  return q ? `${path}?${q}` : path;
};
