// Changing the budgets a job draws on (API-budgets.md §3.2, §3.3): the single-job routes
// (add, bind-or-replace, re-cost, unbind, replace the set, clear) and their bulk twins by
// filter, which answer {changed, blocked}. Only queued (ready/scheduled) jobs change; a
// ready job moves between budget groups through the table's index hooks on update.
// Guarantee: budgets a request creates (create_with) and its binding writes are resolved
// before anything is written, and written in the same record as the (first) bindings
// that draw on them; a failure on validation changes nothing.

import type { JobMeta } from "../storage/codec.ts";
import { STATUS_COMPLETED, STATUS_DEAD, STATUS_IN_FLIGHT, STATUS_READY, STATUS_SCHEDULED } from "../storage/format.ts";
import { TimeSlice } from "../storage/time-slice.ts";
import { MATCH_CHUNK, MatchedJobs } from "./_matched-jobs.ts";
import { PendingWrites } from "./_pending-writes.ts";
import { type BudgetBook, writeBound } from "./budget-book.ts";
import { type Binding, type BindingRequest, parseBindingBody, parseBindings, parseCostBody, stripCreate } from "./budget-policy.ts";
import type { QueueContext } from "./context.ts";
import { cleanOptions, isExpired, optionsOf, viewOf, viewOfMeta, withMeta } from "./job.ts";
import { selectSlots, slotTest } from "./select.ts";
import { expectObject, requireField } from "./validate.ts";
import { type JobFilter, type JobView, QueueError } from "./types.ts";

export type BudgetMutation =
  | { op: "add"; binding: BindingRequest }
  | { op: "put"; binding: BindingRequest }
  | { op: "cost"; key: string; cost: number }
  | { op: "unbind"; key: string }
  | { op: "replace"; bindings: BindingRequest[] }
  | { op: "clear" };

/**
 * The mutation a job-budget request body asks for (API-budgets.md §3.2–3.3): POST adds a
 * binding, PUT replaces it, PATCH sets its cost, PUT on the list replaces them all. The
 * HTTP routes and the embedded queue both read bodies here, so both answer a bad body
 * with the same message.
 */
export function mutationFromBody(op: "add" | "put" | "cost" | "replace", body: unknown, key = ""): BudgetMutation {
  switch (op) {
    case "add":
    case "put":
      return { op, binding: parseBindingBody(body, key) };
    case "cost":
      return { op, key, cost: parseCostBody(body, key) };
    case "replace":
      return { op, bindings: parseBindings(requireField(expectObject(body, "struct ReplaceBudgetsRequest"), "budgets")) };
  }
}

export interface BulkBudgetResult {
  changed: number;
  blocked: string[];
}

/** Rust variant names, as the reference's message shows them (ref quirk, §3.2). */
const VARIANT: Record<number, string> = { [STATUS_IN_FLIGHT]: "InFlight", [STATUS_COMPLETED]: "Completed", [STATUS_DEAD]: "Dead" };

/** What the mutation asks the budget book to resolve (existence, create_with, capacity). */
function requestsOf(m: BudgetMutation): BindingRequest[] {
  if (m.op === "add" || m.op === "put") return [m.binding];
  if (m.op === "cost") return [{ key: m.key, cost: m.cost }];
  if (m.op === "replace") return m.bindings;
  return [];
}

/**
 * The job's bindings after `m`; undefined when nothing would change. `strict` (single
 * job) raises the 409/404 of §3.2; bulk skips those jobs silently.
 */
function mutated(current: readonly Binding[], m: BudgetMutation, id: string, strict: boolean): Binding[] | undefined {
  const at = "key" in m ? current.findIndex((b) => b.key === m.key) : m.op === "add" || m.op === "put" ? current.findIndex((b) => b.key === m.binding.key) : -1;
  const same = (next: readonly Binding[]) => next.length === current.length && next.every((b, i) => b.key === current[i].key && b.cost === current[i].cost);
  let next: Binding[];
  switch (m.op) {
    case "add":
      if (at !== -1) {
        if (strict) throw new QueueError("conflict", `job '${id}' already draws on budget '${m.binding.key}'`);
        return undefined;
      }
      next = [...current, { key: m.binding.key, cost: m.binding.cost }];
      break;
    case "put":
      next = [...current];
      if (at === -1) next.push({ key: m.binding.key, cost: m.binding.cost });
      else next[at] = { key: m.binding.key, cost: m.binding.cost };
      break;
    case "cost":
      if (at === -1) {
        if (strict) throw new QueueError("not_found", `job '${id}' does not draw on budget '${m.key}'`);
        return undefined;
      }
      next = [...current];
      next[at] = { key: m.key, cost: m.cost };
      break;
    case "unbind":
      next = current.filter((b) => b.key !== m.key);
      break;
    case "replace":
      next = stripCreate(m.bindings);
      break;
    case "clear":
      next = [];
      break;
  }
  return same(next) ? undefined : next;
}

function metaWith(ctx: QueueContext, slot: number, bindings: Binding[]): JobMeta {
  const t = ctx.store.table;
  const meta = withMeta(t, slot, {});
  const options = cleanOptions({ ...optionsOf(t, slot), budgets: bindings.length > 0 ? bindings : undefined });
  if (options) meta.options = options as Record<string, unknown>;
  else delete meta.options;
  return meta;
}

function queuedSlot(ctx: QueueContext, id: string, nowMs: number): number {
  const t = ctx.store.table;
  const slot = t.slotById.get(id);
  if (slot === undefined || isExpired(t, slot, nowMs)) throw new QueueError("not_found", "job not found");
  const status = t.status[slot];
  if (status !== STATUS_READY && status !== STATUS_SCHEDULED) {
    throw new QueueError("unprocessable", `job '${id}' is ${VARIANT[status]} — only queued jobs may have their budgets changed`);
  }
  return slot;
}

/**
 * One job (§3.2): 200 with the job (no payload), also when nothing changed. Budgets its
 * create_with makes are written with the job's new bindings, one record (§3.2 step 4);
 * if by then the job needs no change (or is gone, or in flight), they are not made.
 */
export async function mutateJobBudgets(ctx: QueueContext, book: BudgetBook, id: string, m: BudgetMutation, nowMs: number): Promise<JobView> {
  const t = ctx.store.table;
  let slot = queuedSlot(ctx, id, nowMs);
  if (mutated(optionsOf(t, slot).budgets ?? [], m, id, true) === undefined) return viewOf(t, slot);
  return writeBound(book.prepare([requestsOf(m)]), async (carry) => {
    // Preparing awaited: look at the job again.
    slot = queuedSlot(ctx, id, nowMs);
    const next = mutated(optionsOf(t, slot).budgets ?? [], m, id, true);
    if (next === undefined) return viewOf(t, slot);
    const meta = metaWith(ctx, slot, next);
    await ctx.store.update([slot], [meta], ctx.writeSync, { blobs: carry() });
    ctx.afterChange();
    return viewOfMeta(meta);
  });
}

/**
 * By filter (§3.3): resolved once before scanning; in-flight matches are reported as
 * blocked. The work runs in chunks, each one atomic write, yielding once a run passes its
 * time budget (as DELETE /jobs does): in one synchronous run, 100k matched jobs froze the server for 2.4 s
 * (every other request, `/health` included, waited). A slot reused during a yield, or a
 * job that no longer matches the filter's fields, is skipped (MatchedJobs), as DELETE
 * /jobs does. Budgets a create_with makes ride in the first chunk's write, awaited before
 * the next is issued: a later chunk must not land without them. With no job to change
 * they are written alone (§3.3: created even if nothing matches).
 */
export async function mutateJobsBudgets(ctx: QueueContext, book: BudgetBook, filter: JobFilter, m: BudgetMutation, nowMs: number): Promise<BulkBudgetResult> {
  const t = ctx.store.table;
  const prepared = await book.prepare([requestsOf(m)]);
  let newBudgets = prepared.blobs;
  try {
    const matched = new MatchedJobs(t, slotTest(t, filter, nowMs));
    for (const slot of await selectSlots(ctx.store, filter, nowMs)) matched.add(slot);
    const blocked: string[] = [];
    let changed = 0;
    const writes = new PendingWrites();
    const slice = new TimeSlice();
    for (let i = 0; i < matched.length && !writes.failed; i += MATCH_CHUNK) {
      const part: number[] = [];
      const metas: JobMeta[] = [];
      for (let j = i; j < Math.min(i + MATCH_CHUNK, matched.length); j++) {
        const slot = matched.slot(j);
        const status = slot < 0 ? -1 : t.status[slot];
        if (status !== STATUS_READY && status !== STATUS_SCHEDULED && status !== STATUS_IN_FLIGHT) continue;
        const next = mutated(optionsOf(t, slot).budgets ?? [], m, "", false);
        if (next === undefined) continue;
        if (status === STATUS_IN_FLIGHT) {
          blocked.push(t.idOf(slot));
          continue;
        }
        part.push(slot);
        metas.push(metaWith(ctx, slot, next));
      }
      changed += part.length;
      if (part.length > 0 && newBudgets.length > 0) {
        await ctx.store.update(part, metas, ctx.writeSync, { blobs: newBudgets });
        newBudgets = [];
        prepared.settle(true);
      } else if (part.length > 0) {
        writes.add(ctx.store.update(part, metas, ctx.writeSync));
      }
      await slice.pace();
    }
    if (newBudgets.length > 0) await ctx.store.update([], [], ctx.writeSync, { blobs: newBudgets });
    prepared.settle(true);
    await writes.settled();
    if (changed > 0) ctx.afterChange();
    return { changed, blocked: blocked.sort() };
  } finally {
    prepared.settle(false); // a no-op once settled
    prepared.unpin();
  }
}
