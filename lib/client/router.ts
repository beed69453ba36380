// Job dispatch by type (CLIENT-API.md §7.2): a Router maps job types to handlers, with an
// optional fallback; `buildHandler` registers job functions under their type names.

import { UnknownJobTypeError } from "./errors.ts";
import { typeNameOf } from "./resolve.ts";
import type { Job } from "./resources.ts";
import type { JobFunction, JobHandler, RouteHandler } from "./types.ts";

export class Router {
  readonly #routes = new Map<string, RouteHandler>();
  #fallback: JobHandler | undefined;

  /** Registers or replaces the handler for `type`. */
  route(type: string, handler: RouteHandler): this {
    this.#routes.set(type, handler);
    return this;
  }

  /** Receives the whole Job of every type without a route. */
  fallback(handler: JobHandler): this {
    this.#fallback = handler;
    return this;
  }

  /** A handler over the routes as they are now; later changes to the router do not affect it. */
  build(): JobHandler {
    const routes = new Map(this.#routes);
    const fallback = this.#fallback;
    return async (job: Job) => {
      const route = routes.get(job.type);
      if (route) return route(job.payload, job);
      if (fallback) return fallback(job);
      throw new UnknownJobTypeError(job.type);
    };
  }
}

export function buildHandler(jobs: JobFunction[]): JobHandler {
  const router = new Router();
  const seen = new Set<string>();
  for (const fn of jobs) {
    const type = typeNameOf(fn);
    if (seen.has(type)) throw new Error(`Duplicate job type registered: "${type}"`);
    seen.add(type);
    router.route(type, fn);
  }
  return router.build();
}
