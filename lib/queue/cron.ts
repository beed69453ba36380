// Cron rules (API.md §2.4, §3.19, §4.5), time as an argument: entry/group request
// validation, the replace/merge semantics of PUT, pause stamping, and the next
// occurrence of an expression. Pure: no store, no timers (cron-book.ts and
// cron-scheduler.ts own those).

import { Cron } from "croner";
import type { BindingRequest } from "./budget-policy.ts";
import { type EnqueueInput, parseEnqueue } from "./enqueue.ts";
import { checkBatchExpressions } from "./jq.ts";
import type { JobOptions } from "./job.ts";
import { QueueError } from "./types.ts";
import {
  BodyShapeError, expectBool, expectObject, expectString, nameError, optional, parseUniqueWhile, requireField,
} from "./validate.ts";

/** The job an entry enqueues; `payloadJson` is the exact text the client sent. */
export interface CronTemplate extends JobOptions {
  type: string;
  queue: string;
  priority: number;
  payloadJson: string;
  // `unique_while` is kept only when the client gave it (never defaulted here, unlike jobs).
}

/** Stored and viewed entry state (field order = wire order, API.md §2.4). */
export interface CronEntry {
  name: string;
  expression: string;
  timezone?: string;
  paused: boolean;
  paused_at?: number;
  resumed_at?: number;
  job: CronTemplate;
  next_enqueue_at?: number;
  last_enqueue_at?: number;
}

export interface CronGroup {
  name: string;
  paused: boolean;
  /** Group-level IANA zone (0.7): entries without their own zone use it. */
  timezone?: string;
  paused_at?: number;
  resumed_at?: number;
  /** Stored in the order of the last PUT; sorted by name on most reads. */
  entries: CronEntry[];
}

export interface EntryRequest {
  name: string;
  expression: string;
  timezone?: string;
  paused?: boolean;
  job: CronTemplate;
  /** The template's bindings as requested (create_with is used at install, not stored). */
  budgets?: BindingRequest[];
}

export interface GroupRequest {
  paused?: boolean;
  timezone?: string;
  entries: EntryRequest[];
}

/** PATCH /crons/{group}: absent = unchanged; timezone null = clear. */
export interface GroupPatch {
  paused?: boolean;
  timezone?: string | null;
}

/** The zone an entry's schedule runs in: its own, else its group's, else the server's. */
export const effectiveZone = (entry: { timezone?: string }, group: { timezone?: string } | undefined): string | undefined =>
  entry.timezone ?? group?.timezone;

const invalid = (message: string): QueueError => new QueueError("invalid_argument", message);

/** §1.8 name check of a cron group or entry name; `field` names it in the 400. */
export function checkCronName(name: string, field: "cron group name" | "cron entry name"): void {
  const problem = nameError(name, field);
  if (problem) throw invalid(problem);
}

function croner(expression: string, timezone: string | undefined): Cron {
  // "5-or-6-parts": a leading seconds field is optional, a trailing year is refused.
  // domAndDow false keeps Vixie's OR rule when both day fields are restricted.
  return new Cron(expression, { mode: "5-or-6-parts", domAndDow: false, timezone });
}

function checkExpression(expression: string): void {
  try {
    croner(expression, undefined);
  } catch (err) {
    throw invalid(`invalid cron expression: ${(err as Error).message.replace(/^CronPattern: /, "")}`);
  }
}

function checkTimezone(timezone: string): void {
  try {
    // Intl knows the IANA database croner converts with; croner itself only fails later,
    // when it first computes a date.
    new Intl.DateTimeFormat("en-US", { timeZone: timezone });
  } catch {
    throw invalid(`invalid timezone: ${JSON.stringify(timezone)}`);
  }
}

/**
 * The first occurrence strictly after `afterMs` truncated to whole seconds, in ms;
 * undefined when the expression has no future occurrence. Absent timezone = the
 * process's local zone.
 */
export function nextOccurrence(expression: string, timezone: string | undefined, afterMs: number): number | undefined {
  const after = new Date(Math.floor(afterMs / 1000) * 1000);
  return croner(expression, timezone).nextRun(after)?.getTime();
}

/** The job template: the enqueue fields of §3.4, without ready_at, unique_while kept as given. */
function parseTemplate(raw: unknown): { template: CronTemplate; budgets?: BindingRequest[] } {
  const o = expectObject(raw, "struct CronJobTemplate");
  if (o.ready_at !== undefined && o.ready_at !== null) throw invalid("ready_at is not supported for cron entries");
  const uniqueWhile = optional(o, "unique_while", (v) => expectString(v, "unique_while"));
  // parseEnqueue refuses unique_while without unique_key; cron writes store it (§3.19).
  // Its 422s (budget bindings: cost 0, a key twice, a bad create_with) are 400s here: every
  // cron validation failure is a 400 (§3.19; API-budgets.md §3.6), as prepareCron maps them.
  let input: EnqueueInput;
  try {
    input = parseEnqueue({ ...o, unique_while: undefined });
  } catch (err) {
    if (err instanceof QueueError && err.code === "unprocessable") throw invalid(err.message);
    throw err;
  }
  const { retry_limit, backoff, retention, unique_key, batch } = input.options;
  const template: CronTemplate = { type: input.type, queue: input.queue, priority: input.priority, payloadJson: input.payloadJson };
  if (retry_limit !== undefined) template.retry_limit = retry_limit;
  if (backoff !== undefined) template.backoff = backoff;
  if (retention !== undefined) template.retention = retention;
  if (unique_key !== undefined) template.unique_key = unique_key;
  if (uniqueWhile !== undefined) template.unique_while = parseUniqueWhile(uniqueWhile);
  if (batch !== undefined) template.batch = batch;
  if (input.options.budgets !== undefined) template.budgets = input.options.budgets;
  return { template, budgets: input.budgets };
}

/** One entry request, in the validation order of §3.19 (batch checked by checkEntryBatch). */
export function parseEntryRequest(raw: unknown): EntryRequest {
  const o = expectObject(raw, "struct CronEntryRequest");
  const name = expectString(requireField(o, "name"), "name");
  const expression = expectString(requireField(o, "expression"), "expression");
  const timezone = optional(o, "timezone", (v) => expectString(v, "timezone"));
  const paused = optional(o, "paused", (v) => expectBool(v, "paused"));
  const jobRaw = requireField(o, "job");
  checkCronName(name, "cron entry name");
  const { template: job, budgets } = parseTemplate(jobRaw);
  checkExpression(expression);
  if (timezone !== undefined) checkTimezone(timezone);
  const out: EntryRequest = { name, expression, job };
  if (budgets !== undefined) out.budgets = budgets;
  if (timezone !== undefined) out.timezone = timezone;
  if (paused !== undefined) out.paused = paused;
  return out;
}

/** PUT /crons/{group} body; duplicate entry names are refused. */
export function parseGroupRequest(raw: unknown): GroupRequest {
  const o = expectObject(raw, "struct CronGroupRequest");
  const paused = optional(o, "paused", (v) => expectBool(v, "paused"));
  const timezone = optional(o, "timezone", (v) => expectString(v, "timezone"));
  const list = requireField(o, "entries");
  if (!Array.isArray(list)) throw new BodyShapeError("entries: invalid type, expected a sequence");
  const entries = list.map(parseEntryRequest);
  const seen = new Set<string>();
  for (const e of entries) {
    if (seen.has(e.name)) throw invalid(`duplicate cron entry name: ${JSON.stringify(e.name)}`);
    seen.add(e.name);
  }
  if (timezone !== undefined) checkTimezone(timezone);
  const out: GroupRequest = { entries };
  if (paused !== undefined) out.paused = paused;
  if (timezone !== undefined) out.timezone = timezone;
  return out;
}

/** PATCH /crons/{group} body (0.7): `paused` optional, `timezone` string or null. */
export function parseGroupPatch(raw: unknown): GroupPatch {
  const o = expectObject(raw, "struct CronGroupPatch");
  const out: GroupPatch = {};
  const paused = optional(o, "paused", (v) => expectBool(v, "paused"));
  if (paused !== undefined) out.paused = paused;
  if ("timezone" in o) {
    if (o.timezone === null) out.timezone = null;
    else {
      const timezone = expectString(o.timezone, "timezone");
      checkTimezone(timezone);
      out.timezone = timezone;
    }
  }
  return out;
}

/** PATCH body `{paused}` (required). */
export function parsePauseRequest(raw: unknown): boolean {
  const o = expectObject(raw, "struct CronPauseRequest");
  return expectBool(requireField(o, "paused"), "paused");
}

/** Compile and dry-run the template's batch expressions: 400 here (422 on enqueue). */
export async function checkEntryBatch(entry: EntryRequest): Promise<void> {
  const batch = entry.job.batch;
  if (batch) await checkBatchExpressions(batch.when, batch.fold, entry.job.payloadJson, "invalid_argument");
}

/**
 * Pause stamping (§3.19): undefined keeps the state; false→true stamps paused_at,
 * true→false stamps resumed_at; the other stamp is kept. Mutates `target`.
 */
export function stampPause(target: { paused: boolean; paused_at?: number; resumed_at?: number }, paused: boolean | undefined, nowMs: number): void {
  if (paused === undefined || paused === target.paused) return;
  target.paused = paused;
  if (paused) target.paused_at = nowMs;
  else target.resumed_at = nowMs;
}

/**
 * The entry after a PUT (§3.19): a new entry starts from the next occurrence; an existing
 * one keeps last_enqueue_at, and keeps next_enqueue_at only if its expression and its
 * effective timezone (own, else the group's) are unchanged (0.7). Timezone and template
 * are always replaced. `zones` are the group's zone before and after this write.
 */
export function mergeEntry(
  existing: CronEntry | undefined, req: EntryRequest, name: string, nowMs: number,
  zones: { before?: string; after?: string } = {},
): CronEntry {
  const entry: CronEntry = { name, expression: req.expression, paused: existing?.paused ?? false, job: req.job };
  if (req.timezone !== undefined) entry.timezone = req.timezone;
  if (existing?.paused_at !== undefined) entry.paused_at = existing.paused_at;
  if (existing?.resumed_at !== undefined) entry.resumed_at = existing.resumed_at;
  if (existing) stampPause(entry, req.paused, nowMs);
  else entry.paused = req.paused ?? false;
  const zone = req.timezone ?? zones.after;
  const next = existing && existing.expression === req.expression && (existing.timezone ?? zones.before) === zone
    ? existing.next_enqueue_at
    : nextOccurrence(req.expression, zone, nowMs);
  if (next !== undefined) entry.next_enqueue_at = next;
  if (existing?.last_enqueue_at !== undefined) entry.last_enqueue_at = existing.last_enqueue_at;
  return entry;
}

/** A new group for PUT when none exists: created paused → paused_at = now. */
export function newGroup(name: string, paused: boolean | undefined, nowMs: number): CronGroup {
  return paused ? { name, paused: true, paused_at: nowMs, entries: [] } : { name, paused: false, entries: [] };
}

/**
 * Schedules keep advancing while paused (§3.19) without a timer per paused entry: a
 * paused entry whose next_enqueue_at passed is moved to its next occurrence whenever it
 * is read or written, so a resume never catches up. Returns true if anything changed.
 */
export function advancePaused(group: CronGroup, nowMs: number): boolean {
  let changed = false;
  for (const entry of group.entries) {
    if (!(group.paused || entry.paused) || entry.next_enqueue_at === undefined || entry.next_enqueue_at > nowMs) continue;
    const next = nextOccurrence(entry.expression, effectiveZone(entry, group), nowMs);
    if (next === undefined) delete entry.next_enqueue_at;
    else entry.next_enqueue_at = next;
    changed = true;
  }
  return changed;
}

/** What the scheduler enqueues when an entry fires: ready now, through the normal path. */
export function toEnqueueInput(t: CronTemplate, nowMs: number): EnqueueInput {
  const options: JobOptions = { retry_limit: t.retry_limit, backoff: t.backoff, retention: t.retention, batch: t.batch, budgets: t.budgets };
  // unique_while without unique_key is stored and echoed only; it has no effect here.
  if (t.unique_key !== undefined) {
    options.unique_key = t.unique_key;
    options.unique_while = t.unique_while ?? "queued";
  }
  return { type: t.type, queue: t.queue, payloadJson: t.payloadJson, priority: t.priority, readyAtMs: nowMs, options };
}

/** Byte order of the UTF-8 names, as the reference sorts (UTF-16 order differs past U+FFFF). */
export const byName = (a: { name: string }, b: { name: string }): number => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name));
