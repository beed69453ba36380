// Job filters for the embedded queue: the client's JobFilter (CLIENT-API.md §3.1, §2.5)
// checked as the client checks it, then as the server checks the same query string
// (API.md §1.9: bad statuses, ids and ranges are 400s), into the queue's JobFilter.
// Also the page links of listJobs/listErrors, which only the embedded queue reads back.

import { QueueError, STATUS_ORDER, type JobFilter as QueueFilter, type JobStatus, type Range } from "../queue/types.ts";
import type { JobFilter, ListErrorsOptions, ListJobsOptions, RangeFilter } from "../client/types.ts";

export { FILTER_KEYS, checkKeys, matchesNothing } from "../client/_wire.ts";

const JOB_ID = /^[0-9a-z]{25}$/;
const RANGE_MAX = { priority: 65535, readyAt: Number.MAX_SAFE_INTEGER, attempts: 4294967295 } as const;
export const LIMIT_MAX = 2000;
const LIMIT_DEFAULT = 50;

const invalid = (detail: string) => new QueueError("invalid_argument", `invalid query parameters: ${detail}`);

const list = (v: string | string[] | undefined): string[] | undefined =>
  v === undefined || v === null ? undefined : (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(",")).filter((s) => s !== "");

function range(v: RangeFilter | undefined, name: keyof typeof RANGE_MAX): Range | undefined {
  if (v === undefined || v === null) return undefined;
  const max = RANGE_MAX[name];
  const check = (n: number | undefined, fallback: number): number => {
    if (n === undefined || n === null) return fallback;
    if (typeof n !== "number" || !Number.isFinite(n)) throw new TypeError(`${name}: range bounds must be finite numbers`);
    if (!Number.isInteger(n) || n < 0) throw invalid(`invalid ${name} range: ${n} is not a non-negative integer`);
    if (n > max) throw invalid(`invalid ${name} range: ${n} exceeds the maximum ${max}`);
    return n;
  };
  if (typeof v === "number") {
    const n = check(v, 0);
    return { lo: n, hi: n };
  }
  if (typeof v !== "object" || Array.isArray(v)) throw new TypeError(`${name}: expected a number or { min, max }`);
  const lo = check(v.min, 0);
  const hi = check(v.max, max);
  if (lo > hi) throw invalid(`invalid ${name} range: start ${lo} is greater than end ${hi}`);
  return { lo, hi };
}

/** The queue's filter; call matchesNothing first. */
export function toQueueFilter(where: JobFilter = {}): QueueFilter {
  const out: QueueFilter = {};
  const ids = list(where.id);
  for (const id of ids ?? []) if (!JOB_ID.test(id)) throw new QueueError("invalid_argument", `invalid job ID: ${JSON.stringify(id)}`);
  const statuses = list(where.status);
  for (const s of statuses ?? []) {
    if (!(STATUS_ORDER as readonly string[]).includes(s)) throw invalid(`unknown status \`${s}\``);
  }
  const sorted = (v: string[] | undefined) => (v ? [...new Set(v)].sort() : undefined);
  if (ids?.length) out.ids = sorted(ids);
  if (statuses?.length) out.statuses = STATUS_ORDER.filter((s) => statuses.includes(s)) as JobStatus[];
  const queues = list(where.queue);
  if (queues?.length) out.queues = sorted(queues);
  const types = list(where.type);
  if (types?.length) out.types = sorted(types);
  const budgetKeys = list(where.budgetsKey);
  if (budgetKeys?.length) out.budgetKeys = sorted(budgetKeys);
  const priority = range(where.priority, "priority");
  if (priority) out.priority = priority;
  const readyAt = range(where.readyAt, "readyAt");
  if (readyAt) out.readyAt = readyAt;
  const attempts = range(where.attempts, "attempts");
  if (attempts) out.attempts = attempts;
  if (where.filter) out.jq = where.filter;
  return out;
}

export function parseOrder(order: string | undefined): "asc" | "desc" {
  if (order === undefined || order === null) return "asc";
  if (order === "asc" || order === "desc") return order;
  throw invalid(`unknown order \`${order}\`, expected \`asc\` or \`desc\``);
}

export function parseLimit(limit: number | undefined): number {
  if (limit === undefined || limit === null) return LIMIT_DEFAULT;
  if (!Number.isInteger(limit) || limit < 1 || limit > LIMIT_MAX) {
    throw new QueueError("invalid_argument", `limit must be between 1 and ${LIMIT_MAX}`);
  }
  return limit;
}

// ---- page links: `/jobs?<options as JSON>`, read back by listJobsByPath ------------------

/** A link to the same listing from another cursor, in another order. */
export function jobsLink(options: ListJobsOptions, from: string, order: "asc" | "desc"): string {
  return `/jobs?q=${encodeURIComponent(JSON.stringify({ ...options, from, order }))}`;
}

export function errorsLink(jobId: string, options: ListErrorsOptions, from: number, order: "asc" | "desc"): string {
  return `/jobs/${encodeURIComponent(jobId)}/errors?q=${encodeURIComponent(JSON.stringify({ ...options, from, order }))}`;
}

/** The options a link was made from; anything else is a 400 like an unknown path. */
export function readLink(path: string, kind: "jobs" | "errors"): { jobId?: string; options: Record<string, unknown> } {
  const m = kind === "jobs" ? /^\/jobs\?q=([^&]*)$/.exec(path) : /^\/jobs\/([^/?]+)\/errors\?q=([^&]*)$/.exec(path);
  try {
    if (m) {
      const options = JSON.parse(decodeURIComponent(m[m.length - 1])) as Record<string, unknown>;
      return kind === "jobs" ? { options } : { jobId: decodeURIComponent(m[1]), options };
    }
  } catch {
    // fall through
  }
  throw new QueueError("invalid_argument", `not a page link of this queue: ${JSON.stringify(path)}`);
}
