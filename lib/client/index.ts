// Public entry of the Zizq client (`zizq/client`): every name the official Node client
// (@zizq-labs/zizq 0.7) exports, so code moves over by changing the import. A barrel is
// allowed here, and only here, because this is a package entry, not an internal module.
// Superset: ConflictError and the budget/range types, which the official one leaves out.

export { Client } from "./client.ts";
export { CronEntryHandle, CronHandle } from "./cron-handle.ts";
export {
  ClientError, ConflictError, ConnectionError, NotFoundError, NotSupportedError, ResponseError, ServerError,
  UnknownJobTypeError, ZizqError,
} from "./errors.ts";
export { batchConfig, payloadHasher, uniqueKey } from "./keys.ts";
export { ErrorQuery, JobQuery, Lazy } from "./query.ts";
export { enqueue, enqueueBulk } from "./resolve.ts";
export { CronEntry, CronGroup, ErrorPage, ErrorRecord, Job, JobPage } from "./resources.ts";
export { Router, buildHandler } from "./router.ts";
export { TestClient, type TestDispatchOptions, type TestJobFilters } from "./test-client.ts";
export { Worker, type WorkerOptions } from "./worker.ts";
export type {
  BackoffConfig, BatchConfig, BatchConfigOptions, Budget, BudgetBinding, BudgetBindingInput, BudgetChange, BudgetPolicy,
  BudgetStrategy, BudgetStrategyPatch, BudgetStrategyType, ClientOptions, CronEntryData, CronEntryDefinition,
  CronEntryInput, CronGroupData, DefineBudgetOptions, DeleteAllJobsOptions, EnqueueInput, EnqueueOptions,
  EnqueueTransform, ErrorQueryOptions, ErrorRecordData, FailureOptions, Format, HealthResponse, JobData, JobFilter,
  JobFunction, JobHandler, JobQueryOptions, JobStatus, ListErrorsOptions, ListJobsOptions, Logger, PayloadHasherOptions,
  RangeBounds, RangeFilter, RegisterCronOptions, ReplaceCronGroupOptions, RequestRetryOptions, RetentionConfig,
  RouteHandler, SortDirection, TakeOptions, TlsOptions, UniqueScope, UpdateAllJobsOptions, UpdateBudgetOptions,
  UpdateJobOptions, ZizqOptions,
} from "./types.ts";
