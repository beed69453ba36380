// Selecting jobs by filter (API.md §3.11–3.16): list with cursors, count, and the
// slot sets that bulk delete and bulk patch act on. Status, queue, type, id and range
// filters run on the in-memory table; payloads are read (through the block cache) only
// for a jq filter or for the page being returned.

import { STATUS_FREE } from "../storage/format.ts";
import type { JobTable } from "../storage/job-table.ts";
import type { Store } from "../storage/store.ts";
import { yieldToLoop } from "../storage/time-slice.ts";
import { STATUS_CODE, isExpired, viewOf } from "./job.ts";
import { compileFilter } from "./jq.ts";
import { liveCounts } from "./live-counts.ts";
import type { JobFilter, ListRequest, ListResult } from "./types.ts";

/** Candidates per jq call: large enough to amortise the engine call, small enough to yield. */
const JQ_CHUNK = 2000;


export type SlotTest = (slot: number) => boolean;

/** The non-jq part of a filter as a predicate over slots. Expired jobs never match. */
export function slotTest(table: JobTable, filter: JobFilter, nowMs: number, includeExpired = false): SlotTest {
  const statuses = filter.statuses?.length ? new Set(filter.statuses.map((s) => STATUS_CODE[s])) : undefined;
  const queues = nameSet(table.queues, filter.queues);
  const types = nameSet(table.types, filter.types);
  // Resolved to slots once: a job matches if its slot is one of them.
  const ids = filter.ids?.length ? new Set(filter.ids.map((id) => table.slotById.get(id)).filter((s) => s !== undefined)) : undefined;
  const { priority, readyAt, attempts } = filter;
  // No index (as in the reference): bindings live in the sparse options map.
  const budgetKeys = filter.budgetKeys?.length ? new Set(filter.budgetKeys) : undefined;
  return (slot) => {
    if (table.status[slot] === STATUS_FREE) return false;
    if (statuses && !statuses.has(table.status[slot])) return false;
    if (queues && !queues.has(table.queue[slot])) return false;
    if (types && !types.has(table.type[slot])) return false;
    if (ids && !ids.has(slot)) return false;
    if (priority && (table.priority[slot] < priority.lo || table.priority[slot] > priority.hi)) return false;
    if (readyAt && (table.readyAt[slot] < readyAt.lo || table.readyAt[slot] > readyAt.hi)) return false;
    if (attempts && (table.attempts[slot] < attempts.lo || table.attempts[slot] > attempts.hi)) return false;
    if (budgetKeys && !boundToAny(table, slot, budgetKeys)) return false;
    return includeExpired || !isExpired(table, slot, nowMs);
  };
}

function boundToAny(table: JobTable, slot: number, keys: Set<string>): boolean {
  const bindings = (table.extras.get(slot)?.options as { budgets?: { key: string }[] } | undefined)?.budgets;
  return bindings !== undefined && bindings.some((b) => keys.has(b.key));
}

/** Name indexes of the given names that exist; an empty set when none do. */
function nameSet(names: { lookup(n: string): number | undefined }, wanted: string[] | undefined): Set<number> | undefined {
  if (!wanted?.length) return undefined;
  const out = new Set<number>();
  for (const n of wanted) {
    const i = names.lookup(n);
    if (i !== undefined) out.add(i);
  }
  return out;
}

/** Every slot passing the non-jq filters, in slot order (a flat typed-array scan). */
function scan(table: JobTable, test: SlotTest, ids?: string[]): number[] {
  const out: number[] = [];
  if (ids?.length) {
    for (const id of new Set(ids)) {
      const slot = table.slotById.get(id);
      if (slot !== undefined && test(slot)) out.push(slot);
    }
    return out;
  }
  for (let slot = 0; slot < table.slotLimit; slot++) if (test(slot)) out.push(slot);
  return out;
}

/** Keep the slots whose payload matches the jq program, in order. */
async function jqFilter(store: Store, program: string, slots: number[]): Promise<number[]> {
  const filter = await compileFilter(program);
  const out: number[] = [];
  for (let i = 0; i < slots.length; i += JQ_CHUNK) {
    const chunk = slots.slice(i, i + JQ_CHUNK);
    const gens = chunk.map((s) => store.table.gen[s]);
    const matches = await filter.matchMany(chunk.map((s) => store.payload(s).toString("utf8")));
    // The jq call yielded: keep only jobs that are still the ones we read.
    chunk.forEach((s, j) => { if (matches[j] && store.table.gen[s] === gens[j] && store.table.status[s] !== STATUS_FREE) out.push(s); });
  }
  return out;
}

/** Slots matching the whole filter (jq included), for count, bulk delete and bulk patch. */
export async function selectSlots(store: Store, filter: JobFilter, nowMs: number, includeExpired = false): Promise<number[]> {
  if (filter.jq !== undefined) await compileFilter(filter.jq); // a bad filter is a 400 even when nothing matches
  const slots = scan(store.table, slotTest(store.table, filter, nowMs, includeExpired), filter.ids);
  return filter.jq === undefined ? slots : jqFilter(store, filter.jq, slots);
}

/** Filter fields the running counters can answer (live-counts.ts); any other field scans. */
const COUNTER_FIELDS = new Set(["queues", "statuses"]);

export async function count(store: Store, filter: JobFilter, nowMs: number): Promise<number> {
  const byCounters = Object.entries(filter).every(([k, v]) => v === undefined || COUNTER_FIELDS.has(k));
  if (byCounters) {
    const t = store.table;
    const queues = filter.queues?.length ? [...nameSet(t.queues, filter.queues)!] : undefined;
    const statuses = filter.statuses?.length ? [...new Set(filter.statuses.map((s) => STATUS_CODE[s]))] : undefined;
    return liveCounts(t, nowMs, queues, statuses).reduce((a, b) => a + b, 0);
  }
  if (filter.jq === undefined) {
    const t = store.table;
    const test = slotTest(t, filter, nowMs);
    if (filter.ids?.length) return scan(t, test, filter.ids).length;
    let n = 0;
    for (let slot = 0; slot < t.slotLimit; slot++) if (test(slot)) n++;
    return n;
  }
  return (await selectSlots(store, filter, nowMs)).length;
}

/** One page in id order after the exclusive cursor, plus whether another row exists. */
export async function list(store: Store, req: ListRequest, nowMs: number): Promise<ListResult> {
  const t = store.table;
  if (req.filter.jq !== undefined) await compileFilter(req.filter.jq);
  const test = slotTest(t, req.filter, nowMs);
  const order = t.orderedSlots();
  const asc = req.order === "asc";
  let i = req.from === undefined ? (asc ? 0 : order.length - 1) : startAfter(t, order, req.from, asc);
  const step = asc ? 1 : -1;
  const want = req.limit + 1;
  const found: number[] = [];
  while (found.length < want && i >= 0 && i < order.length) {
    const batch: number[] = [];
    const batchLimit = req.filter.jq === undefined ? want - found.length : JQ_CHUNK;
    for (; batch.length < batchLimit && i >= 0 && i < order.length; i += step) {
      const slot = order[i];
      if (test(slot)) batch.push(slot);
    }
    const kept = req.filter.jq === undefined ? batch : await jqFilter(store, req.filter.jq, batch);
    for (const s of kept) if (found.length < want) found.push(s);
    if (req.filter.jq !== undefined) await yieldToLoop();
  }
  const page = found.slice(0, req.limit).filter((s) => t.status[s] !== STATUS_FREE);
  return {
    jobs: page.map((slot) => ({ job: viewOf(t, slot), payloadJson: store.payload(slot).toString("utf8") })),
    hasMore: found.length > req.limit,
  };
}

/**
 * Index of the first id strictly after `from` in the scan direction. `from` is not
 * validated (API.md §3.11), so this compares strings, not parsed ids.
 */
function startAfter(t: JobTable, order: Int32Array, from: string, asc: boolean): number {
  let lo = 0;
  let hi = order.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (t.idOf(order[mid]) <= from) lo = mid + 1;
    else hi = mid;
  }
  // lo = first index with id > from; for desc, the last index with id < from.
  if (asc) return lo;
  let j = lo - 1;
  while (j >= 0 && t.idOf(order[j]) >= from) j--;
  return j;
}
