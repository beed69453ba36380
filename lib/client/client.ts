// `Client`: every method of the official Node client (CLIENT-API.md §2, §3), 55 in all.
// RPCs go over one undici Pool that speaks HTTP/2 (h2c with prior knowledge on http://,
// ALPN on https://); `take` gets its own HTTP/1.1 Pool, so a long stream never competes
// with acks for a session. The mapping of fields is in _wire.ts; response handling in
// _transport.ts.

import { type Dispatcher, Pool } from "undici";
import { H2cDispatcher } from "./_h2c-dispatcher.ts";
import { MEDIA_TYPES } from "./_media.ts";
import { checkClientOptions } from "./_options.ts";
import { closingOnReturn, readFrames } from "./_take-stream.ts";
import { Transport, tolerantDecode } from "./_transport.ts";
import {
  FILTER_KEYS, type Wire, bindingOut, budgetIn, budgetPatchOut, budgetPolicyOut, checkKeys, cronEntryOut, cronEntryIn,
  cronGroupIn, defined, enqueueOut, errorIn, failureOut, filterParams, jobIn, matchesNothing, pageParams, takeParams, updateOut, withQuery,
} from "./_wire.ts";
import { CronHandle } from "./cron-handle.ts";
import { buildResponseError } from "./errors.ts";
import { JobQuery } from "./query.ts";
import { resolveEnqueue } from "./resolve.ts";
import { CronEntry, CronGroup, ErrorPage, ErrorRecord, Job, JobPage } from "./resources.ts";
import type {
  Budget, BudgetBindingInput, BudgetChange, ClientOptions, CronEntryInput, DefineBudgetOptions, DeleteAllJobsOptions,
  EnqueueInput, EnqueueOptions, FailureOptions, Format, HealthResponse, JobFilter, JobQueryOptions, ListErrorsOptions,
  ListJobsOptions, ReplaceCronGroupOptions, TakeOptions, UpdateAllJobsOptions, UpdateBudgetOptions, UpdateJobOptions,
} from "./types.ts";

const seg = encodeURIComponent;
const NO_CHANGE: () => BudgetChange = () => ({ changed: 0, blocked: [] });

export class Client {
  readonly url: string;
  /** RPC dispatcher (HTTP/2). */
  protected http: Dispatcher;
  /** take dispatcher (HTTP/1.1). */
  protected streamHttp: Dispatcher;
  readonly #format: Format;
  readonly #rpc: Transport;

  constructor(options: ClientOptions) {
    checkClientOptions(options);
    this.url = options.url.replace(/\/+$/, "");
    this.#format = options.format ?? "json";
    const { http, streamHttp } = this.buildDispatchers(options);
    this.http = http;
    this.streamHttp = streamHttp;
    this.#rpc = new Transport(this.url, this.#format, http);
  }

  protected buildDispatchers(options: ClientOptions): { http: Dispatcher; streamHttp: Dispatcher } {
    if (options.dispatcher) return { http: options.dispatcher, streamHttp: options.dispatcher };
    const readTimeout = options.readTimeout ?? 30_000;
    const streams = options.maxConcurrentStreams ?? 1024;
    const connect = { timeout: options.connectTimeout ?? 10_000, ...defined({ ...options.tls }) };
    const url = options.url.replace(/\/+$/, "");
    // http:// → h2c on one node:http2 session (see _h2c-dispatcher.ts for why not undici's).
    // https:// → undici with ALPN (h2, else HTTP/1.1), as the official client. Two undici 7
    // details, checked in test/client/transport.test.ts: a Pool opens one connection per
    // request that arrives while the first connects (`connections: 1` keeps one session),
    // and an h2 client runs only `pipelining` requests at once (default 1).
    const http = url.startsWith("http://")
      ? new H2cDispatcher(url, {
        connectTimeout: connect.timeout, headersTimeout: readTimeout, bodyTimeout: readTimeout, maxConcurrentStreams: streams,
      })
      : new Pool(url, {
        allowH2: true, connections: 1, pipelining: streams, maxConcurrentStreams: streams,
        connect, headersTimeout: readTimeout, bodyTimeout: readTimeout,
      });
    return {
      http,
      streamHttp: new Pool(url, {
        allowH2: false, connect, headersTimeout: readTimeout, bodyTimeout: options.streamIdleTimeout ?? 30_000,
      }),
    };
  }

  // ---- enqueue and acknowledgements -------------------------------------------------------

  async enqueue(input: EnqueueInput): Promise<Job> {
    return this.enqueueRaw(resolveEnqueue(input));
  }

  async enqueueBulk(inputs: EnqueueInput[]): Promise<Job[]> {
    return this.enqueueBulkRaw(inputs.map(resolveEnqueue));
  }

  async enqueueRaw(options: EnqueueOptions): Promise<Job> {
    return this.#job(await this.#rpc.call("POST", "/jobs", enqueueOut(options)));
  }

  async enqueueBulkRaw(jobs: EnqueueOptions[]): Promise<Job[]> {
    const res = await this.#rpc.call("POST", "/jobs/bulk", { jobs: jobs.map(enqueueOut) });
    return (res.jobs as Wire[]).map((w) => this.#job(w));
  }

  async reportSuccess(id: string): Promise<void> {
    return this.#rpc.exact("POST", `/jobs/${seg(id)}/success`);
  }

  /** 204, or 422 (some ids were no longer in flight), both count as success. */
  async reportSuccessBulk(ids: string[]): Promise<void> {
    return this.#rpc.exact("POST", "/jobs/success", { ids }, [204, 422]);
  }

  async reportFailure(id: string, options: FailureOptions): Promise<Job> {
    return this.#job(await this.#rpc.call("POST", `/jobs/${seg(id)}/failure`, failureOut(options)));
  }

  // ---- single jobs ------------------------------------------------------------------------

  async getJob(id: string): Promise<Job> {
    return this.#job(await this.#rpc.call("GET", `/jobs/${seg(id)}`));
  }

  async deleteJob(id: string): Promise<void> {
    return this.#rpc.exact("DELETE", `/jobs/${seg(id)}`);
  }

  async updateJob(id: string, options: UpdateJobOptions): Promise<Job> {
    return this.#job(await this.#rpc.call("PATCH", `/jobs/${seg(id)}`, updateOut(options)));
  }

  // ---- bulk over a filter -----------------------------------------------------------------

  async countJobs(where: JobFilter = {}): Promise<number> {
    checkKeys("countJobs", where, FILTER_KEYS);
    if (matchesNothing(where)) return 0;
    return (await this.#rpc.call("GET", withQuery("/jobs/count", filterParams(where)))).count;
  }

  async deleteAllJobs(options: DeleteAllJobsOptions = {}): Promise<number> {
    checkKeys("deleteAllJobs", options, ["where"]);
    const where = options.where ?? {};
    checkKeys("deleteAllJobs.where", where, FILTER_KEYS);
    if (matchesNothing(where)) return 0;
    return (await this.#rpc.call("DELETE", withQuery("/jobs", filterParams(where)))).deleted;
  }

  async updateAllJobs(options: UpdateAllJobsOptions): Promise<number> {
    checkKeys("updateAllJobs", options, ["where", "apply"]);
    const where = options.where ?? {};
    checkKeys("updateAllJobs.where", where, FILTER_KEYS);
    if (matchesNothing(where)) return 0;
    return (await this.#rpc.call("PATCH", withQuery("/jobs", filterParams(where)), updateOut(options.apply))).patched;
  }

  async reset(): Promise<void> {
    return this.#rpc.exact("POST", "/reset");
  }

  async eraseAllData(): Promise<void> {
    return this.reset();
  }

  // ---- listing and server metadata --------------------------------------------------------

  async listJobs(options: ListJobsOptions = {}): Promise<JobPage> {
    if (matchesNothing(options)) return new JobPage(this, [], {});
    return this.listJobsByPath(withQuery("/jobs", filterParams(options, pageParams(options))));
  }

  async listJobsByPath(path: string): Promise<JobPage> {
    const res = await this.#rpc.call("GET", path);
    return new JobPage(this, (res.jobs as Wire[]).map((w) => this.#job(w)), res.pages ?? {});
  }

  jobs(options?: JobQueryOptions): JobQuery {
    return new JobQuery(this, options);
  }

  async listErrors(id: string, options: ListErrorsOptions = {}): Promise<ErrorPage> {
    return this.listErrorsByPath(withQuery(`/jobs/${seg(id)}/errors`, pageParams(options)));
  }

  async listErrorsByPath(path: string): Promise<ErrorPage> {
    const res = await this.#rpc.call("GET", path);
    return new ErrorPage(this, (res.errors as Wire[]).map((w) => new ErrorRecord(errorIn(w))), res.pages ?? {});
  }

  async getError(id: string, attempt: number): Promise<ErrorRecord> {
    return new ErrorRecord(errorIn(await this.#rpc.call("GET", `/jobs/${seg(id)}/errors/${seg(String(attempt))}`)));
  }

  async queues(): Promise<string[]> {
    return (await this.#rpc.call("GET", "/queues")).queues;
  }

  async health(): Promise<HealthResponse> {
    return this.#rpc.call("GET", "/health");
  }

  async serverVersion(): Promise<string> {
    return (await this.#rpc.call("GET", "/version")).version;
  }

  // ---- crons ------------------------------------------------------------------------------

  async listCronGroups(): Promise<string[]> {
    return (await this.#rpc.call("GET", "/crons")).crons;
  }

  async getCronGroup(name: string): Promise<CronGroup> {
    return this.#group(await this.#rpc.call("GET", `/crons/${seg(name)}`));
  }

  async replaceCronGroup(name: string, options: ReplaceCronGroupOptions): Promise<CronGroup> {
    const body = defined({ paused: options.paused, timezone: options.timezone, entries: options.entries.map(cronEntryOut) });
    return this.#group(await this.#rpc.call("PUT", `/crons/${seg(name)}`, body));
  }

  async updateCronGroup(name: string, options: { paused: boolean }): Promise<CronGroup> {
    return this.#group(await this.#rpc.call("PATCH", `/crons/${seg(name)}`, { paused: options.paused }));
  }

  async deleteCronGroup(name: string): Promise<void> {
    return this.#rpc.exact("DELETE", `/crons/${seg(name)}`);
  }

  async deleteAllCrons(): Promise<number> {
    return (await this.#rpc.call("DELETE", "/crons")).deleted;
  }

  async getCronEntry(group: string, entry: string): Promise<CronEntry> {
    return this.#entry(group, await this.#rpc.call("GET", `/crons/${seg(group)}/entries/${seg(entry)}`));
  }

  async addCronEntry(group: string, entry: CronEntryInput): Promise<CronEntry> {
    return this.#entry(group, await this.#rpc.call("POST", `/crons/${seg(group)}/entries`, cronEntryOut(entry)));
  }

  async replaceCronEntry(group: string, entryName: string, entry: Omit<CronEntryInput, "name">): Promise<CronEntry> {
    const body = cronEntryOut({ ...entry, name: entryName });
    return this.#entry(group, await this.#rpc.call("PUT", `/crons/${seg(group)}/entries/${seg(entryName)}`, body));
  }

  async updateCronEntry(group: string, entry: string, options: { paused: boolean }): Promise<CronEntry> {
    const path = `/crons/${seg(group)}/entries/${seg(entry)}`;
    return this.#entry(group, await this.#rpc.call("PATCH", path, { paused: options.paused }));
  }

  async deleteCronEntry(group: string, entry: string): Promise<void> {
    return this.#rpc.exact("DELETE", `/crons/${seg(group)}/entries/${seg(entry)}`);
  }

  cron(name: string): CronHandle {
    return new CronHandle(this, name);
  }

  // ---- budgets: per-job bindings ----------------------------------------------------------

  async bindJobBudget(id: string, binding: BudgetBindingInput): Promise<Job> {
    return this.#job(await this.#rpc.call("POST", `/jobs/${seg(id)}/budgets/${seg(binding.key)}`, bindingOut(binding)));
  }

  async rebindJobBudget(id: string, binding: BudgetBindingInput): Promise<Job> {
    return this.#job(await this.#rpc.call("PUT", `/jobs/${seg(id)}/budgets/${seg(binding.key)}`, bindingOut(binding)));
  }

  async setJobBudgetCost(id: string, key: string, cost: number): Promise<Job> {
    return this.#job(await this.#rpc.call("PATCH", `/jobs/${seg(id)}/budgets/${seg(key)}`, { cost }));
  }

  async unbindJobBudget(id: string, key: string): Promise<Job> {
    return this.#job(await this.#rpc.call("DELETE", `/jobs/${seg(id)}/budgets/${seg(key)}`));
  }

  async unbindAllJobBudgets(id: string): Promise<Job> {
    return this.#job(await this.#rpc.call("DELETE", `/jobs/${seg(id)}/budgets`));
  }

  async replaceJobBudgets(id: string, bindings: BudgetBindingInput[]): Promise<Job> {
    const budgets = bindings.map((b) => ({ key: b.key, ...bindingOut(b) }));
    return this.#job(await this.#rpc.call("PUT", `/jobs/${seg(id)}/budgets`, { budgets }));
  }

  async bindAllJobsBudget(binding: BudgetBindingInput, where: JobFilter = {}): Promise<BudgetChange> {
    return this.#budgetChange("POST", `/jobs/budgets/${seg(binding.key)}`, where, bindingOut(binding));
  }

  async rebindAllJobsBudget(binding: BudgetBindingInput, where: JobFilter = {}): Promise<BudgetChange> {
    return this.#budgetChange("PUT", `/jobs/budgets/${seg(binding.key)}`, where, bindingOut(binding));
  }

  async setAllJobsBudgetCost(key: string, cost: number, where: JobFilter = {}): Promise<BudgetChange> {
    return this.#budgetChange("PATCH", `/jobs/budgets/${seg(key)}`, where, { cost });
  }

  async unbindAllJobsBudget(key: string, where: JobFilter = {}): Promise<BudgetChange> {
    return this.#budgetChange("DELETE", `/jobs/budgets/${seg(key)}`, where);
  }

  async clearAllJobsBudgets(where: JobFilter = {}): Promise<BudgetChange> {
    return this.#budgetChange("DELETE", "/jobs/budgets", where);
  }

  // ---- budgets: definitions ---------------------------------------------------------------

  async listBudgets(): Promise<Budget[]> {
    return ((await this.#rpc.call("GET", "/budgets")).budgets ?? []).map(budgetIn);
  }

  async getBudget(key: string): Promise<Budget> {
    return budgetIn(await this.#rpc.call("GET", `/budgets/${seg(key)}`));
  }

  async defineBudget(options: DefineBudgetOptions): Promise<Budget> {
    const method = options.replace ? "PUT" : "POST";
    return budgetIn(await this.#rpc.call(method, `/budgets/${seg(options.key)}`, budgetPolicyOut(options)));
  }

  async updateBudget(key: string, options: UpdateBudgetOptions): Promise<Budget> {
    return budgetIn(await this.#rpc.call("PATCH", `/budgets/${seg(key)}`, budgetPatchOut(options)));
  }

  async deleteBudget(key: string): Promise<void> {
    await this.#rpc.call("DELETE", `/budgets/${seg(key)}`);
  }

  // ---- streaming --------------------------------------------------------------------------

  /**
   * `GET /jobs/take` on the HTTP/1.1 pool; resolves when the response headers arrive.
   * Request errors are not wrapped (as in the official client). Await it before `for await`.
   */
  async take(options: TakeOptions = {}): Promise<AsyncGenerator<Job>> {
    const res = await this.streamHttp.request({
      origin: this.url, path: withQuery("/jobs/take", takeParams(options)), method: "GET",
      headers: { accept: MEDIA_TYPES[this.#format].stream }, signal: options.signal,
    });
    if (res.statusCode < 200 || res.statusCode > 299) {
      const bytes = Buffer.from(await res.body.arrayBuffer());
      throw buildResponseError(res.statusCode, tolerantDecode(res.headers["content-type"], bytes));
    }
    const frames = readFrames(res.body, res.headers["content-type"]);
    const client = this;
    const jobs = (async function* jobs() {
      for await (const w of frames) yield client.#job(w);
    })();
    return closingOnReturn(jobs, () => res.body.destroy());
  }

  // ---- lifecycle --------------------------------------------------------------------------

  async close(): Promise<void> {
    await Promise.all(this.http === this.streamHttp ? [this.http.close()] : [this.http.close(), this.streamHttp.close()]);
  }

  async destroy(): Promise<void> {
    await Promise.all(this.http === this.streamHttp ? [this.http.destroy()] : [this.http.destroy(), this.streamHttp.destroy()]);
  }

  // ---- helpers ----------------------------------------------------------------------------

  #job(w: Wire): Job {
    return new Job(this, jobIn(w));
  }

  #group(w: Wire): CronGroup {
    return new CronGroup(this, cronGroupIn(w));
  }

  #entry(group: string, w: Wire): CronEntry {
    return new CronEntry(this, group, cronEntryIn(w));
  }

  async #budgetChange(method: "POST" | "PUT" | "PATCH" | "DELETE", path: string, where: JobFilter, body?: Wire): Promise<BudgetChange> {
    if (matchesNothing(where)) return NO_CHANGE();
    const res = await this.#rpc.call(method, withQuery(path, filterParams(where)), body);
    return { changed: res?.changed ?? 0, blocked: res?.blocked ?? [] };
  }
}
