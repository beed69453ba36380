// Stand-in for the official client's resource classes and errors (CLIENT-API.md §4, §8)
// until lib/client lands on this branch: same constructor signatures and shapes, so the
// embedded queue switches to the real classes by changing this file's imports only.
// Every class delegates its actions to the queue it was built from (`client`).

/* eslint-disable @typescript-eslint/no-explicit-any */
export type JobStatus = "ready" | "in_flight" | "scheduled" | "completed" | "dead";
export type SortDirection = "asc" | "desc";
export type UniqueScope = "queued" | "active" | "exists";
export interface BackoffConfig { baseMs: number; exponent: number; jitterMs: number }
export interface RetentionConfig { completedMs?: number | null; deadMs?: number | null }
export interface BatchConfig { key: string; when: string; fold: string }
export interface BudgetBinding { key: string; cost: number }

export interface JobData {
  id: string; type: string; queue: string; priority: number; status: JobStatus; payload?: unknown;
  readyAt: number; attempts: number; retryLimit?: number; backoff?: BackoffConfig; dequeuedAt?: number;
  failedAt?: number; completedAt?: number; retention?: RetentionConfig; purgeAt?: number; uniqueKey?: string;
  uniqueWhile?: UniqueScope; duplicate?: boolean; folded?: boolean; batch?: BatchConfig; budgets?: BudgetBinding[];
}
export interface ErrorRecordData { attempt: number; message: string; errorType?: string; backtrace?: string; dequeuedAt: number; failedAt: number }
export interface CronEntryData {
  name: string; expression: string; timezone?: string; paused: boolean; pausedAt?: number; resumedAt?: number;
  job: any; nextEnqueueAt?: number; lastEnqueueAt?: number;
}
export interface CronGroupData { name: string; paused: boolean; timezone?: string; pausedAt?: number; resumedAt?: number; entries?: CronEntryData[] }
export interface PageLinks { self?: string | null; next?: string | null; prev?: string | null }

export class ZizqError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}
export class ConnectionError extends ZizqError {}
export class ResponseError extends ZizqError {
  constructor(message: string, readonly status: number, readonly body?: unknown) {
    super(message);
  }
}
export class ClientError extends ResponseError {}
export class ServerError extends ResponseError {}
export class NotFoundError extends ClientError {
  constructor(message: string, body?: unknown) {
    super(message, 404, body);
  }
}
export class ConflictError extends ClientError {
  constructor(message: string, body?: unknown) {
    super(message, 409, body);
  }
}

/** CLIENT-API.md §8.2. */
export function buildResponseError(status: number, body: unknown): ResponseError {
  const error = (body as { error?: unknown } | undefined)?.error;
  const message = error !== undefined && error !== null ? String(error) : `HTTP ${status}`;
  if (status === 404) return new NotFoundError(message, body);
  if (status === 409) return new ConflictError(message, body);
  if (status >= 400 && status < 500) return new ClientError(message, status, body);
  if (status >= 500) return new ServerError(message, status, body);
  return new ResponseError(message, status, body);
}

const JOB_KEYS = [
  "id", "type", "queue", "priority", "status", "payload", "readyAt", "attempts", "retryLimit", "backoff", "dequeuedAt",
  "failedAt", "completedAt", "retention", "purgeAt", "uniqueKey", "uniqueWhile", "duplicate", "folded", "batch", "budgets",
] as const;

export class Job {
  declare readonly id: string; declare readonly type: string; declare readonly queue: string;
  declare readonly priority: number; declare readonly status: JobStatus; declare readonly payload?: unknown;
  declare readonly readyAt: number; declare readonly attempts: number; declare readonly retryLimit?: number;
  declare readonly backoff?: BackoffConfig; declare readonly dequeuedAt?: number; declare readonly failedAt?: number;
  declare readonly completedAt?: number; declare readonly retention?: RetentionConfig; declare readonly purgeAt?: number;
  declare readonly uniqueKey?: string; declare readonly uniqueWhile?: UniqueScope; declare readonly duplicate?: boolean;
  declare readonly folded?: boolean; declare readonly batch?: BatchConfig; declare readonly budgets: BudgetBinding[];
  readonly #client: any;
  constructor(client: any, data: JobData) {
    this.#client = client;
    for (const k of JOB_KEYS) (this as any)[k] = data[k];
    (this as any).budgets = data.budgets ?? [];
  }
  complete(): Promise<void> { return this.#client.reportSuccess(this.id); }
  fail(options: { message: string; errorType?: string; backtrace?: string; retryAt?: number; kill?: boolean }): Promise<Job> {
    return this.#client.reportFailure(this.id, options);
  }
  delete(): Promise<void> { return this.#client.deleteJob(this.id); }
  update(options: object): Promise<Job> { return this.#client.updateJob(this.id, options); }
  toJSON(): JobData {
    const out: any = {};
    for (const k of JOB_KEYS) out[k] = (this as any)[k];
    return out;
  }
}

export class JobPage {
  constructor(private readonly client: any, readonly jobs: readonly Job[], private readonly pages: PageLinks) {}
  get hasNext(): boolean { return this.pages.next != null; }
  get hasPrev(): boolean { return this.pages.prev != null; }
  [Symbol.iterator](): Iterator<Job> { return this.jobs[Symbol.iterator](); }
  async nextPage(): Promise<JobPage | null> { return this.pages.next != null ? this.client.listJobsByPath(this.pages.next) : null; }
  async prevPage(): Promise<JobPage | null> { return this.pages.prev != null ? this.client.listJobsByPath(this.pages.prev) : null; }
  async deleteAll(): Promise<number> {
    return this.jobs.length === 0 ? 0 : this.client.deleteAllJobs({ where: { id: this.jobs.map((j) => j.id) } });
  }
  async updateAll(apply: object): Promise<number> {
    return this.jobs.length === 0 ? 0 : this.client.updateAllJobs({ where: { id: this.jobs.map((j) => j.id) }, apply });
  }
}

export class ErrorRecord {
  declare readonly attempt: number; declare readonly message: string; declare readonly errorType?: string;
  declare readonly backtrace?: string; declare readonly dequeuedAt: number; declare readonly failedAt: number;
  constructor(data: ErrorRecordData) {
    Object.assign(this, data);
  }
}

export class ErrorPage {
  constructor(private readonly client: any, readonly errors: readonly ErrorRecord[], private readonly pages: PageLinks) {}
  get hasNext(): boolean { return this.pages.next != null; }
  get hasPrev(): boolean { return this.pages.prev != null; }
  [Symbol.iterator](): Iterator<ErrorRecord> { return this.errors[Symbol.iterator](); }
  async nextPage(): Promise<ErrorPage | null> { return this.pages.next != null ? this.client.listErrorsByPath(this.pages.next) : null; }
  async prevPage(): Promise<ErrorPage | null> { return this.pages.prev != null ? this.client.listErrorsByPath(this.pages.prev) : null; }
}

export class CronEntry {
  declare readonly name: string; declare readonly expression: string; declare readonly timezone?: string;
  declare readonly paused: boolean; declare readonly pausedAt?: number; declare readonly resumedAt?: number;
  declare readonly job: any; declare readonly nextEnqueueAt?: number; declare readonly lastEnqueueAt?: number;
  readonly #client: any;
  readonly #group: string;
  constructor(client: any, groupName: string, data: CronEntryData) {
    this.#client = client;
    this.#group = groupName;
    Object.assign(this, data);
  }
  pause(): Promise<CronEntry> { return this.#client.updateCronEntry(this.#group, this.name, { paused: true }); }
  resume(): Promise<CronEntry> { return this.#client.updateCronEntry(this.#group, this.name, { paused: false }); }
  delete(): Promise<void> { return this.#client.deleteCronEntry(this.#group, this.name); }
}

export class CronGroup {
  declare readonly name: string; declare readonly paused: boolean; declare readonly timezone?: string;
  declare readonly pausedAt?: number; declare readonly resumedAt?: number; readonly entries: CronEntry[];
  readonly #client: any;
  constructor(client: any, data: CronGroupData) {
    this.#client = client;
    const { entries, ...rest } = data;
    Object.assign(this, rest);
    this.entries = (entries ?? []).map((e) => new CronEntry(client, data.name, e));
  }
  pause(): Promise<CronGroup> { return this.#client.updateCronGroup(this.name, { paused: true }); }
  resume(): Promise<CronGroup> { return this.#client.updateCronGroup(this.name, { paused: false }); }
  delete(): Promise<void> { return this.#client.deleteCronGroup(this.name); }
}

// ---- option types (CLIENT-API.md §3.3.8) ---------------------------------------------
export type RangeFilter = number | { min?: number; max?: number };
export interface BudgetBindingInput { key: string; cost?: number; createWith?: unknown }
export interface EnqueueOptions {
  type: string; queue: string; payload: unknown; priority?: number; readyAt?: number; retryLimit?: number;
  backoff?: BackoffConfig; retention?: RetentionConfig; uniqueKey?: string; uniqueWhile?: UniqueScope;
  batch?: BatchConfig; budgets?: BudgetBindingInput[];
}
export interface ZizqOptions {
  type?: string; queue?: string; priority?: number; retryLimit?: number; backoff?: BackoffConfig; retention?: RetentionConfig;
  uniqueKey?: string | ((fn: JobFunction, payload: unknown) => string); uniqueWhile?: UniqueScope;
  transform?: (opts: EnqueueOptions, payload: unknown) => EnqueueOptions | void;
}
export type JobFunction = ((payload: unknown, job: Job) => Promise<void> | void) & { zizqOptions?: ZizqOptions };
export interface EnqueueInput {
  type: JobFunction | string; payload: unknown; queue?: string; priority?: number; readyAt?: number; retryLimit?: number;
  backoff?: BackoffConfig; retention?: RetentionConfig; uniqueKey?: string | ((input: EnqueueInput) => string);
  uniqueWhile?: UniqueScope; batch?: { key: string | ((input: EnqueueInput) => string); when: string; fold: string };
  budgets?: BudgetBindingInput[];
}
export interface FailureOptions { message: string; errorType?: string; backtrace?: string; retryAt?: number; kill?: boolean }
export interface UpdateJobOptions {
  queue?: string; priority?: number; readyAt?: number | null; retryLimit?: number | null;
  backoff?: BackoffConfig | null; retention?: RetentionConfig | null;
}
export interface TakeOptions { prefetch?: number; queues?: string[]; signal?: AbortSignal }
export interface JobFilter {
  id?: string | string[]; status?: JobStatus | JobStatus[]; queue?: string | string[]; type?: string | string[];
  budgetsKey?: string | string[]; filter?: string; priority?: RangeFilter; readyAt?: RangeFilter; attempts?: RangeFilter;
}
export interface ListJobsOptions extends JobFilter { from?: string; order?: SortDirection; limit?: number }
export interface ListErrorsOptions { from?: number; order?: SortDirection; limit?: number }
export interface DeleteAllJobsOptions { where?: JobFilter }
export interface UpdateAllJobsOptions { where?: JobFilter; apply: UpdateJobOptions }
export interface CronEntryInput { name: string; expression: string; timezone?: string; paused?: boolean; job: EnqueueOptions }
export interface ReplaceCronGroupOptions { paused?: boolean; timezone?: string; entries: CronEntryInput[] }

/** §7.3 enqueue resolution: function types, zizqOptions defaults, key functions, transform. */
export function resolveEnqueue(input: EnqueueInput): EnqueueOptions {
  const fn = typeof input.type === "function" ? input.type : undefined;
  const defaults: ZizqOptions = fn?.zizqOptions ?? {};
  const type = fn ? (defaults.type ?? fn.name) : (input.type as string);
  if (!type) throw new Error("Job function must have a name or zizqOptions.type");
  const queue = input.queue ?? defaults.queue;
  if (!queue) throw new Error(`No queue specified for job type "${type}"`);
  const opts: EnqueueOptions = { type, queue, payload: input.payload };
  const priority = input.priority ?? defaults.priority;
  if (priority !== undefined) opts.priority = priority;
  const retryLimit = input.retryLimit ?? defaults.retryLimit;
  if (retryLimit !== undefined) opts.retryLimit = retryLimit;
  const backoff = input.backoff ?? defaults.backoff;
  if (backoff !== undefined) opts.backoff = backoff;
  if (input.readyAt !== undefined) opts.readyAt = input.readyAt;
  if (input.retention !== undefined) opts.retention = input.retention;
  let key: string | undefined;
  if (input.uniqueKey !== undefined) key = typeof input.uniqueKey === "function" ? input.uniqueKey(input) : input.uniqueKey;
  else if (fn && defaults.uniqueKey !== undefined) key = typeof defaults.uniqueKey === "function" ? defaults.uniqueKey(fn, input.payload) : defaults.uniqueKey;
  if (key !== undefined) {
    opts.uniqueKey = key;
    const scope = input.uniqueWhile ?? defaults.uniqueWhile;
    if (scope !== undefined) opts.uniqueWhile = scope;
  }
  if (input.batch) {
    const b = input.batch;
    opts.batch = { key: typeof b.key === "function" ? b.key(input) : b.key, when: b.when, fold: b.fold };
  }
  if (defaults.transform) return defaults.transform(opts, input.payload) ?? opts;
  return opts;
}
