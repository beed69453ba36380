// Budget methods (0.7 endpoints, CLIENT-API.md §3.3.6–3.3.7) on the wire: the server here
// is 0.6 and has no budget routes, so a recording server checks each request's method,
// path, query and body, and answers with canned wire shapes to check the conversions.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Client, ConflictError } from "../../lib/client/index.ts";
import { recorder, type Seen } from "./_recorder.ts";

const JOB = { id: "j1", type: "t", queue: "q", priority: 1, status: "ready", ready_at: 1, attempts: 0, budgets: [{ key: "api", cost: 2 }] };
const BUDGET = { key: "api", allocation: 10, strategy: { type: "time_based", duration_ms: 1000, burst: 2 }, created_at: 5, updated_at: 6 };

let r: Awaited<ReturnType<typeof recorder>>;
let c: Client;
before(async () => {
  r = await recorder((seen: Seen) => {
    if (seen.path.startsWith("/budgets/taken")) return { status: 409, body: { error: "budget exists" } };
    if (seen.path === "/budgets") return { status: 200, body: { budgets: [BUDGET] } };
    if (seen.path.startsWith("/budgets/")) return seen.method === "DELETE" ? { status: 204 } : { status: 200, body: BUDGET };
    if (seen.path.startsWith("/jobs/budgets")) return { status: 200, body: { changed: 3, blocked: ["x"] } };
    if (seen.path.startsWith("/jobs/j1/budgets")) return { status: 200, body: JOB };
    return undefined;
  });
  c = new Client({ url: r.url });
});
after(async () => {
  await c.close();
  await r.close();
});

const last = () => {
  const seen = r.seen[r.seen.length - 1];
  return [seen.method, seen.path, seen.body ? JSON.parse(seen.body) : undefined];
};

describe("budgets on the wire", () => {
  it("per-job bindings", async () => {
    const policy = { allocation: 5, strategy: { type: "time_based" as const, durationMs: 60_000, burst: 1 } };
    const job = await c.bindJobBudget("j1", { key: "api", cost: 2, createWith: policy });
    assert.deepEqual(job.budgets, [{ key: "api", cost: 2 }]);
    assert.deepEqual(last(), ["POST", "/jobs/j1/budgets/api",
      { cost: 2, create_with: { allocation: 5, strategy: { type: "time_based", duration_ms: 60_000, burst: 1 } } }]);
    await c.rebindJobBudget("j1", { key: "a/b" });
    assert.deepEqual(last(), ["PUT", "/jobs/j1/budgets/a%2Fb", {}]);
    await c.setJobBudgetCost("j1", "api", 4);
    assert.deepEqual(last(), ["PATCH", "/jobs/j1/budgets/api", { cost: 4 }]);
    await c.unbindJobBudget("j1", "api");
    assert.deepEqual(last(), ["DELETE", "/jobs/j1/budgets/api", undefined]);
    await c.unbindAllJobBudgets("j1");
    assert.deepEqual(last(), ["DELETE", "/jobs/j1/budgets", undefined]);
    await c.replaceJobBudgets("j1", []);
    assert.deepEqual(last(), ["PUT", "/jobs/j1/budgets", { budgets: [] }]);
    const viaJob = await job.replaceBudgets([{ key: "api", cost: 1 }]);
    assert.deepEqual(last(), ["PUT", "/jobs/j1/budgets", { budgets: [{ key: "api", cost: 1 }] }]);
    assert.equal(viaJob.id, "j1");
  });

  it("bulk forms: filter last, BudgetChange, the empty-set short-circuit", async () => {
    assert.deepEqual(await c.bindAllJobsBudget({ key: "api", cost: 1 }, { queue: ["a", "b"], status: "ready" }), { changed: 3, blocked: ["x"] });
    assert.deepEqual(last(), ["POST", "/jobs/budgets/api?status=ready&queue=a%2Cb", { cost: 1 }]);
    await c.rebindAllJobsBudget({ key: "api" });
    assert.deepEqual(last(), ["PUT", "/jobs/budgets/api", {}]);
    await c.setAllJobsBudgetCost("api", 3, { priority: { min: 1 } });
    assert.deepEqual(last(), ["PATCH", "/jobs/budgets/api?priority=1..", { cost: 3 }]);
    await c.unbindAllJobsBudget("api", { budgetsKey: "api" });
    assert.deepEqual(last(), ["DELETE", "/jobs/budgets/api?budgets.key=api", undefined]);
    await c.clearAllJobsBudgets({ type: "t" });
    assert.deepEqual(last(), ["DELETE", "/jobs/budgets?type=t", undefined]);
    const before = r.seen.length;
    assert.deepEqual(await c.clearAllJobsBudgets({ id: [] }), { changed: 0, blocked: [] });
    assert.equal(r.seen.length, before, "no request for an empty set");
    assert.deepEqual(await c.jobs().byQueue("q").clearBudgets(), { changed: 3, blocked: ["x"] });
    assert.deepEqual(last(), ["DELETE", "/jobs/budgets?queue=q", undefined]);
  });

  it("definitions: list, get, define (POST, or PUT with replace), update, delete, 409", async () => {
    const expected = { key: "api", allocation: 10, strategy: { type: "time_based", durationMs: 1000, burst: 2 }, createdAt: 5, updatedAt: 6 };
    assert.deepEqual(await c.listBudgets(), [expected]);
    assert.deepEqual(await c.getBudget("api"), expected);
    await c.defineBudget({ key: "api", allocation: 3, strategy: { type: "while_in_flight" } });
    assert.deepEqual(last(), ["POST", "/budgets/api", { allocation: 3, strategy: { type: "while_in_flight" } }]);
    await c.defineBudget({ key: "api", allocation: 3, strategy: { type: "time_based", durationMs: 10 }, replace: true });
    assert.deepEqual(last(), ["PUT", "/budgets/api", { allocation: 3, strategy: { type: "time_based", duration_ms: 10 } }]);
    await c.updateBudget("api", { allocation: 4, strategy: { burst: null } });
    assert.deepEqual(last(), ["PATCH", "/budgets/api", { allocation: 4, strategy: { burst: null } }]);
    await c.deleteBudget("api");
    assert.deepEqual(last(), ["DELETE", "/budgets/api", undefined]);
    await assert.rejects(c.defineBudget({ key: "taken", allocation: 1, strategy: { type: "while_in_flight" } }), (err: unknown) =>
      err instanceof ConflictError && err.message === "budget exists");
  });

  it("enqueueRaw carries budgets; client.enqueue drops them (quirk 5)", async () => {
    r.seen.length = 0;
    await c.enqueueRaw({ type: "t", queue: "q", payload: 1, budgets: [{ key: "api", cost: 2 }] }).catch(() => {});
    assert.deepEqual(JSON.parse(r.seen[0].body).budgets, [{ key: "api", cost: 2 }]);
    await c.enqueue({ type: "t", queue: "q", payload: 1, budgets: [{ key: "api" }] }).catch(() => {});
    assert.equal(JSON.parse(r.seen[1].body).budgets, undefined);
  });
});
