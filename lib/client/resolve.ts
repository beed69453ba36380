// Enqueue resolution (CLIENT-API.md §7.3): an EnqueueInput (a type string or a job
// function with `zizqOptions`, key functions) becomes the EnqueueOptions that go on the
// wire. Failures are plain Errors thrown before any request. Also the two deprecated
// free functions `enqueue` and `enqueueBulk`.

import type { Client } from "./client.ts";
import type { Job } from "./resources.ts";
import type { EnqueueInput, EnqueueOptions, JobFunction, ZizqOptions } from "./types.ts";

/** `fn.zizqOptions?.type ?? fn.name`, or throws the official error. */
export function typeNameOf(fn: JobFunction): string {
  const name = fn.zizqOptions?.type ?? fn.name;
  if (!name) throw new Error("Job function must have a name or zizqOptions.type");
  return name;
}

export function resolveEnqueue(input: EnqueueInput): EnqueueOptions {
  const fn = typeof input.type === "function" ? input.type : undefined;
  const defaults: ZizqOptions = fn?.zizqOptions ?? {};
  const type = fn ? typeNameOf(fn) : (input.type as string);
  const queue = input.queue ?? defaults.queue;
  if (!queue) throw new Error(`No queue specified for job type "${type}"`);

  let uniqueKey: string | undefined;
  if (input.uniqueKey !== undefined) {
    uniqueKey = typeof input.uniqueKey === "function" ? input.uniqueKey(input) : input.uniqueKey;
  } else if (fn && defaults.uniqueKey !== undefined) {
    uniqueKey = typeof defaults.uniqueKey === "function" ? defaults.uniqueKey(fn, input.payload) : defaults.uniqueKey;
  }
  const opts: EnqueueOptions = { type, queue, payload: input.payload };
  const priority = input.priority ?? defaults.priority;
  const retryLimit = input.retryLimit ?? defaults.retryLimit;
  const backoff = input.backoff ?? defaults.backoff;
  if (priority !== undefined) opts.priority = priority;
  if (input.readyAt !== undefined) opts.readyAt = input.readyAt;
  if (retryLimit !== undefined) opts.retryLimit = retryLimit;
  if (backoff !== undefined) opts.backoff = backoff;
  if (input.retention !== undefined) opts.retention = input.retention; // zizqOptions.retention ignored (quirk 5)
  if (uniqueKey !== undefined) {
    opts.uniqueKey = uniqueKey;
    const scope = input.uniqueWhile ?? defaults.uniqueWhile;
    if (scope !== undefined) opts.uniqueWhile = scope;
  }
  if (input.batch) {
    const { key, when, fold } = input.batch;
    opts.batch = { key: typeof key === "function" ? key(input) : key, when, fold };
  }
  // input.budgets is not copied (quirk 5): only raw enqueues and transforms carry budgets.
  if (defaults.transform) return defaults.transform(opts, input.payload) ?? opts;
  return opts;
}

/** @deprecated Use `client.enqueue(input)`. */
export function enqueue(client: Client, input: EnqueueInput): Promise<Job> {
  return client.enqueue(input);
}

/** @deprecated Use `client.enqueueBulk(inputs)`. */
export function enqueueBulk(client: Client, inputs: EnqueueInput[]): Promise<Job[]> {
  return client.enqueueBulk(inputs);
}
