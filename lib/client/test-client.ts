// `TestClient` (CLIENT-API.md §9): an in-memory Client for unit tests. Enqueues are
// buffered (with the real resolution rules) and can be drained through a handler; every
// other inherited method rejects with NotSupportedError. Never touches the network.

import { isDeepStrictEqual } from "node:util";
import type { Dispatcher } from "undici";
import { Client } from "./client.ts";
import { NotSupportedError } from "./errors.ts";
import { resolveEnqueue } from "./resolve.ts";
import { Job } from "./resources.ts";
import type { ClientOptions, EnqueueInput, EnqueueOptions, JobHandler, JobStatus } from "./types.ts";

export interface TestJobFilters {
  onlyQueues?: string | string[];
  exceptQueues?: string | string[];
  onlyTypes?: string | string[];
  exceptTypes?: string | string[];
  filter?: (job: Job) => boolean;
}

export interface TestDispatchOptions extends TestJobFilters {
  /** Keep dispatching jobs enqueued by handlers until none are left. @default false */
  recursive?: boolean;
  /** @default 1000 */
  maxIterations?: number;
}

type InternalStatus = JobStatus | "in_flight";
interface Entry { job: Job; options: EnqueueOptions; status: InternalStatus }

const OWN = new Set([
  "constructor", "enqueue", "enqueueBulk", "enqueueRaw", "enqueueBulkRaw", "close", "destroy", "clear",
  "enqueuedJobs", "enqueuedOptions", "pendingJobs", "inFlightJobs", "completedJobs", "deadJobs", "enqueued",
  "enqueuedCount", "dispatch", "buildDispatchers",
]);
const asList = (v: string | string[] | undefined) => (v === undefined ? undefined : Array.isArray(v) ? v : [v]);

export class TestClient extends Client {
  #entries: Entry[] = [];
  #counter = 0;
  /** What `new TestClient()` returned; jobs hold it, so job.complete() rejects like the official one. */
  #proxy: TestClient;

  constructor() {
    super({ url: "http://test.local" });
    // Inherited methods with no in-memory meaning reject, even the synchronous factories.
    this.#proxy = new Proxy(this, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver);
        if (typeof key !== "string" || typeof value !== "function" || OWN.has(key)) {
          return typeof value === "function" ? value.bind(target) : value;
        }
        return async () => { throw new NotSupportedError(key); };
      },
    });
    return this.#proxy;
  }

  protected override buildDispatchers(_options: ClientOptions): { http: Dispatcher; streamHttp: Dispatcher } {
    const stub = { close: async () => {}, destroy: async () => {} } as unknown as Dispatcher;
    return { http: stub, streamHttp: stub };
  }

  override async enqueue(input: EnqueueInput): Promise<Job> { return this.#record(resolveEnqueue(input)); }
  override async enqueueBulk(inputs: EnqueueInput[]): Promise<Job[]> { return inputs.map((i) => this.#record(resolveEnqueue(i))); }
  override async enqueueRaw(options: EnqueueOptions): Promise<Job> { return this.#record(options); }
  override async enqueueBulkRaw(jobs: EnqueueOptions[]): Promise<Job[]> { return jobs.map((o) => this.#record(o)); }
  override async close(): Promise<void> {}
  override async destroy(): Promise<void> {}

  clear(): void {
    this.#entries = [];
    this.#counter = 0;
  }

  enqueuedJobs(filters?: TestJobFilters): Job[] { return this.#select(filters).map((e) => e.job); }
  enqueuedOptions(filters?: TestJobFilters): EnqueueOptions[] { return this.#select(filters).map((e) => e.options); }
  pendingJobs(filters?: TestJobFilters): Job[] { return this.#select(filters, ["ready", "scheduled"]).map((e) => e.job); }
  inFlightJobs(filters?: TestJobFilters): Job[] { return this.#select(filters, ["in_flight"]).map((e) => e.job); }
  completedJobs(filters?: TestJobFilters): Job[] { return this.#select(filters, ["completed"]).map((e) => e.job); }
  deadJobs(filters?: TestJobFilters): Job[] { return this.#select(filters, ["dead"]).map((e) => e.job); }
  enqueued(type: string, payload?: unknown): boolean { return this.enqueuedCount(type, payload) > 0; }

  enqueuedCount(type: string, payload?: unknown): number {
    const want = payload === undefined ? undefined : JSON.parse(JSON.stringify(payload));
    return this.#entries.filter((e) => e.job.type === type && (payload === undefined || isDeepStrictEqual(e.job.payload, want))).length;
  }

  /** Runs runnable jobs one at a time; a throwing handler kills its job and rethrows at once. */
  async dispatch(handler: JobHandler, options: TestDispatchOptions = {}): Promise<number> {
    const max = options.maxIterations ?? 1000;
    let total = 0;
    for (let iterations = 0; ;) {
      const now = Date.now();
      const batch = this.#select(options).filter((e) => e.status === "ready" || (e.status === "scheduled" && e.job.readyAt <= now));
      if (batch.length === 0) return total;
      for (const e of batch) e.status = "in_flight";
      for (const e of batch) {
        try {
          await handler(e.job);
          e.status = "completed";
        } catch (err) {
          e.status = "dead";
          throw err;
        }
        total++;
      }
      if (!options.recursive) return total;
      if (++iterations >= max) throw new Error(`TestClient.dispatch: exceeded maxIterations (${max}); handlers keep enqueuing jobs`);
    }
  }

  #record(input: EnqueueOptions): Job {
    const options: EnqueueOptions = { ...input, payload: input.payload === undefined ? undefined : JSON.parse(JSON.stringify(input.payload)) };
    const now = Date.now();
    const readyAt = options.readyAt ?? now;
    const job = new Job(this.#proxy, {
      id: `test${String(++this.#counter).padStart(21, "0")}`,
      type: options.type, queue: options.queue, priority: options.priority ?? 32768,
      status: readyAt > now ? "scheduled" : "ready", payload: options.payload, readyAt, attempts: 0,
      retryLimit: options.retryLimit, backoff: options.backoff, retention: options.retention,
      uniqueKey: options.uniqueKey, uniqueWhile: options.uniqueWhile, batch: options.batch,
      budgets: (options.budgets ?? []).map((b) => ({ key: b.key, cost: b.cost ?? 1 })),
    });
    this.#entries.push({ job, options, status: job.status });
    return job;
  }

  #select(f: TestJobFilters = {}, statuses?: InternalStatus[]): Entry[] {
    const [oq, xq, ot, xt] = [asList(f.onlyQueues), asList(f.exceptQueues), asList(f.onlyTypes), asList(f.exceptTypes)];
    return this.#entries.filter((e) => (!statuses || statuses.includes(e.status))
      && (!oq || oq.includes(e.job.queue)) && (!xq || !xq.includes(e.job.queue))
      && (!ot || ot.includes(e.job.type)) && (!xt || !xt.includes(e.job.type))
      && (!f.filter || f.filter(e.job)));
  }
}
