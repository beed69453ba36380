// The budget endpoints (API-budgets.md §3.1–3.3): budget resources, the single-job
// budget routes and their bulk twins by filter. Handlers only translate: the rules live
// in lib/queue (budget-book.ts, budget-jobs.ts).

import type { H3, H3Event } from "h3";
import type { BudgetView } from "../../queue/budget-book.ts";
import type { BudgetMutation } from "../../queue/budget-jobs.ts";
import { parseBindingBody, parseBindings, parseCostBody } from "../../queue/budget-policy.ts";
import type { Queue } from "../../queue/queue.ts";
import { expectObject, requireField } from "../../queue/validate.ts";
import { noContent, readRawBody, reply, replyFormat, withBody } from "../_io.ts";
import { wireJob } from "../job-wire.ts";
import { parseFilterQuery } from "../../queue/query.ts";
import { pathId } from "./jobs.ts";
import { pathParam } from "../_path-param.ts";

/** The key path segment (keys may hold `/`; the Node client sends encodeURIComponent(key)). */
const keyOf = (event: H3Event): string => pathParam(event, "key");

/** §2.1 field order: key, allocation, strategy{type, duration_ms?, burst?}, created_at, updated_at. */
function wireBudget(b: BudgetView): Record<string, unknown> {
  const s = b.strategy;
  const strategy: Record<string, unknown> = { type: s.type };
  if (s.type === "time_based") {
    strategy.duration_ms = s.duration_ms;
    if (s.burst !== undefined) strategy.burst = s.burst;
  }
  return { key: b.key, allocation: b.allocation, strategy, created_at: b.created_at, updated_at: b.updated_at };
}

/** The mutation a job-budget route asks for, from its method and body. */
type Parse = (body: unknown, key: string) => BudgetMutation;
const ADD: Parse = (body, key) => ({ op: "add", binding: parseBindingBody(body, key) });
const PUT: Parse = (body, key) => ({ op: "put", binding: parseBindingBody(body, key) });
const COST: Parse = (body, key) => ({ op: "cost", key, cost: parseCostBody(body, key) });

export function budgetRoutes(app: H3, queue: Queue, maxBodyBytes: number): void {
  const book = queue.budgets;

  app.get("/budgets", (event) => reply(event, 200, { budgets: book.list().map(wireBudget) }));

  app.get("/budgets/:key", (event) => {
    replyFormat(event);
    return reply(event, 200, wireBudget(book.get(keyOf(event))));
  });

  app.post("/budgets/:key", async (event) => {
    replyFormat(event);
    const b = await withBody(event, maxBodyBytes, (body) => book.create(keyOf(event), body));
    return reply(event, 201, wireBudget(b));
  });

  app.put("/budgets/:key", async (event) => {
    replyFormat(event);
    const b = await withBody(event, maxBodyBytes, (body) => book.replace(keyOf(event), body));
    return reply(event, 200, wireBudget(b));
  });

  app.patch("/budgets/:key", async (event) => {
    replyFormat(event);
    const b = await withBody(event, maxBodyBytes, (body) => book.patch(keyOf(event), body));
    return reply(event, 200, wireBudget(b));
  });

  app.delete("/budgets/:key", async (event) => {
    replyFormat(event);
    await readRawBody(event, maxBodyBytes);
    await book.remove(keyOf(event));
    return noContent();
  });

  // ---- one job ----------------------------------------------------------------------

  const single = (parse: Parse) => async (event: H3Event) => {
    replyFormat(event);
    const key = keyOf(event);
    const job = await withBody(event, maxBodyBytes, (body) => queue.mutateJobBudgets(pathId(event), parse(body, key)));
    return reply(event, 200, wireJob(job));
  };
  const singleNoBody = (mutation: (event: H3Event) => BudgetMutation) => async (event: H3Event) => {
    replyFormat(event);
    await readRawBody(event, maxBodyBytes);
    return reply(event, 200, wireJob(await queue.mutateJobBudgets(pathId(event), mutation(event))));
  };

  app.post("/jobs/:id/budgets/:key", single(ADD));
  app.put("/jobs/:id/budgets/:key", single(PUT));
  app.patch("/jobs/:id/budgets/:key", single(COST));
  app.delete("/jobs/:id/budgets/:key", singleNoBody((event) => ({ op: "unbind", key: keyOf(event) })));
  app.put("/jobs/:id/budgets", single((body) => {
    const o = expectObject(body, "struct ReplaceBudgetsRequest");
    return { op: "replace", bindings: parseBindings(requireField(o, "budgets")) };
  }));
  app.delete("/jobs/:id/budgets", singleNoBody(() => ({ op: "clear" })));

  // ---- by filter ----------------------------------------------------------------------

  const bulk = (parse: Parse) => async (event: H3Event) => {
    replyFormat(event);
    const filter = parseFilterQuery(event.url.search);
    const key = keyOf(event);
    const result = await withBody(event, maxBodyBytes, (body) => queue.mutateJobsBudgets(filter, parse(body, key)));
    return reply(event, 200, result);
  };
  const bulkNoBody = (mutation: (event: H3Event) => BudgetMutation) => async (event: H3Event) => {
    replyFormat(event);
    const filter = parseFilterQuery(event.url.search);
    await readRawBody(event, maxBodyBytes);
    return reply(event, 200, await queue.mutateJobsBudgets(filter, mutation(event)));
  };

  app.post("/jobs/budgets/:key", bulk(ADD));
  app.put("/jobs/budgets/:key", bulk(PUT));
  app.patch("/jobs/budgets/:key", bulk(COST));
  app.delete("/jobs/budgets/:key", bulkNoBody((event) => ({ op: "unbind", key: keyOf(event) })));
  app.delete("/jobs/budgets", bulkNoBody(() => ({ op: "clear" })));
}
