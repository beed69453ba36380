// Lazy query builders (CLIENT-API.md §5): `client.jobs()` and `job.errors()`. Builders are
// immutable and send nothing; requests start when a query is iterated or a terminal
// method runs. Pages are min(pageSize, limit, 2000) long, and iteration stops at `limit`.

import type { Client } from "./client.ts";
import type { ErrorPage, ErrorRecord, Job, JobPage } from "./resources.ts";
import type {
  BudgetBindingInput, BudgetChange, ErrorQueryOptions, JobFilter, JobQueryOptions, RangeFilter, SortDirection,
  UpdateJobOptions,
} from "./types.ts";

const MAX_PAGE = 2000;

/** min over the page-size candidates that are set; 2000 always is one. */
const pageLimit = (pageSize?: number, limit?: number) =>
  Math.min(MAX_PAGE, ...[pageSize, limit].filter((n): n is number => n !== undefined));

export abstract class Lazy<T> implements AsyncIterable<T> {
  abstract [Symbol.asyncIterator](): AsyncGenerator<T>;

  async toArray(): Promise<T[]> {
    const out: T[] = [];
    for await (const item of this) out.push(item);
    return out;
  }

  async count(): Promise<number> {
    let n = 0;
    for await (const _ of this) n++;
    return n;
  }

  async first(): Promise<T | undefined> {
    for await (const item of this) return item;
    return undefined;
  }

  async isEmpty(): Promise<boolean> {
    return (await this.first()) === undefined;
  }

  async forEach(fn: (item: T) => void | Promise<void>): Promise<void> {
    for await (const item of this) await fn(item);
  }

  map<U>(fn: (item: T) => U | Promise<U>): Lazy<U> {
    const source = this;
    return new (class extends Lazy<U> {
      async *[Symbol.asyncIterator](): AsyncGenerator<U> {
        for await (const item of source) yield await fn(item);
      }
    })();
  }

  filter(fn: (item: T) => boolean | Promise<boolean>): Lazy<T> {
    const source = this;
    return new (class extends Lazy<T> {
      async *[Symbol.asyncIterator](): AsyncGenerator<T> {
        for await (const item of source) if (await fn(item)) yield item;
      }
    })();
  }
}

type ListKey = "id" | "queue" | "type" | "status" | "budgetsKey";
type Many<T> = T | T[];
const toList = <T>(v: Many<T> | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

export class JobQuery extends Lazy<Job> {
  readonly #client: Client;
  readonly #o: JobQueryOptions;

  constructor(client: Client, options: JobQueryOptions = {}) {
    super();
    this.#client = client;
    this.#o = { ...options };
  }

  #with(patch: Partial<JobQueryOptions>): JobQuery {
    return new JobQuery(this.#client, { ...this.#o, ...patch });
  }

  #add(key: ListKey, value: Many<string>): JobQuery {
    return this.#with({ [key]: [...toList(this.#o[key] as Many<string> | undefined), ...toList(value)] });
  }

  byId(id: Many<string> | undefined): JobQuery { return this.#with({ id }); }
  addId(id: Many<string>): JobQuery { return this.#add("id", id); }
  byQueue(queue: Many<string> | undefined): JobQuery { return this.#with({ queue }); }
  addQueue(queue: Many<string>): JobQuery { return this.#add("queue", queue); }
  byType(type: Many<string> | undefined): JobQuery { return this.#with({ type }); }
  addType(type: Many<string>): JobQuery { return this.#add("type", type); }
  byStatus(status: JobQueryOptions["status"] | undefined): JobQuery { return this.#with({ status }); }
  addStatus(status: NonNullable<JobQueryOptions["status"]>): JobQuery { return this.#add("status", status); }
  byBudgetsKey(key: Many<string> | undefined): JobQuery { return this.#with({ budgetsKey: key }); }
  addBudgetsKey(key: Many<string>): JobQuery { return this.#add("budgetsKey", key); }
  byJqFilter(expr: string | undefined): JobQuery { return this.#with({ jqFilter: expr }); }

  addJqFilter(expr: string): JobQuery {
    const existing = this.#o.jqFilter;
    return this.#with({ jqFilter: existing ? `${existing} and (${expr})` : `(${expr})` });
  }

  withPayload(value: unknown): JobQuery { return this.addJqFilter(`. == ${JSON.stringify(value)}`); }

  withPayloadSubset(value: unknown): JobQuery {
    const json = JSON.stringify(value);
    if (Array.isArray(value)) return this.addJqFilter(`.[0:${value.length}] == ${json}`);
    if (value !== null && typeof value === "object") return this.addJqFilter(`. | contains(${json})`);
    return this.addJqFilter(`. == ${json}`);
  }

  byPriority(range: RangeFilter | undefined): JobQuery { return this.#with({ priority: range }); }
  byReadyAt(range: RangeFilter | undefined): JobQuery { return this.#with({ readyAt: range }); }
  byAttempts(range: RangeFilter | undefined): JobQuery { return this.#with({ attempts: range }); }
  order(direction: SortDirection): JobQuery { return this.#with({ order: direction }); }
  reverseOrder(): JobQuery { return this.#with({ order: this.#o.order === "desc" ? "asc" : "desc" }); }
  limit(n: number): JobQuery { return this.#with({ limit: n }); }
  inPagesOf(n: number): JobQuery { return this.#with({ pageSize: n }); }

  /** The query as a JobFilter (jqFilter → filter); order, limit and page size never go in. */
  #filters(): JobFilter {
    const o = this.#o;
    const f: JobFilter = {};
    if (o.id !== undefined) f.id = o.id;
    if (o.status !== undefined) f.status = o.status;
    if (o.queue !== undefined) f.queue = o.queue;
    if (o.type !== undefined) f.type = o.type;
    if (o.budgetsKey !== undefined) f.budgetsKey = o.budgetsKey;
    if (o.jqFilter !== undefined) f.filter = o.jqFilter;
    if (o.priority !== undefined) f.priority = o.priority;
    if (o.readyAt !== undefined) f.readyAt = o.readyAt;
    if (o.attempts !== undefined) f.attempts = o.attempts;
    return f;
  }

  async *pages(): AsyncGenerator<JobPage> {
    const { limit, order, pageSize } = this.#o;
    let page: JobPage | null = await this.#client.listJobs({ ...this.#filters(), order, limit: pageLimit(pageSize, limit) });
    let seen = 0;
    while (page) {
      yield page;
      seen += page.jobs.length;
      if (limit !== undefined && seen >= limit) return;
      page = await page.nextPage();
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Job> {
    const limit = this.#o.limit;
    let yielded = 0;
    // No early return for limit(0): iteration walks pages() (§5.2), whose request then
    // carries limit=0 and gets the server's 400, as pages() and deleteAll() do.
    for await (const page of this.pages()) {
      for (const job of page.jobs) {
        yield job;
        if (limit !== undefined && ++yielded >= limit) return;
      }
    }
  }

  override first(): Promise<Job | undefined> { return Lazy.prototype.first.call(this.limit(1)) as Promise<Job | undefined>; }
  last(): Promise<Job | undefined> { return this.reverseOrder().first(); }

  override async count(): Promise<number> {
    const total = await this.#client.countJobs(this.#filters());
    return this.#o.limit !== undefined ? Math.min(total, this.#o.limit) : total;
  }

  /** Page-wise ids, trimmed to what is left of the limit (the bounded mode of updateAll/deleteAll). */
  async #eachIdBatch(fn: (ids: string[]) => Promise<number>): Promise<number> {
    let left = this.#o.limit ?? Infinity;
    let total = 0;
    for await (const page of this.pages()) {
      const ids = page.jobs.slice(0, left).map((j) => j.id);
      if (ids.length === 0) break;
      left -= ids.length;
      total += await fn(ids);
      if (left <= 0) break;
    }
    return total;
  }

  #bounded(): boolean { return this.#o.limit !== undefined || this.#o.pageSize !== undefined; }

  async updateAll(apply: UpdateJobOptions): Promise<number> {
    if (!this.#bounded()) return this.#client.updateAllJobs({ where: this.#filters(), apply });
    return this.#eachIdBatch((id) => this.#client.updateAllJobs({ where: { ...this.#filters(), id }, apply }));
  }

  updateOne(apply: UpdateJobOptions): Promise<number> { return this.limit(1).updateAll(apply); }

  async deleteAll(): Promise<number> {
    if (!this.#bounded()) return this.#client.deleteAllJobs({ where: this.#filters() });
    return this.#eachIdBatch((id) => this.#client.deleteAllJobs({ where: { ...this.#filters(), id } }));
  }

  deleteOne(): Promise<number> { return this.limit(1).deleteAll(); }

  bindBudget(binding: BudgetBindingInput): Promise<BudgetChange> { return this.#client.bindAllJobsBudget(binding, this.#filters()); }
  rebindBudget(binding: BudgetBindingInput): Promise<BudgetChange> { return this.#client.rebindAllJobsBudget(binding, this.#filters()); }
  setBudgetCost(key: string, cost: number): Promise<BudgetChange> { return this.#client.setAllJobsBudgetCost(key, cost, this.#filters()); }
  unbindBudget(key: string): Promise<BudgetChange> { return this.#client.unbindAllJobsBudget(key, this.#filters()); }
  clearBudgets(): Promise<BudgetChange> { return this.#client.clearAllJobsBudgets(this.#filters()); }
}

export class ErrorQuery extends Lazy<ErrorRecord> {
  readonly #client: Client;
  readonly #jobId: string;
  readonly #o: ErrorQueryOptions;

  constructor(client: Client, jobId: string, options: ErrorQueryOptions = {}) {
    super();
    this.#client = client;
    this.#jobId = jobId;
    this.#o = { ...options };
  }

  #with(patch: Partial<ErrorQueryOptions>): ErrorQuery {
    return new ErrorQuery(this.#client, this.#jobId, { ...this.#o, ...patch });
  }

  order(direction: SortDirection): ErrorQuery { return this.#with({ order: direction }); }
  reverseOrder(): ErrorQuery { return this.#with({ order: this.#o.order === "desc" ? "asc" : "desc" }); }
  limit(n: number): ErrorQuery { return this.#with({ limit: n }); }
  inPagesOf(n: number): ErrorQuery { return this.#with({ pageSize: n }); }

  async *pages(): AsyncGenerator<ErrorPage> {
    const { limit, order, pageSize } = this.#o;
    let page: ErrorPage | null = await this.#client.listErrors(this.#jobId, { order, limit: pageLimit(pageSize, limit) });
    let seen = 0;
    while (page) {
      yield page;
      seen += page.errors.length;
      if (limit !== undefined && seen >= limit) return;
      page = await page.nextPage();
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<ErrorRecord> {
    const limit = this.#o.limit;
    let yielded = 0;
    for await (const page of this.pages()) {
      for (const record of page.errors) {
        yield record;
        if (limit !== undefined && ++yielded >= limit) return;
      }
    }
  }

  override first(): Promise<ErrorRecord | undefined> {
    return Lazy.prototype.first.call(this.limit(1)) as Promise<ErrorRecord | undefined>;
  }

  last(): Promise<ErrorRecord | undefined> { return this.reverseOrder().first(); }
}
