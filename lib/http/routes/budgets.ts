// The budget endpoints (API-budgets.md §3.1–3.3): budget resources, the single-job
// budget routes and their bulk twins by filter. Handlers only translate: the rules live
// in lib/queue (budget-book.ts, budget-jobs.ts).

import type { H3, H3Event } from "h3";
import { budgetWire as wireBudget } from "../../queue/budget-book.ts";
import { type BudgetMutation, mutationFromBody } from "../../queue/budget-jobs.ts";
import type { Queue } from "../../queue/queue.ts";
import { noContent, readRawBody, reply, replyFormat, withBody } from "../_io.ts";
import { wireJob } from "../job-wire.ts";
import { parseFilterQuery } from "../../queue/query.ts";
import { pathId } from "./jobs.ts";
import { pathParam } from "../_path-param.ts";

/** The key path segment (keys may hold `/`; the Node client sends encodeURIComponent(key)). */
const keyOf = (event: H3Event): string => pathParam(event, "key");

/** What a job-budget route with a body asks for (lib/queue/budget-jobs.ts mutationFromBody). */
type BodyOp = Parameters<typeof mutationFromBody>[0];

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

  const single = (op: BodyOp) => async (event: H3Event) => {
    replyFormat(event);
    const key = keyOf(event);
    const job = await withBody(event, maxBodyBytes, (body) => queue.mutateJobBudgets(pathId(event), mutationFromBody(op, body, key)));
    return reply(event, 200, wireJob(job));
  };
  const singleNoBody = (mutation: (event: H3Event) => BudgetMutation) => async (event: H3Event) => {
    replyFormat(event);
    await readRawBody(event, maxBodyBytes);
    return reply(event, 200, wireJob(await queue.mutateJobBudgets(pathId(event), mutation(event))));
  };

  app.post("/jobs/:id/budgets/:key", single("add"));
  app.put("/jobs/:id/budgets/:key", single("put"));
  app.patch("/jobs/:id/budgets/:key", single("cost"));
  app.delete("/jobs/:id/budgets/:key", singleNoBody((event) => ({ op: "unbind", key: keyOf(event) })));
  app.put("/jobs/:id/budgets", single("replace"));
  app.delete("/jobs/:id/budgets", singleNoBody(() => ({ op: "clear" })));

  // ---- by filter ----------------------------------------------------------------------

  const bulk = (op: BodyOp) => async (event: H3Event) => {
    replyFormat(event);
    const filter = parseFilterQuery(event.url.search);
    const key = keyOf(event);
    const result = await withBody(event, maxBodyBytes, (body) => queue.mutateJobsBudgets(filter, mutationFromBody(op, body, key)));
    return reply(event, 200, result);
  };
  const bulkNoBody = (mutation: (event: H3Event) => BudgetMutation) => async (event: H3Event) => {
    replyFormat(event);
    const filter = parseFilterQuery(event.url.search);
    await readRawBody(event, maxBodyBytes);
    return reply(event, 200, await queue.mutateJobsBudgets(filter, mutation(event)));
  };

  app.post("/jobs/budgets/:key", bulk("add"));
  app.put("/jobs/budgets/:key", bulk("put"));
  app.patch("/jobs/budgets/:key", bulk("cost"));
  app.delete("/jobs/budgets/:key", bulkNoBody((event) => ({ op: "unbind", key: keyOf(event) })));
  app.delete("/jobs/budgets", bulkNoBody(() => ({ op: "clear" })));
}
