// The embedded queue: the official Client's methods (CLIENT-API.md §3), same names, inputs,
// return shapes and error classes, answered by lib/queue in-process instead of over HTTP.
// Bodies go through the queue's own parsers, so validation and semantics are the server's;
// a queue error becomes the error class its HTTP status would give a Client (§8.2).

import type { Queue } from "../queue/queue.ts";
import type { Store } from "../storage/store.ts";
import { QueueError, type ErrorListRequest, type JobWithPayload, type ListRequest } from "../queue/types.ts";
import { BodyShapeError } from "../queue/validate.ts";
import type { Client } from "../client/client.ts";
import { CronHandle } from "../client/cron-handle.ts";
import { ConnectionError, buildResponseError } from "../client/errors.ts";
import { JobQuery } from "../client/query.ts";
import { resolveEnqueue } from "../client/resolve.ts";
import { CronEntry, CronGroup, ErrorPage, ErrorRecord, Job, JobPage } from "../client/resources.ts";
import type {
  Budget, BudgetBindingInput, BudgetChange, CronEntryInput, DefineBudgetOptions, DeleteAllJobsOptions, EnqueueInput, EnqueueOptions, FailureOptions, HealthResponse, JobFilter,
  JobQueryOptions, ListErrorsOptions, ListJobsOptions, ReplaceCronGroupOptions, TakeOptions, UpdateAllJobsOptions,
  UpdateBudgetOptions, UpdateJobOptions,
} from "../client/types.ts";
import { type BudgetMutation, mutationFromBody } from "../queue/budget-jobs.ts";
import {
  bindingOut as bindingBody, budgetPatchOut as budgetPatchBody, budgetPolicyOut as budgetPolicyBody, toBudget,
  cronEntryOut as cronEntryBody, enqueueOut as enqueueBody, errorIn as toErrorData, failureOut as failureBody,
  asJson, toCronEntryData, toCronGroupData, toJobData, updateOut as updateBody,
} from "./_convert.ts";
import {
  FILTER_KEYS, checkKeys, errorsLink, jobsLink, matchesNothing, readErrorsPath, readJobsPath, toErrorListRequest, toListRequest,
  toQueueFilter, toTakeRequest,
} from "./_filter.ts";
import { type OpenTake, openTake } from "./_take.ts";
import { ENGINE_VERSION } from "../queue/version.ts";
import { parseAttempt } from "../queue/query.ts";

/** The status each queue error code answers with over HTTP (lib/http/errors.ts). */
const STATUS: Record<string, number> = { not_found: 404, invalid_argument: 400, unprocessable: 422, conflict: 409, full: 507, unavailable: 503 };

/** The version `GET /version` reports (lib/http/routes/health.ts); one engine, one version. */
export { ENGINE_VERSION };

/**
 * Queue errors as the Client would see them; anything else is a bug and stays as it is.
 * A body's shape error reads as the server words it for a JSON body (lib/http/_io.ts
 * withBody): the embedded queue answers as a Client with its default format.
 */
function translate(err: unknown): unknown {
  if (err instanceof QueueError && STATUS[err.code] !== undefined) {
    const message = err instanceof BodyShapeError ? `invalid JSON: ${err.message}` : err.message;
    return buildResponseError(STATUS[err.code], { error: message, ...err.body });
  }
  return err;
}

export class EmbeddedQueue {
  /** `embedded:<absolute dir>`: what a Worker logs where a Client would log its URL. */
  readonly url: string;
  readonly #queue: Queue;
  readonly #store: Store;
  readonly #takes = new Set<OpenTake>();
  /**
   * This queue, typed as the Client the resource classes delegate to. They call only
   * methods this class has with the Client's signatures; the cast is for the Client's
   * protected transport members, which a class of another name can never match.
   */
  readonly #client: Client = this as unknown as Client;
  #closed: Promise<void> | undefined;

  /** Use `open()`. */
  constructor(queue: Queue, store: Store) {
    this.#queue = queue;
    this.#store = store;
    this.url = `embedded:${store.dir}`;
  }

  /** Every public call runs through here: closed check and error translation. */
  async #run<T>(work: () => T | Promise<T>): Promise<T> {
    // `clientClosed`: closed is for good here, unlike a server that is down; a Worker on
    // this queue stops instead of retrying its acks for ever (lib/client/worker.ts).
    if (this.#closed) throw new ConnectionError(`the embedded queue at ${this.#store.dir} is closed`, { clientClosed: true });
    try {
      return await work();
    } catch (err) {
      // A call that close() overtook failed in the store ("store is closed", a raw
      // StorageError): the caller gets what a Client gets from a server going away.
      if (this.#closed) throw new ConnectionError(`the embedded queue at ${this.#store.dir} was closed during the call`, { clientClosed: true });
      throw translate(err);
    }
  }

  #job = (j: JobWithPayload): Job => new Job(this.#client, toJobData(j.job, j.payloadJson));

  // ---- enqueue and acknowledgements (§3.3.1) ----------------------------------------

  async enqueue(input: EnqueueInput): Promise<Job> {
    return this.enqueueRaw(resolveEnqueue(input));
  }

  async enqueueBulk(inputs: EnqueueInput[]): Promise<Job[]> {
    return this.enqueueBulkRaw(inputs.map(resolveEnqueue));
  }

  enqueueRaw(options: EnqueueOptions): Promise<Job> {
    return this.#run(async () => {
      const r = await this.#queue.enqueue(enqueueBody(options));
      return new Job(this.#client, toJobData(r.job, undefined, r));
    });
  }

  enqueueBulkRaw(jobs: EnqueueOptions[]): Promise<Job[]> {
    return this.#run(async () => {
      const results = await this.#queue.enqueueBulk({ jobs: jobs.map(enqueueBody) });
      return results.map((r) => new Job(this.#client, toJobData(r.job, undefined, r)));
    });
  }

  reportSuccess(id: string): Promise<void> {
    return this.#run(() => this.#queue.complete(String(id)));
  }

  /** Ids not in flight are ignored, as the Client treats the server's 422. */
  reportSuccessBulk(ids: string[]): Promise<void> {
    return this.#run(async () => {
      await this.#queue.completeMany(asJson({ ids }));
    });
  }

  reportFailure(id: string, options: FailureOptions): Promise<Job> {
    return this.#run(async () => new Job(this.#client, toJobData(await this.#queue.fail(String(id), failureBody(options)))));
  }

  // ---- single jobs (§3.3.2) ------------------------------------------------------------
  // Ids go through String() as the Client's `/jobs/${id}` does: getJob(undefined) is the
  // 404 it is over HTTP, not a TypeError from inside the queue.

  getJob(id: string): Promise<Job> {
    return this.#run(() => this.#job(this.#queue.get(String(id))));
  }

  deleteJob(id: string): Promise<void> {
    return this.#run(() => this.#queue.deleteOne(String(id)));
  }

  updateJob(id: string, options: UpdateJobOptions): Promise<Job> {
    return this.#run(async () => new Job(this.#client, toJobData(await this.#queue.patchOne(String(id), updateBody(options)))));
  }

  // ---- bulk over a filter (§3.3.3) -----------------------------------------------------

  countJobs(where: JobFilter = {}): Promise<number> {
    return this.#run(() => {
      checkKeys("countJobs", where, FILTER_KEYS);
      return matchesNothing(where) ? 0 : this.#queue.count(toQueueFilter(where));
    });
  }

  deleteAllJobs(options: DeleteAllJobsOptions = {}): Promise<number> {
    return this.#run(() => {
      checkKeys("deleteAllJobs", options, ["where"]);
      checkKeys("deleteAllJobs.where", options.where ?? {}, FILTER_KEYS);
      return matchesNothing(options.where ?? {}) ? 0 : this.#queue.deleteMany(toQueueFilter(options.where));
    });
  }

  updateAllJobs(options: UpdateAllJobsOptions): Promise<number> {
    return this.#run(() => {
      checkKeys("updateAllJobs", options, ["where", "apply"]);
      checkKeys("updateAllJobs.where", options.where ?? {}, FILTER_KEYS);
      return matchesNothing(options.where ?? {}) ? 0 : this.#queue.patchMany(toQueueFilter(options.where), updateBody(options.apply));
    });
  }

  reset(): Promise<void> {
    return this.#run(() => this.#queue.reset());
  }

  eraseAllData(): Promise<void> {
    return this.reset();
  }

  // ---- listing and metadata (§3.3.4) -----------------------------------------------------

  listJobs(options: ListJobsOptions = {}): Promise<JobPage> {
    return this.#run(() => (matchesNothing(options) ? new JobPage(this.#client, [], {}) : this.#list(toListRequest(options))));
  }

  /** Any `/jobs?…` path the server would list, the links of our pages included. */
  listJobsByPath(path: string): Promise<JobPage> {
    return this.#run(() => this.#list(readJobsPath(path)));
  }

  /** A page and its links, as the server's GET /jobs (lib/queue/query.ts pagesFor). */
  async #list(req: ListRequest): Promise<JobPage> {
    const { jobs, hasMore } = await this.#queue.list(req);
    const page = jobs.map(this.#job);
    const first = page[0]?.id;
    const last = page[page.length - 1]?.id;
    return new JobPage(this.#client, page, {
      next: hasMore && last !== undefined ? jobsLink(req, last, req.order) : null,
      prev: req.from !== undefined && first !== undefined ? jobsLink(req, first, req.order === "asc" ? "desc" : "asc") : null,
    });
  }

  listErrors(id: string, options: ListErrorsOptions = {}): Promise<ErrorPage> {
    return this.#run(() => this.#errors(String(id), toErrorListRequest(options)));
  }

  listErrorsByPath(path: string): Promise<ErrorPage> {
    return this.#run(() => {
      const { jobId, req } = readErrorsPath(path);
      return this.#errors(jobId, req);
    });
  }

  #errors(id: string, req: ErrorListRequest): ErrorPage {
    const { errors, hasMore } = this.#queue.errors(id, req);
    const first = errors[0]?.attempt;
    const last = errors[errors.length - 1]?.attempt;
    return new ErrorPage(this.#client, errors.map((e) => new ErrorRecord(toErrorData(e))), {
      next: hasMore && last !== undefined ? errorsLink(id, req, last, req.order) : null,
      prev: req.from !== undefined && first !== undefined ? errorsLink(id, req, first, req.order === "asc" ? "desc" : "asc") : null,
    });
  }

  getError(id: string, attempt: number): Promise<ErrorRecord> {
    return this.#run(() => new ErrorRecord(toErrorData(this.#queue.error(String(id), parseAttempt(String(attempt))))));
  }

  queues(): Promise<string[]> {
    return this.#run(() => this.#queue.queues());
  }

  health(): Promise<HealthResponse> {
    return this.#run(() => ({ status: "ok" }));
  }

  serverVersion(): Promise<string> {
    return this.#run(() => ENGINE_VERSION);
  }

  /** A lazy query over this queue (§5.2); nothing runs until it is iterated. */
  jobs(options?: JobQueryOptions): JobQuery {
    return new JobQuery(this.#client, options);
  }

  // ---- budgets: per-job bindings (§3.3.6) ----------------------------------------------
  // Bodies are the ones the Client sends, through the parsers the server's routes use.
  // Methods that build a body before #run are `async`, as the Client's: a bad argument
  // (a BigInt cost, a missing binding) rejects the promise instead of throwing at the call.

  async bindJobBudget(id: string, binding: BudgetBindingInput): Promise<Job> {
    return this.#budgetJob(id, () => mutationFromBody("add", bindingBody(binding), binding.key));
  }

  async rebindJobBudget(id: string, binding: BudgetBindingInput): Promise<Job> {
    return this.#budgetJob(id, () => mutationFromBody("put", bindingBody(binding), binding.key));
  }

  async setJobBudgetCost(id: string, key: string, cost: number): Promise<Job> {
    return this.#budgetJob(id, () => mutationFromBody("cost", asJson({ cost }), key));
  }

  unbindJobBudget(id: string, key: string): Promise<Job> {
    return this.#budgetJob(id, () => ({ op: "unbind", key }));
  }

  unbindAllJobBudgets(id: string): Promise<Job> {
    return this.#budgetJob(id, () => ({ op: "clear" }));
  }

  async replaceJobBudgets(id: string, bindings: BudgetBindingInput[]): Promise<Job> {
    const budgets = bindings.map((b) => ({ key: b.key, ...bindingBody(b) }));
    return this.#budgetJob(id, () => mutationFromBody("replace", { budgets }));
  }

  async bindAllJobsBudget(binding: BudgetBindingInput, where: JobFilter = {}): Promise<BudgetChange> {
    return this.#budgetChange(where, () => mutationFromBody("add", bindingBody(binding), binding.key));
  }

  async rebindAllJobsBudget(binding: BudgetBindingInput, where: JobFilter = {}): Promise<BudgetChange> {
    return this.#budgetChange(where, () => mutationFromBody("put", bindingBody(binding), binding.key));
  }

  async setAllJobsBudgetCost(key: string, cost: number, where: JobFilter = {}): Promise<BudgetChange> {
    return this.#budgetChange(where, () => mutationFromBody("cost", asJson({ cost }), key));
  }

  unbindAllJobsBudget(key: string, where: JobFilter = {}): Promise<BudgetChange> {
    return this.#budgetChange(where, () => ({ op: "unbind", key }));
  }

  clearAllJobsBudgets(where: JobFilter = {}): Promise<BudgetChange> {
    return this.#budgetChange(where, () => ({ op: "clear" }));
  }

  // ---- budgets: definitions (§3.3.7) ---------------------------------------------------

  listBudgets(): Promise<Budget[]> {
    return this.#run(() => this.#queue.budgets.list().map(toBudget));
  }

  getBudget(key: string): Promise<Budget> {
    return this.#run(() => toBudget(this.#queue.budgets.get(key)));
  }

  async defineBudget(options: DefineBudgetOptions): Promise<Budget> {
    const book = this.#queue.budgets;
    const body = budgetPolicyBody(options);
    return this.#run(async () => toBudget(await (options.replace ? book.replace(options.key, body) : book.create(options.key, body))));
  }

  updateBudget(key: string, options: UpdateBudgetOptions): Promise<Budget> {
    return this.#run(async () => toBudget(await this.#queue.budgets.patch(key, budgetPatchBody(options))));
  }

  deleteBudget(key: string): Promise<void> {
    return this.#run(() => this.#queue.budgets.remove(key));
  }

  /** The mutation is parsed inside #run, so a bad binding rejects with the Client's error class. */
  #budgetJob(id: string, mutation: () => BudgetMutation): Promise<Job> {
    return this.#run(async () => new Job(this.#client, toJobData(await this.#queue.mutateJobBudgets(String(id), mutation()))));
  }

  /** As the Client: a filter that matches nothing answers without a call; keys are not checked. */
  #budgetChange(where: JobFilter, mutation: () => BudgetMutation): Promise<BudgetChange> {
    return this.#run(async () => {
      if (matchesNothing(where)) return { changed: 0, blocked: [] };
      const filter = toQueueFilter(where);
      const { changed, blocked } = await this.#queue.mutateJobsBudgets(filter, mutation());
      return { changed, blocked };
    });
  }

  // ---- take (§3.3.9) -------------------------------------------------------------------

  /** Resolves at once (there are no headers to wait for); iterate with `for await`. */
  take(options: TakeOptions = {}): Promise<AsyncGenerator<Job>> {
    return this.#run(() => {
      // An aborted signal fails the request before the server sees its query.
      options.signal?.throwIfAborted();
      const { prefetch, queues } = toTakeRequest(options);
      return openTake(this.#queue, { prefetch, queues, signal: options.signal }, this.#job, this.#takes);
    });
  }

  // ---- crons (§3.3.5) --------------------------------------------------------------------

  listCronGroups(): Promise<string[]> {
    return this.#run(() => this.#queue.crons.names());
  }

  getCronGroup(name: string): Promise<CronGroup> {
    return this.#run(() => this.#group(this.#queue.crons.getGroup(name)));
  }

  /** The body the Client sends (its `timezone` is the 0.7 group timezone). */
  async replaceCronGroup(name: string, options: ReplaceCronGroupOptions): Promise<CronGroup> {
    const body: Record<string, unknown> = { entries: options.entries.map(cronEntryBody) };
    if (options.paused !== undefined) body.paused = options.paused;
    if (options.timezone !== undefined) body.timezone = options.timezone;
    return this.#run(async () => this.#group(await this.#queue.crons.putGroup(name, asJson(body))));
  }

  updateCronGroup(name: string, options: { paused: boolean }): Promise<CronGroup> {
    return this.#run(async () => this.#group(await this.#queue.crons.patchGroup(name, asJson({ paused: options.paused }))));
  }

  deleteCronGroup(name: string): Promise<void> {
    return this.#run(() => this.#queue.crons.deleteGroup(name));
  }

  deleteAllCrons(): Promise<number> {
    return this.#run(() => this.#queue.crons.deleteAll());
  }

  getCronEntry(group: string, entry: string): Promise<CronEntry> {
    return this.#run(() => new CronEntry(this.#client, group, toCronEntryData(this.#queue.crons.getEntry(group, entry))));
  }

  addCronEntry(group: string, entry: CronEntryInput): Promise<CronEntry> {
    return this.#run(async () =>
      new CronEntry(this.#client, group, toCronEntryData(await this.#queue.crons.putEntry(group, undefined, cronEntryBody(entry)))));
  }

  async replaceCronEntry(group: string, entryName: string, entry: Omit<CronEntryInput, "name">): Promise<CronEntry> {
    const body = cronEntryBody({ ...entry, name: entryName });
    return this.#run(async () => new CronEntry(this.#client, group, toCronEntryData(await this.#queue.crons.putEntry(group, entryName, body))));
  }

  updateCronEntry(group: string, entry: string, options: { paused: boolean }): Promise<CronEntry> {
    return this.#run(async () =>
      new CronEntry(this.#client, group, toCronEntryData(await this.#queue.crons.patchEntry(group, entry, asJson({ paused: options.paused })))));
  }

  deleteCronEntry(group: string, entry: string): Promise<void> {
    return this.#run(() => this.#queue.crons.deleteEntry(group, entry));
  }

  /** A cron group handle (§7.4); each method makes its own call. */
  cron(name: string): CronHandle {
    return new CronHandle(this.#client, name);
  }

  #group(g: Parameters<typeof toCronGroupData>[0]): CronGroup {
    return new CronGroup(this.#client, toCronGroupData(g));
  }

  // ---- lifecycle (§3.3.10) -----------------------------------------------------------------

  /**
   * Ends every take generator (as a server ending its streams would; their unacked jobs
   * go back to ready), stops the timers, flushes the commit batch and releases the dir
   * lock. Later calls reject with ConnectionError. Idempotent.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      for (const take of [...this.#takes]) take.end();
      this.#queue.stop();
      await this.#store.close();
    })();
    return this.#closed;
  }

  /** Same as close(): nothing in-process can be aborted halfway. */
  destroy(): Promise<void> {
    return this.close();
  }
}
