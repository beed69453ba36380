// Query strings and page links for the job endpoints (API.md §1.10, §2.3, §3.6, §3.11–3.17).
// Pure functions: one strict parser per endpoint family (unknown or repeated params are a
// 400 QueueError), and the link builders that re-serialise a request in canonical form,
// so that parsing a built link always yields the request it was built from.
// Here, not in lib/http: the embedded queue reads the query a Client would send with the
// same rules (lib/embedded/_filter.ts), so in-process and remote calls cannot drift apart.

import {
  QueueError,
  STATUS_ORDER,
  type ErrorListRequest,
  type JobFilter,
  type JobStatus,
  type ListRequest,
  type Range,
} from "./types.ts";
import { NAME_MAX_BYTES } from "./validate.ts";

// ---- type bounds ----------------------------------------------------------

interface RangeType {
  name: "priority" | "ready_at" | "attempts";
  max: number;
  /** How `max` is written on the wire (ready_at differs, see U64 below). */
  maxText: string;
}

/**
 * ready_at is a u64 on the wire but a Number here. Bounds above 2^53-1 saturate to
 * MAX_SAFE_INTEGER (no stored time can usefully exceed it), and that value is written
 * back as u64::MAX so `ready_at=..` comes back as the reference's `..18446744073709551615`.
 */
const U64_MAX_TEXT = "18446744073709551615";
const U64_MAX = BigInt(U64_MAX_TEXT);

const PRIORITY: RangeType = { name: "priority", max: 65535, maxText: "65535" };
const READY_AT: RangeType = { name: "ready_at", max: Number.MAX_SAFE_INTEGER, maxText: U64_MAX_TEXT };
const ATTEMPTS: RangeType = { name: "attempts", max: 4294967295, maxText: "4294967295" };
const U32_MAX = 4294967295;

export const LIMIT_MAX = 2000;
export const LIMIT_DEFAULT = 50;

const JOB_ID = /^[0-9a-z]{25}$/;
const DIGITS = /^[0-9]+$/;

const FILTER_KEYS = ["id", "queue", "type", "status", "budgets.key", "priority", "ready_at", "attempts", "filter"];
const LIST_KEYS = ["from", "order", "limit", ...FILTER_KEYS];
const ERROR_LIST_KEYS = ["from", "order", "limit"];
const TAKE_KEYS = ["queue", "prefetch", "lease"];

// ---- parsing --------------------------------------------------------------

function invalidQuery(detail: string): QueueError {
  return new QueueError("invalid_argument", `invalid query parameters: ${detail}`);
}

const quoteList = (names: readonly string[]) => names.map((n) => `\`${n}\``).join(", ");

/**
 * Decodes form-urlencoded pairs (`+` = space) and rejects unknown or repeated keys, as the
 * reference's strict query deserialiser does. A repeated key would otherwise silently
 * drop a value.
 */
function readParams(search: string | URLSearchParams, allowed: readonly string[]): Map<string, string> {
  const params = typeof search === "string" ? new URLSearchParams(search) : search;
  const out = new Map<string, string>();
  for (const [key, value] of params) {
    if (!allowed.includes(key)) {
      throw invalidQuery(`unknown field \`${key}\`, expected one of ${quoteList(allowed)}`);
    }
    if (out.has(key)) throw invalidQuery(`duplicate field \`${key}\``);
    out.set(key, value);
  }
  return out;
}

/** Comma set segments in request order, empty segments dropped. */
const segments = (value: string | undefined) => (value ?? "").split(",").filter((s) => s !== "");

/** Comma set in canonical form (deduped, byte order); undefined = "no filter". */
function parseSet(value: string | undefined, field: "queue" | "type" | "id" | "budgets.key" = "id"): string[] | undefined {
  const items = [...new Set(segments(value))];
  // A name no job can have (too long for NAME_MAX_BYTES) is a client error, not "no match".
  for (const name of items) {
    if (Buffer.byteLength(name, "utf8") > NAME_MAX_BYTES) {
      throw invalidQuery(`${field}: a name must be at most ${NAME_MAX_BYTES} bytes (UTF-8)`);
    }
  }
  return items.length === 0 ? undefined : items.sort(compareBytes);
}

/** UTF-8 byte order (= code point order), which differs from JS's UTF-16 sort past U+FFFF. */
export function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

function parseStatuses(value: string | undefined): JobStatus[] | undefined {
  const items = segments(value);
  for (const s of items) {
    if (!(STATUS_ORDER as readonly string[]).includes(s)) {
      throw invalidQuery(`unknown status \`${s}\`, expected one of ${quoteList(STATUS_ORDER)}`);
    }
  }
  return items.length === 0 ? undefined : STATUS_ORDER.filter((s) => items.includes(s));
}

function parseIds(value: string | undefined): string[] | undefined {
  for (const id of segments(value)) {
    if (!JOB_ID.test(id)) throw new QueueError("invalid_argument", `invalid job ID: ${JSON.stringify(id)}`);
  }
  return parseSet(value);
}

/** One range bound: digits only (no sign, no space); saturates above MAX_SAFE_INTEGER (ready_at). */
function parseBound(text: string, type: RangeType, whole: string): number {
  const fail = (why: string) => invalidQuery(`invalid ${type.name} range ${JSON.stringify(whole)}: ${why}`);
  if (!DIGITS.test(text)) throw fail(`${JSON.stringify(text)} is not a non-negative integer`);
  const n = Number(text);
  if (n <= type.max) return n;
  if (type === READY_AT && BigInt(text) <= U64_MAX) return type.max;
  throw fail(`${text} exceeds the maximum ${type.maxText}`);
}

/** `N`, `A..B`, `..B`, `A..`, `..`; empty = no filter. Requires: lo <= hi. */
function parseRange(value: string | undefined, type: RangeType): Range | undefined {
  if (value === undefined || value === "") return undefined;
  const dots = value.indexOf("..");
  if (dots < 0) {
    const n = parseBound(value, type, value);
    return { lo: n, hi: n };
  }
  const loText = value.slice(0, dots);
  const hiText = value.slice(dots + 2);
  const lo = loText === "" ? 0 : parseBound(loText, type, value);
  const hi = hiText === "" ? type.max : parseBound(hiText, type, value);
  if (lo > hi) {
    throw invalidQuery(`invalid ${type.name} range ${JSON.stringify(value)}: start ${loText} is greater than end ${hiText}`);
  }
  return { lo, hi };
}

function parseOrder(value: string | undefined): "asc" | "desc" {
  if (value === undefined) return "asc";
  if (value === "asc" || value === "desc") return value;
  throw invalidQuery(`unknown order \`${value}\`, expected \`asc\` or \`desc\``);
}

function parseInteger(name: string, value: string, max: number): number {
  if (!DIGITS.test(value)) throw invalidQuery(`${name}: ${JSON.stringify(value)} is not a non-negative integer`);
  const n = Number(value);
  if (n > max) throw invalidQuery(`${name}: ${value} exceeds the maximum ${max}`);
  return n;
}

function parseLimit(value: string | undefined): number {
  if (value === undefined) return LIMIT_DEFAULT;
  const n = DIGITS.test(value) ? Number(value) : NaN;
  if (Number.isNaN(n)) throw invalidQuery(`limit: ${JSON.stringify(value)} is not a non-negative integer`);
  if (n < 1 || n > LIMIT_MAX) throw new QueueError("invalid_argument", `limit must be between 1 and ${LIMIT_MAX}`);
  return n;
}

function readFilter(params: Map<string, string>): JobFilter {
  const filter: JobFilter = {};
  const ids = parseIds(params.get("id"));
  const queues = parseSet(params.get("queue"), "queue");
  const types = parseSet(params.get("type"), "type");
  const statuses = parseStatuses(params.get("status"));
  const priority = parseRange(params.get("priority"), PRIORITY);
  const readyAt = parseRange(params.get("ready_at"), READY_AT);
  const attempts = parseRange(params.get("attempts"), ATTEMPTS);
  const budgetKeys = parseSet(params.get("budgets.key"), "budgets.key");
  // An empty program is a jq compile error; like empty sets, `filter=` means "no filter".
  const jq = params.get("filter");
  if (ids) filter.ids = ids;
  if (queues) filter.queues = queues;
  if (types) filter.types = types;
  if (statuses) filter.statuses = statuses;
  if (priority) filter.priority = priority;
  if (readyAt) filter.readyAt = readyAt;
  if (attempts) filter.attempts = attempts;
  if (budgetKeys) filter.budgetKeys = budgetKeys;
  if (jq) filter.jq = jq;
  return filter;
}

/** GET /jobs. An empty `from=` is treated as absent (no cursor). */
export function parseListQuery(search: string | URLSearchParams): ListRequest {
  const params = readParams(search, LIST_KEYS);
  const req: ListRequest = {
    filter: readFilter(params),
    order: parseOrder(params.get("order")),
    limit: parseLimit(params.get("limit")),
  };
  const from = params.get("from");
  if (from) req.from = from;
  return req;
}

/** GET /jobs/count, DELETE /jobs, PATCH /jobs: filters only (from/order/limit are unknown). */
export function parseFilterQuery(search: string | URLSearchParams): JobFilter {
  return readFilter(readParams(search, FILTER_KEYS));
}

/** GET /jobs/{id}/errors: `from` is a u32 attempt (exclusive); empty `from=` = absent. */
export function parseErrorListQuery(search: string | URLSearchParams): ErrorListRequest {
  const params = readParams(search, ERROR_LIST_KEYS);
  const req: ErrorListRequest = { order: parseOrder(params.get("order")), limit: parseLimit(params.get("limit")) };
  const from = params.get("from");
  if (from) req.from = parseInteger("from", from, U32_MAX);
  return req;
}

/** GET /jobs/{id}/errors/{attempt}: digits up to u32, else a 400. */
export function parseAttempt(raw: string): number {
  if (!DIGITS.test(raw) || Number(raw) > U32_MAX) {
    throw new QueueError("invalid_argument", `invalid attempt: ${JSON.stringify(raw)} (expected a non-negative integer)`);
  }
  return Number(raw);
}

/**
 * One path segment (a job id, queue, cron group or entry name, budget key) percent-decoded
 * once and fully, as the reference server decodes it; a bad escape stays as sent.
 */
export function decodeSegment(raw: string): string {
  if (!raw.includes("%")) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** GET /jobs/take: `queue` set (absent = all) and `prefetch` (default 1, 0 = unlimited). */
export function parseTakeQuery(search: string | URLSearchParams): { queues?: string[]; prefetch: number; leaseMs?: number } {
  const params = readParams(search, TAKE_KEYS);
  const prefetchText = params.get("prefetch");
  const prefetch = prefetchText === undefined ? 1 : parseInteger("prefetch", prefetchText, Number.MAX_SAFE_INTEGER);
  const queues = parseSet(params.get("queue"), "queue");
  const leaseText = params.get("lease");
  const out: { queues?: string[]; prefetch: number; leaseMs?: number } = queues ? { queues, prefetch } : { prefetch };
  if (leaseText !== undefined) out.leaseMs = parseLeaseMs(leaseText);
  return out;
}

const LEASE_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** A week: longer than any job should go without a heartbeat, short enough to catch a typo. */
export const LEASE_MAX_MS = 7 * 24 * 3_600_000;

/**
 * `lease` on a take stream (extension): `500ms`, `30s`, `5m`, `1h`, `1d`, or bare milliseconds,
 * as the CLI's durations; `0` = no lease (overrides --default-lease). At most a week.
 */
export function parseLeaseMs(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text);
  const ms = m ? Math.round(Number(m[1]) * LEASE_UNITS[m[2] ?? "ms"]) : NaN;
  if (!m || !Number.isSafeInteger(ms)) {
    throw invalidQuery(`lease: ${JSON.stringify(text)} is not a duration (expected e.g. 500ms, 30s, 5m, 1h; a bare number is milliseconds)`);
  }
  if (ms > LEASE_MAX_MS) throw invalidQuery(`lease: ${text} exceeds the maximum 7d`);
  return ms;
}

// ---- links ----------------------------------------------------------------

export interface PageLinks {
  self: string;
  next: string | null;
  prev: string | null;
}

/** RFC 3986: only unreserved characters stay raw (space → %20), used for `filter`. */
export function encodeStrict(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * Names and ids: the reference inserts them raw. We keep characters that are safe in a
 * query value (so `Mailer::Send` or `a/b` stay as the reference writes them) and encode the
 * rest: `&`, `#`, `%`, `+`, `=`, space, controls and non-ASCII.
 */
export function encodeName(value: string): string {
  return encodeURIComponent(value).replace(/%(3A|40|2F|24|3F)/g, (m) => decodeURIComponent(m));
}

function rangeText(range: Range, type: RangeType): string {
  const text = (n: number) => (n === type.max ? type.maxText : String(n));
  if (range.lo === range.hi) return text(range.lo);
  if (range.lo === 0) return `..${text(range.hi)}`;
  if (range.hi === type.max) return `${range.lo}..`;
  return `${range.lo}..${text(range.hi)}`;
}

function setText(values: readonly string[]): string {
  return [...values].sort(compareBytes).map(encodeName).join(",");
}

const reverse = (order: "asc" | "desc") => (order === "asc" ? "desc" : "asc");

/**
 * `/jobs?[from=..&]order=..&limit=..[&status=..][&queue=..][&type=..][&id=..]`
 * `[&priority=..][&ready_at=..][&attempts=..][&filter=..]` — fixed order (API.md §2.3).
 */
export function jobsLink(req: ListRequest, from: string | undefined = req.from, order = req.order): string {
  const f = req.filter;
  const parts: string[] = [];
  if (from !== undefined) parts.push(`from=${encodeName(from)}`);
  parts.push(`order=${order}`, `limit=${req.limit}`);
  if (f.statuses?.length) parts.push(`status=${STATUS_ORDER.filter((s) => f.statuses!.includes(s)).join(",")}`);
  if (f.queues?.length) parts.push(`queue=${setText(f.queues)}`);
  if (f.types?.length) parts.push(`type=${setText(f.types)}`);
  if (f.ids?.length) parts.push(`id=${setText(f.ids)}`);
  if (f.priority) parts.push(`priority=${rangeText(f.priority, PRIORITY)}`);
  if (f.readyAt) parts.push(`ready_at=${rangeText(f.readyAt, READY_AT)}`);
  if (f.attempts) parts.push(`attempts=${rangeText(f.attempts, ATTEMPTS)}`);
  if (f.budgetKeys?.length) parts.push(`budgets.key=${setText(f.budgetKeys)}`);
  if (f.jq) parts.push(`filter=${encodeStrict(f.jq)}`);
  return `/jobs?${parts.join("&")}`;
}

/**
 * Cursor rules (API.md §2.3): `next` only when a row existed past the page (same order,
 * from = last id); `prev` only when the request had a cursor and the page is non-empty
 * (reversed order, from = first id); `self` rebuilds the request.
 */
export function pagesFor(req: ListRequest, pageIds: readonly string[], hasMore: boolean): PageLinks {
  const first = pageIds[0];
  const last = pageIds[pageIds.length - 1];
  return {
    self: jobsLink(req),
    next: hasMore && last !== undefined ? jobsLink(req, last, req.order) : null,
    prev: req.from !== undefined && first !== undefined ? jobsLink(req, first, reverse(req.order)) : null,
  };
}

/** `/jobs/<id>/errors?[from=<attempt>&]order=<asc|desc>&limit=<n>`. */
export function errorsLink(
  jobId: string,
  req: ErrorListRequest,
  from: number | undefined = req.from,
  order = req.order,
): string {
  const cursor = from === undefined ? "" : `from=${from}&`;
  return `/jobs/${encodeURIComponent(jobId)}/errors?${cursor}order=${order}&limit=${req.limit}`;
}

/** Same cursor rules as `pagesFor`, keyed by attempt number. */
export function errorPagesFor(
  jobId: string,
  req: ErrorListRequest,
  attempts: readonly number[],
  hasMore: boolean,
): PageLinks {
  const first = attempts[0];
  const last = attempts[attempts.length - 1];
  return {
    self: errorsLink(jobId, req),
    next: hasMore && last !== undefined ? errorsLink(jobId, req, last, req.order) : null,
    prev: req.from !== undefined && first !== undefined ? errorsLink(jobId, req, first, reverse(req.order)) : null,
  };
}
