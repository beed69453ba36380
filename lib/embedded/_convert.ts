// The client's camelCase shapes to and from the queue's wire-shaped ones (CLIENT-API.md
// §3.2, §4): request bodies the queue parses exactly as it parses HTTP bodies, and the
// resource data the client's classes are built from. No validation here beyond
// renaming: the queue's own parsers give the same errors the server gives.

import type { CronEntry as CronEntryView, CronGroup as CronGroupView, CronTemplate } from "../queue/cron.ts";
import type { EnqueueResult, ErrorRecord as ErrorView, JobView } from "../queue/types.ts";
import type { BackoffConfig, CronEntryData, CronGroupData, ErrorRecordData, JobData, RetentionConfig } from "./_client-surface.ts";
import type { CronEntryInput, EnqueueOptions, FailureOptions, UpdateJobOptions } from "./_client-surface.ts";

type Wire = Record<string, unknown>;

/** Drops undefined members; null stays (it clears a field in a patch). */
function defined(o: Wire): Wire {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

const backoffWire = (b: BackoffConfig | null | undefined) =>
  b == null ? b : defined({ base_ms: b.baseMs, exponent: b.exponent, jitter_ms: b.jitterMs });
const retentionWire = (r: RetentionConfig | null | undefined) =>
  r == null ? r : defined({ completed_ms: r.completedMs, dead_ms: r.deadMs });

/** §3.2 enqueue body. */
export function enqueueBody(o: EnqueueOptions): Wire {
  const body = defined({
    type: o.type, queue: o.queue, payload: o.payload, priority: o.priority, ready_at: o.readyAt, retry_limit: o.retryLimit,
    backoff: backoffWire(o.backoff), retention: retentionWire(o.retention), unique_key: o.uniqueKey,
    unique_while: o.uniqueWhile, batch: o.batch,
  });
  if (o.budgets && o.budgets.length > 0) body.budgets = o.budgets;
  return body;
}

/** §3.2 update body: absent = unchanged, null = clear. */
export function updateBody(o: UpdateJobOptions): Wire {
  return defined({
    queue: o.queue, priority: o.priority, ready_at: o.readyAt, retry_limit: o.retryLimit,
    backoff: backoffWire(o.backoff), retention: retentionWire(o.retention),
  });
}

export function failureBody(o: FailureOptions): Wire {
  return defined({ message: o.message, error_type: o.errorType, backtrace: o.backtrace, retry_at: o.retryAt, kill: o.kill });
}

/** §3.2 cron entry body; `readyAt` is never sent for a template. */
export function cronEntryBody(e: CronEntryInput): Wire {
  const job = enqueueBody(e.job);
  delete job.ready_at;
  return defined({ name: e.name, expression: e.expression, timezone: e.timezone, paused: e.paused, job });
}

export function toJobData(view: JobView, payloadJson?: string, result?: EnqueueResult): JobData {
  const data: JobData = {
    id: view.id, type: view.type, queue: view.queue, priority: view.priority, status: view.status,
    readyAt: view.ready_at, attempts: view.attempts, budgets: [],
  };
  if (payloadJson !== undefined) data.payload = JSON.parse(payloadJson);
  if (view.retry_limit !== undefined) data.retryLimit = view.retry_limit;
  if (view.backoff !== undefined) data.backoff = { baseMs: view.backoff.base_ms, exponent: view.backoff.exponent, jitterMs: view.backoff.jitter_ms };
  if (view.dequeued_at !== undefined) data.dequeuedAt = view.dequeued_at;
  if (view.failed_at !== undefined) data.failedAt = view.failed_at;
  if (view.completed_at !== undefined) data.completedAt = view.completed_at;
  if (view.retention !== undefined) {
    data.retention = {};
    if (view.retention.completed_ms !== undefined) data.retention.completedMs = view.retention.completed_ms;
    if (view.retention.dead_ms !== undefined) data.retention.deadMs = view.retention.dead_ms;
  }
  if (view.purge_at !== undefined) data.purgeAt = view.purge_at;
  if (view.unique_key !== undefined) data.uniqueKey = view.unique_key;
  if (view.unique_while !== undefined) data.uniqueWhile = view.unique_while;
  if (result) {
    data.duplicate = result.duplicate;
    data.folded = result.folded;
  }
  if (view.batch !== undefined) data.batch = view.batch;
  return data;
}

export function toErrorData(r: ErrorView): ErrorRecordData {
  const data: ErrorRecordData = { attempt: r.attempt, message: r.message, dequeuedAt: r.dequeued_at, failedAt: r.failed_at };
  if (r.error_type !== undefined) data.errorType = r.error_type;
  if (r.backtrace !== undefined) data.backtrace = r.backtrace;
  return data;
}

/** §4.6: the template back as EnqueueOptions; batch is not converted back (a client quirk). */
function templateData(t: CronTemplate): EnqueueOptions {
  const job: EnqueueOptions = { type: t.type, queue: t.queue, payload: JSON.parse(t.payloadJson), priority: t.priority };
  if (t.retry_limit !== undefined) job.retryLimit = t.retry_limit;
  if (t.backoff !== undefined) job.backoff = { baseMs: t.backoff.base_ms, exponent: t.backoff.exponent, jitterMs: t.backoff.jitter_ms };
  if (t.retention !== undefined) job.retention = { completedMs: t.retention.completed_ms, deadMs: t.retention.dead_ms };
  if (t.unique_key !== undefined) job.uniqueKey = t.unique_key;
  if (t.unique_while !== undefined) job.uniqueWhile = t.unique_while;
  return job;
}

export function toCronEntryData(e: CronEntryView): CronEntryData {
  const data: CronEntryData = { name: e.name, expression: e.expression, paused: e.paused, job: templateData(e.job) };
  if (e.timezone !== undefined) data.timezone = e.timezone;
  if (e.paused_at !== undefined) data.pausedAt = e.paused_at;
  if (e.resumed_at !== undefined) data.resumedAt = e.resumed_at;
  if (e.next_enqueue_at !== undefined) data.nextEnqueueAt = e.next_enqueue_at;
  if (e.last_enqueue_at !== undefined) data.lastEnqueueAt = e.last_enqueue_at;
  return data;
}

export function toCronGroupData(g: CronGroupView): CronGroupData {
  const data: CronGroupData = { name: g.name, paused: g.paused, entries: g.entries.map(toCronEntryData) };
  if (g.paused_at !== undefined) data.pausedAt = g.paused_at;
  if (g.resumed_at !== undefined) data.resumedAt = g.resumed_at;
  return data;
}
