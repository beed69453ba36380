// Public option and data types of the client (CLIENT-API.md §1.2, §3.3.8, §4, §6, §7).
// Names and shapes mirror the official client exactly so user code type-checks unchanged.
// Every timestamp is a number of ms since the epoch; the client never uses Date.

import type { Dispatcher } from "undici";
import type { Job } from "./resources.ts";

export type Format = "json" | "msgpack";
export type JobStatus = "ready" | "in_flight" | "scheduled" | "completed" | "dead";
export type SortDirection = "asc" | "desc";
export type UniqueScope = "queued" | "active" | "exists";

export interface TlsOptions {
  /** PEM CA that verifies the server. */
  ca?: string | Buffer;
  /** PEM client certificate (mTLS, with `key`). */
  cert?: string | Buffer;
  key?: string | Buffer;
}

export interface ClientOptions {
  /** Server origin, e.g. `http://localhost:7890`; trailing `/` are stripped. */
  url: string;
  /** @default "json" */
  format?: Format;
  tls?: TlsOptions;
  /** TCP/TLS connect deadline. @default 10000 */
  connectTimeout?: number;
  /** Headers and body-inactivity deadline of RPC calls. @default 30000 */
  readTimeout?: number;
  /** Longest silence on the take stream (heartbeats reset it). @default 30000 */
  streamIdleTimeout?: number;
  /** HTTP/2 streams requested on the RPC session. @default 1024 */
  maxConcurrentStreams?: number;
  /** @internal Replaces both pools (tests). */
  dispatcher?: Dispatcher;
}

export interface BackoffConfig { baseMs: number; exponent: number; jitterMs: number }
export interface RetentionConfig { completedMs?: number | null; deadMs?: number | null }
export interface BatchConfig { key: string; when: string; fold: string }

export type RangeBounds = { min?: number; max?: number };
export type RangeFilter = number | RangeBounds;

// ---- budgets (0.7 endpoints) ---------------------------------------------------------------
export type BudgetStrategyType = "time_based" | "while_in_flight";
export type BudgetStrategy = { type: "time_based"; durationMs: number; burst?: number } | { type: "while_in_flight" };
export interface BudgetPolicy { allocation: number; strategy: BudgetStrategy }
export type Budget = BudgetPolicy & { key: string; createdAt?: number; updatedAt?: number };
export type DefineBudgetOptions = BudgetPolicy & { key: string; replace?: boolean };
export interface BudgetStrategyPatch { type?: BudgetStrategyType; durationMs?: number; burst?: number | null }
export interface UpdateBudgetOptions { allocation?: number; strategy?: BudgetStrategyPatch }
export interface BudgetBindingInput { key: string; cost?: number; createWith?: BudgetPolicy }
export interface BudgetBinding { key: string; cost: number }
export interface BudgetChange { changed: number; blocked: string[] }
export interface HealthResponse { status: string }

// ---- jobs -------------------------------------------------------------------------------------
export interface EnqueueOptions {
  type: string;
  queue: string;
  payload: unknown;
  priority?: number;
  readyAt?: number;
  retryLimit?: number;
  backoff?: BackoffConfig;
  retention?: RetentionConfig;
  uniqueKey?: string;
  uniqueWhile?: UniqueScope;
  batch?: BatchConfig;
  budgets?: BudgetBindingInput[];
}

export interface EnqueueInput {
  type: JobFunction | string;
  payload: unknown;
  queue?: string;
  priority?: number;
  readyAt?: number;
  retryLimit?: number;
  backoff?: BackoffConfig;
  retention?: RetentionConfig;
  uniqueKey?: string | ((input: EnqueueInput) => string);
  uniqueWhile?: UniqueScope;
  batch?: { key: string | ((input: EnqueueInput) => string); when: string; fold: string };
  budgets?: BudgetBindingInput[];
}

export interface FailureOptions {
  message: string;
  errorType?: string;
  backtrace?: string;
  /** ms since the epoch. */
  retryAt?: number;
  kill?: boolean;
}

export interface UpdateJobOptions {
  queue?: string;
  priority?: number;
  readyAt?: number | null;
  retryLimit?: number | null;
  backoff?: BackoffConfig | null;
  retention?: RetentionConfig | null;
}

export interface TakeOptions { prefetch?: number; queues?: string[]; signal?: AbortSignal }

export interface JobFilter {
  id?: string | string[];
  status?: JobStatus | JobStatus[];
  queue?: string | string[];
  type?: string | string[];
  budgetsKey?: string | string[];
  /** jq expression over the payload. */
  filter?: string;
  priority?: RangeFilter;
  readyAt?: RangeFilter;
  attempts?: RangeFilter;
}

export interface ListJobsOptions extends JobFilter { from?: string; order?: SortDirection; limit?: number }
export interface ListErrorsOptions { from?: number; order?: SortDirection; limit?: number }
export interface DeleteAllJobsOptions { where?: JobFilter }
export interface UpdateAllJobsOptions { where?: JobFilter; apply: UpdateJobOptions }

export interface JobData {
  id: string;
  type: string;
  queue: string;
  priority: number;
  status: JobStatus;
  payload?: unknown;
  readyAt: number;
  attempts: number;
  retryLimit?: number;
  backoff?: BackoffConfig;
  dequeuedAt?: number;
  failedAt?: number;
  completedAt?: number;
  retention?: RetentionConfig;
  purgeAt?: number;
  uniqueKey?: string;
  uniqueWhile?: UniqueScope;
  duplicate?: boolean;
  folded?: boolean;
  batch?: BatchConfig;
  budgets: BudgetBinding[];
}

export interface ErrorRecordData {
  attempt: number;
  message: string;
  errorType?: string;
  backtrace?: string;
  dequeuedAt: number;
  failedAt: number;
}

// ---- crons ------------------------------------------------------------------------------------
export interface CronEntryInput { name: string; expression: string; timezone?: string; paused?: boolean; job: EnqueueOptions }
export interface ReplaceCronGroupOptions { paused?: boolean; timezone?: string; entries: CronEntryInput[] }

export interface CronEntryData {
  name: string;
  expression: string;
  timezone?: string;
  paused: boolean;
  pausedAt?: number;
  resumedAt?: number;
  job: EnqueueOptions;
  nextEnqueueAt?: number;
  lastEnqueueAt?: number;
}

export interface CronGroupData {
  name: string;
  paused: boolean;
  timezone?: string;
  pausedAt?: number;
  resumedAt?: number;
  entries: CronEntryData[];
}

export interface CronEntryDefinition {
  name: string;
  expression: string;
  timezone?: string;
  paused?: boolean;
  type: JobFunction | string;
  payload: unknown;
  queue?: string;
  priority?: number;
  retryLimit?: number;
  backoff?: BackoffConfig;
  retention?: RetentionConfig;
  uniqueKey?: string;
  uniqueWhile?: UniqueScope;
}

export interface RegisterCronOptions { timezone?: string; paused?: boolean; entries: CronEntryDefinition[] }

// ---- handlers ---------------------------------------------------------------------------------
export type JobHandler = (job: Job) => Promise<void> | void;
export type RouteHandler = (payload: any, job: Job) => Promise<void> | void; // eslint-disable-line @typescript-eslint/no-explicit-any
export type EnqueueTransform = (opts: EnqueueOptions, payload: unknown) => EnqueueOptions | void;

export interface ZizqOptions {
  /** Overrides `fn.name` as the job type. */
  type?: string;
  queue?: string;
  priority?: number;
  retryLimit?: number;
  backoff?: BackoffConfig;
  retention?: RetentionConfig;
  uniqueKey?: string | ((fn: JobFunction, payload: unknown) => string);
  uniqueWhile?: UniqueScope;
  transform?: EnqueueTransform;
}

export interface JobFunction {
  (payload: any, job: Job): Promise<void> | void; // eslint-disable-line @typescript-eslint/no-explicit-any
  zizqOptions?: ZizqOptions;
}

export interface Logger {
  info(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

export interface RequestRetryOptions {
  /** @default 500 */
  initialDelay?: number;
  /** @default 30000 */
  maxDelay?: number;
  /** @default 2 */
  multiplier?: number;
}

export interface JobQueryOptions {
  id?: string | string[];
  queue?: string | string[];
  type?: string | string[];
  status?: JobStatus | JobStatus[];
  budgetsKey?: string | string[];
  jqFilter?: string;
  priority?: RangeFilter;
  readyAt?: RangeFilter;
  attempts?: RangeFilter;
  order?: SortDirection;
  /** Cap on the total number of jobs across pages. */
  limit?: number;
  pageSize?: number;
}

export interface ErrorQueryOptions { order?: SortDirection; limit?: number; pageSize?: number }
export interface PayloadHasherOptions { only?: string | string[]; except?: string | string[]; prefix?: boolean }
export interface BatchConfigOptions { dedup?: boolean; sorted?: boolean }
