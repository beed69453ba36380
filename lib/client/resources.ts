// Resource value objects returned by the client (CLIENT-API.md §4): Job, JobPage,
// ErrorRecord, ErrorPage, CronGroup, CronEntry. They are immutable; action methods
// delegate to the owning client and return new instances (or nothing).

import type { Client } from "./client.ts";
import { ErrorQuery } from "./query.ts";
import type {
  BackoffConfig, BatchConfig, BudgetBinding, BudgetBindingInput, CronEntryData, CronGroupData, EnqueueOptions,
  ErrorQueryOptions, ErrorRecordData, FailureOptions, JobData, JobStatus, RetentionConfig, UniqueScope, UpdateJobOptions,
} from "./types.ts";

/** Server pagination links; a null or absent link means there is no such page. */
export interface PageLinks { self?: string | null; next?: string | null; prev?: string | null }

// Data fields are `declare`d: the constructor copies the converted wire object in one
// Object.assign instead of first defining 21 undefined fields (a hot path of take).
export class Job implements JobData {
  declare readonly id: string;
  declare readonly type: string;
  declare readonly queue: string;
  declare readonly priority: number;
  declare readonly status: JobStatus;
  declare readonly payload?: unknown;
  declare readonly readyAt: number;
  declare readonly attempts: number;
  declare readonly retryLimit?: number;
  declare readonly backoff?: BackoffConfig;
  declare readonly dequeuedAt?: number;
  declare readonly failedAt?: number;
  declare readonly completedAt?: number;
  declare readonly retention?: RetentionConfig;
  declare readonly purgeAt?: number;
  declare readonly uniqueKey?: string;
  declare readonly uniqueWhile?: UniqueScope;
  declare readonly duplicate?: boolean;
  declare readonly folded?: boolean;
  declare readonly batch?: BatchConfig;
  declare readonly budgets: BudgetBinding[];
  readonly #client: Client;

  /** @internal */
  constructor(client: Client, data: JobData) {
    this.#client = client;
    // Written out, in JobData's order, instead of Object.assign: one Job per job taken or
    // enqueued, and the generic copy was the largest single cost of the embedded take
    // (bench/embedded.ts profile). Every Job now has the same 21 own keys.
    const self = this as { -readonly [K in keyof JobData]: JobData[K] };
    self.id = data.id;
    self.type = data.type;
    self.queue = data.queue;
    self.priority = data.priority;
    self.status = data.status;
    self.payload = data.payload;
    self.readyAt = data.readyAt;
    self.attempts = data.attempts;
    self.retryLimit = data.retryLimit;
    self.backoff = data.backoff;
    self.dequeuedAt = data.dequeuedAt;
    self.failedAt = data.failedAt;
    self.completedAt = data.completedAt;
    self.retention = data.retention;
    self.purgeAt = data.purgeAt;
    self.uniqueKey = data.uniqueKey;
    self.uniqueWhile = data.uniqueWhile;
    self.duplicate = data.duplicate;
    self.folded = data.folded;
    self.batch = data.batch;
    self.budgets = Array.isArray(data.budgets) ? data.budgets : [];
  }

  errors(options?: ErrorQueryOptions): ErrorQuery {
    return new ErrorQuery(this.#client, this.id, options);
  }

  complete(): Promise<void> { return this.#client.reportSuccess(this.id); }
  fail(options: FailureOptions): Promise<Job> { return this.#client.reportFailure(this.id, options); }
  delete(): Promise<void> { return this.#client.deleteJob(this.id); }
  update(options: UpdateJobOptions): Promise<Job> { return this.#client.updateJob(this.id, options); }
  bindBudget(binding: BudgetBindingInput): Promise<Job> { return this.#client.bindJobBudget(this.id, binding); }
  rebindBudget(binding: BudgetBindingInput): Promise<Job> { return this.#client.rebindJobBudget(this.id, binding); }
  setBudgetCost(key: string, cost: number): Promise<Job> { return this.#client.setJobBudgetCost(this.id, key, cost); }
  unbindBudget(key: string): Promise<Job> { return this.#client.unbindJobBudget(this.id, key); }
  unbindAllBudgets(): Promise<Job> { return this.#client.unbindAllJobBudgets(this.id); }
  replaceBudgets(bindings: BudgetBindingInput[]): Promise<Job> { return this.#client.replaceJobBudgets(this.id, bindings); }

  /** All 21 data keys (undefined ones included), never the client. */
  toJSON(): JobData {
    return {
      id: this.id, type: this.type, queue: this.queue, priority: this.priority, status: this.status,
      payload: this.payload, readyAt: this.readyAt, attempts: this.attempts, retryLimit: this.retryLimit,
      backoff: this.backoff, dequeuedAt: this.dequeuedAt, failedAt: this.failedAt, completedAt: this.completedAt,
      retention: this.retention, purgeAt: this.purgeAt, uniqueKey: this.uniqueKey, uniqueWhile: this.uniqueWhile,
      duplicate: this.duplicate, folded: this.folded, batch: this.batch, budgets: this.budgets,
    };
  }
}

export class JobPage {
  readonly #client: Client;
  readonly #pages: PageLinks;

  /** @internal */
  constructor(client: Client, readonly jobs: readonly Job[], pages: PageLinks) {
    this.#client = client;
    this.#pages = pages ?? {};
  }

  get hasNext(): boolean { return this.#pages.next != null; }
  get hasPrev(): boolean { return this.#pages.prev != null; }
  [Symbol.iterator](): Iterator<Job> { return this.jobs[Symbol.iterator](); }

  async nextPage(): Promise<JobPage | null> {
    return this.#pages.next != null ? this.#client.listJobsByPath(this.#pages.next) : null;
  }

  async prevPage(): Promise<JobPage | null> {
    return this.#pages.prev != null ? this.#client.listJobsByPath(this.#pages.prev) : null;
  }

  async deleteAll(): Promise<number> {
    if (this.jobs.length === 0) return 0;
    return this.#client.deleteAllJobs({ where: { id: this.jobs.map((j) => j.id) } });
  }

  async updateAll(apply: UpdateJobOptions): Promise<number> {
    if (this.jobs.length === 0) return 0;
    return this.#client.updateAllJobs({ where: { id: this.jobs.map((j) => j.id) }, apply });
  }
}

export class ErrorRecord implements ErrorRecordData {
  declare readonly attempt: number;
  declare readonly message: string;
  declare readonly errorType?: string;
  declare readonly backtrace?: string;
  declare readonly dequeuedAt: number;
  declare readonly failedAt: number;

  /** @internal */
  constructor(data: ErrorRecordData) {
    Object.assign(this, data);
  }
}

export class ErrorPage {
  readonly #client: Client;
  readonly #pages: PageLinks;

  /** @internal */
  constructor(client: Client, readonly errors: readonly ErrorRecord[], pages: PageLinks) {
    this.#client = client;
    this.#pages = pages ?? {};
  }

  get hasNext(): boolean { return this.#pages.next != null; }
  get hasPrev(): boolean { return this.#pages.prev != null; }
  [Symbol.iterator](): Iterator<ErrorRecord> { return this.errors[Symbol.iterator](); }

  async nextPage(): Promise<ErrorPage | null> {
    return this.#pages.next != null ? this.#client.listErrorsByPath(this.#pages.next) : null;
  }

  async prevPage(): Promise<ErrorPage | null> {
    return this.#pages.prev != null ? this.#client.listErrorsByPath(this.#pages.prev) : null;
  }
}

export class CronEntry implements CronEntryData {
  declare readonly name: string;
  declare readonly expression: string;
  declare readonly timezone?: string;
  declare readonly paused: boolean;
  declare readonly pausedAt?: number;
  declare readonly resumedAt?: number;
  declare readonly job: EnqueueOptions;
  declare readonly nextEnqueueAt?: number;
  declare readonly lastEnqueueAt?: number;
  readonly #client: Client;
  readonly #group: string;

  /** @internal */
  constructor(client: Client, groupName: string, data: CronEntryData) {
    this.#client = client;
    this.#group = groupName;
    Object.assign(this, data);
  }

  pause(): Promise<CronEntry> { return this.#client.updateCronEntry(this.#group, this.name, { paused: true }); }
  resume(): Promise<CronEntry> { return this.#client.updateCronEntry(this.#group, this.name, { paused: false }); }
  delete(): Promise<void> { return this.#client.deleteCronEntry(this.#group, this.name); }
}

export class CronGroup {
  readonly name: string;
  readonly paused: boolean;
  readonly timezone?: string;
  readonly pausedAt?: number;
  readonly resumedAt?: number;
  readonly entries: CronEntry[];
  readonly #client: Client;

  /** @internal */
  constructor(client: Client, data: CronGroupData) {
    this.#client = client;
    this.name = data.name;
    this.paused = data.paused;
    this.timezone = data.timezone;
    this.pausedAt = data.pausedAt;
    this.resumedAt = data.resumedAt;
    this.entries = (data.entries ?? []).map((e) => new CronEntry(client, data.name, e));
  }

  pause(): Promise<CronGroup> { return this.#client.updateCronGroup(this.name, { paused: true }); }
  resume(): Promise<CronGroup> { return this.#client.updateCronGroup(this.name, { paused: false }); }
  delete(): Promise<void> { return this.#client.deleteCronGroup(this.name); }
}
