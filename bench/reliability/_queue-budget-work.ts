// The budget writes of the queue power-loss workload (_queue-workload.ts): bindings on
// enqueues and rebinds (create_with), and policy writes on the budgets themselves (POST,
// PUT, PATCH, DELETE /budgets/{key}, through Queue.budgets). Each budget is a blob in the
// ledger (`budget:<key>`, as the store holds it: policy and timestamps); every request
// naming a budget issues a write on it, since whether it makes the budget is decided in
// the queue (a no-op write leaves the blob as it was).
// Invariant: at most one request naming a budget is in flight (a reset aside), so a
// write's answer, read from the store, is its own: with two, an answer read before the
// other's landed would record it out of log order.

import type { Store } from "../../lib/storage/store.ts";
import { capacityOf } from "../../lib/queue/budget-bucket.ts";
import { mutationFromBody } from "../../lib/queue/budget-jobs.ts";
import type { Queue } from "../../lib/queue/queue.ts";
import type { Ledger } from "./_queue-ledger.ts";
import { BUDGETS, BUDGET_KEYS } from "./_queue-model.ts";

export type BlobWrite = ReturnType<Ledger["issueBlob"]>;
/** The budget writes one request issued, by budget key. */
export type BudgetWrites = Map<string, BlobWrite>;

export interface BudgetWorkContext {
  ledger: Ledger;
  random: () => number;
  count: (op: string) => void;
  /** The store was closed under the request by a restart before its write was appended. */
  refusedByRestart: (err: unknown, began: number) => boolean;
  restarts: () => number;
}

/** Refusals that write nothing: 409 (exists, referenced), 422 (shrink guard, invalid patch), 404. */
const REFUSALS = new Set(["conflict", "unprocessable", "not_found"]);

export class BudgetWork {
  private readonly c: BudgetWorkContext;

  constructor(context: BudgetWorkContext) {
    this.c = context;
  }

  /** Budgets no request is writing now. */
  idleKeys(): string[] {
    return BUDGET_KEYS.filter((k) => !this.c.ledger.busy(this.c.ledger.blobs.get(`budget:${k}`)!));
  }

  /**
   * A binding `{key, cost, create_with}` for one job of a request, or undefined when every
   * budget is being written by another request. Issues the write on its budget in
   * `writes` (once per request). The cost fits both the budget's capacity now and its
   * create_with's (a reset may remove it first): a 422 would fail the whole request.
   */
  binding(queue: Queue, writes: BudgetWrites): Record<string, unknown> | undefined {
    const keys = BUDGET_KEYS.filter((k) => writes.has(k) || this.idleKeys().includes(k));
    if (keys.length === 0) return undefined;
    const key = keys[Math.floor(this.c.random() * keys.length)];
    if (!writes.has(key)) writes.set(key, this.c.ledger.issueBlob(`budget:${key}`));
    const now = queue.budgets.budgets.get(key);
    const cap = Math.min(capacityOf(BUDGETS[key]), now ? capacityOf(now) : Infinity);
    const cost = Math.min(cap, this.c.random() < 0.25 ? 2 : 1);
    return { key, cost, create_with: BUDGETS[key] };
  }

  /** Answer a request's budget writes with the store it ran on (what landed is there). */
  answer(writes: BudgetWrites, store: Store): void {
    for (const w of writes.values()) w.answer(store);
  }

  unwritten(writes: BudgetWrites): void {
    for (const w of writes.values()) w.unwritten();
  }

  /**
   * Rebind queued job `id` (Queue.mutateJobBudgets, as PUT /jobs/{id}/budgets): one
   * budget (with create_with), or none. A 422 (taken meanwhile) or 404 writes nothing.
   * `settle` runs the job's write in the ledger.
   */
  async rebind(store: Store, queue: Queue, id: string, settle: (write: Promise<unknown>) => Promise<void>): Promise<void> {
    const writes: BudgetWrites = new Map();
    const binding = this.c.random() < 0.8 ? this.binding(queue, writes) : undefined;
    const write = queue.mutateJobBudgets(id, mutationFromBody("replace", { budgets: binding ? [binding] : [] })).then(() => this.c.count("rebound"), (err: { code?: string }) => {
      if (err.code !== "unprocessable" && err.code !== "not_found") throw err;
      this.c.count("rebindRefused");
    });
    try {
      await settle(write);
    } finally {
      // Read from the store it ran on: what landed is there, a refusal left it as it was.
      this.answer(writes, store);
    }
  }

  /**
   * One write on a budget's policy: create (POST; 409 when it exists), replace (PUT;
   * creates when missing), patch (PATCH: allocation, burst set or cleared, duration,
   * strategy switch, or `{}`), delete (409 while an unfinished job draws on it). Refusals
   * write nothing.
   */
  async policyWrite(store: Store, queue: Queue): Promise<void> {
    const { random, count } = this.c;
    const idle = this.idleKeys();
    const key = idle[Math.floor(random() * idle.length)];
    const w = this.c.ledger.issueBlob(`budget:${key}`);
    const current = queue.budgets.budgets.get(key);
    const r = random();
    const op = !current ? (r < 0.5 ? "create" : "replace") : r < 0.1 ? "create" : r < 0.35 ? "replace" : r < 0.8 ? "patch" : "delete";
    count(`budget.${op}`);
    const book = queue.budgets;
    const write: Promise<unknown> = op === "create" ? book.create(key, this.policy())
      : op === "replace" ? book.replace(key, this.policy())
        : op === "patch" ? book.patch(key, this.patch(current!.strategy.type))
          : book.remove(key);
    const began = this.c.restarts();
    await write.then(() => w.answer(store), (err: { code?: string }) => {
      if (err.code !== undefined && REFUSALS.has(err.code)) count(`budget.${op}.refused`);
      else if (!this.c.refusedByRestart(err, began)) throw err;
      w.unwritten();
    });
  }

  /** A whole policy (POST/PUT body): either strategy, small numbers so guards and tokens bite. */
  private policy(): Record<string, unknown> {
    const { random } = this.c;
    const allocation = 1 + Math.floor(random() * 4);
    if (random() < 0.4) return { allocation, strategy: { type: "while_in_flight" } };
    const strategy: Record<string, unknown> = { type: "time_based", duration_ms: [500, 2000, 5000][Math.floor(random() * 3)] };
    if (random() < 0.5) strategy.burst = 1 + Math.floor(random() * 3);
    return { allocation, strategy };
  }

  /** A merge patch for a budget of strategy `type` (API-budgets.md §3.1). */
  private patch(type: string): Record<string, unknown> {
    const { random } = this.c;
    const r = random();
    if (r < 0.35) return { allocation: 1 + Math.floor(random() * 4) };
    if (r < 0.5) return {};
    if (type === "while_in_flight") {
      return r < 0.75 ? { strategy: { type: "time_based", duration_ms: 1000 + Math.floor(random() * 3000) } } : { allocation: 2, strategy: { type: "time_based", duration_ms: 1500, burst: 2 } };
    }
    if (r < 0.65) return { strategy: { burst: random() < 0.5 ? null : 1 + Math.floor(random() * 3) } };
    if (r < 0.8) return { strategy: { duration_ms: [500, 2000, 5000][Math.floor(random() * 3)] } };
    return { strategy: { type: "while_in_flight" } };
  }
}
