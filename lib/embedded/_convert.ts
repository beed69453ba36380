// The queue's wire-shaped views to the client's resource data, through the client's own
// converters (lib/client/_wire.ts), so an embedded Job has exactly the keys, undefined
// members and defaults that a Job read from an HTTP response has. The queue's views are
// API.md §2.1 objects already; only the payload (stored JSON text) is parsed here. The
// other way, bodies are the Client's own, as the server reads them off a JSON request.

import type { CronEntry as CronEntryView, CronGroup as CronGroupView, CronTemplate } from "../queue/cron.ts";
import type { EnqueueResult, JobView } from "../queue/types.ts";
import { type BudgetView, budgetWire } from "../queue/budget-book.ts";
import { budgetIn, cronEntryIn, cronGroupIn } from "../client/_wire.ts";
import type { Budget, CronEntryData, CronGroupData, JobData } from "../client/types.ts";

import * as wire from "../client/_wire.ts";

export { errorIn } from "../client/_wire.ts";

// ---- bodies: what the server reads from a (default, JSON) Client's request ----------------

/**
 * `value` as JSON.parse(JSON.stringify(value)) gives it back, which is what the server's
 * parsers see from a JSON Client: undefined members and functions gone, NaN and ±Infinity
 * null, toJSON applied (a Date is its ISO string), a Map `{}`. Without it a body such as
 * `backoff: { baseMs: 1 }` (exponent undefined) got another message here than over HTTP,
 * and `readyAt: NaN` (null on the wire: "not given") a 400. Returns `value` itself when
 * nothing changes, the common case: no copy on the enqueue path. `opaque` names a top-level
 * member left as it is: the payload, which the queue stringifies itself (JSON.stringify).
 */
export function asJson(value: unknown, key = "", opaque?: string): unknown {
  if (value !== null && typeof value === "object" && typeof (value as { toJSON?: unknown }).toJSON === "function") {
    value = (value as { toJSON(key: string): unknown }).toJSON(key);
  }
  switch (typeof value) {
    case "number": return Number.isFinite(value) ? value : null;
    case "bigint": throw new TypeError("Do not know how to serialize a BigInt");
    case "undefined": case "function": case "symbol": return undefined;
    case "string": case "boolean": return value;
  }
  if (value === null) return null;
  if (value instanceof Number || value instanceof String || value instanceof Boolean) return asJson(value.valueOf());
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = asJson(value[i], String(i)) ?? null;
      if (out === undefined && v !== value[i]) out = value.slice(0, i);
      out?.push(v);
    }
    return out ?? value;
  }
  const obj = value as Record<string, unknown>;
  const proto = Object.getPrototypeOf(obj);
  // The usual enqueue body (names, numbers, the opaque payload) needs no walk: this check
  // costs ~5 ns a job where the walk below cost ~100 (it runs for every job enqueued).
  if ((proto === Object.prototype || proto === null) && flat(obj, opaque)) return obj;
  const keys = Object.keys(obj);
  let out: Record<string, unknown> | undefined = proto === Object.prototype || proto === null ? undefined : {};
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    const v0 = obj[k];
    const v = k === opaque ? (typeof v0 === "function" || typeof v0 === "symbol" ? undefined : v0) : asJson(v0, k);
    // A member JSON drops (undefined, a function) is a change even when `v === v0`.
    if (out === undefined && (v !== v0 || v === undefined)) {
      out = {};
      for (let j = 0; j < i; j++) out[keys[j]] = obj[keys[j]];
    }
    if (out !== undefined && v !== undefined) out[k] = v;
  }
  return out ?? obj;
}

/**
 * Every member is a string, a boolean, null or a finite number (`opaque`: anything JSON
 * keeps as a member), so JSON keeps the object as it is.
 */
function flat(obj: Record<string, unknown>, opaque: string | undefined): boolean {
  for (const k in obj) {
    const v = obj[k];
    const t = typeof v;
    if (k === opaque ? t === "function" || t === "symbol" || t === "undefined"
      : t !== "string" && t !== "boolean" && v !== null && !(t === "number" && Number.isFinite(v as number))) return false;
  }
  return true;
}

type Body = Record<string, unknown>;
export const enqueueOut = (o: Parameters<typeof wire.enqueueOut>[0]): Body => asJson(wire.enqueueOut(o), "", "payload") as Body;
export const updateOut = (o: Parameters<typeof wire.updateOut>[0]): Body => asJson(wire.updateOut(o)) as Body;
export const failureOut = (o: Parameters<typeof wire.failureOut>[0]): Body => asJson(wire.failureOut(o)) as Body;
export const cronEntryOut = (o: Parameters<typeof wire.cronEntryOut>[0]): Body => asJson(wire.cronEntryOut(o)) as Body;
export const bindingOut = (o: Parameters<typeof wire.bindingOut>[0]): Body => asJson(wire.bindingOut(o)) as Body;
export const budgetPolicyOut = (o: Parameters<typeof wire.budgetPolicyOut>[0]): Body => asJson(wire.budgetPolicyOut(o)) as Body;
export const budgetPatchOut = (o: Parameters<typeof wire.budgetPatchOut>[0]): Body => asJson(wire.budgetPatchOut(o)) as Body;

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

/** A budget as GET /budgets/{key} shows it, read as the Client reads it. */
export const toBudget = (b: BudgetView): Budget => budgetIn(budgetWire(b));
