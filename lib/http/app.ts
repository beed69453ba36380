// createApp(queue, options): the primary API as an h3 app. Routes translate requests
// into queue calls; every error goes through one mapping (errors.ts), encoded in the
// format the client accepts. Known paths answer other methods with 405 + Allow (GET
// routes answer HEAD too); unknown paths get a JSON 404.

import { H3 } from "h3";
import { isStorageRefusal } from "../queue/errors.ts";
import type { Queue } from "../queue/queue.ts";
import type { QueueError } from "../queue/types.ts";
import { errorFormat } from "./_io.ts";
import { rawPath, routedPath } from "./_path-guard.ts";
import { ClientGoneError, HttpError, methodNotAllowed, notFound, toErrorWebResponse, unwrapH3 } from "./errors.ts";
import { UNSAFE_METHODS, crossSiteReason } from "./_same-origin.ts";
import { headOf } from "./_head.ts";
import { budgetRoutes } from "./routes/budgets.ts";
import { controlRoutes } from "./routes/controls.ts";
import { cronRoutes } from "./routes/crons.ts";
import { healthRoutes } from "./routes/health.ts";
import { jobRoutes } from "./routes/jobs.ts";
import { manageRoutes } from "./routes/manage.ts";
import { takeRoutes } from "./routes/take.ts";
import type { TakeStream } from "./stream.ts";

export interface AppOptions {
  /** Largest accepted request body. @default 16 MiB */
  maxBodyBytes?: number;
  /** Silence on a take stream before a heartbeat frame. @default 3000 */
  heartbeatMs?: number;
  /** Unexpected errors (500s) are logged here in full. */
  logError?: (err: unknown) => void;
  /** A client went away mid-request (normal: log it at debug level, not as an error). */
  logClientGone?: (err: ClientGoneError) => void;
  /**
   * The storage refused a write for want of disk space or open files (a 507 or 503): not a
   * server fault, so not a logged 500, but the operator has to hear of it. Its `cause` is
   * the storage error, with the path and errno.
   */
  logStorageRefusal?: (err: QueueError) => void;
}

export interface App {
  app: H3;
  /** End every open take stream (server shutdown). */
  closeStreams(): void;
}

const METHODS: Record<string, string[]> = {
  "/health": ["GET"],
  "/version": ["GET"],
  "/queues": ["GET"],
  "/jobs": ["GET", "POST", "DELETE", "PATCH"],
  "/jobs/bulk": ["POST"],
  "/jobs/take": ["GET"],
  "/jobs/success": ["POST"],
  "/jobs/count": ["GET"],
  "/jobs/:id": ["GET", "DELETE", "PATCH"],
  "/jobs/:id/success": ["POST"],
  "/jobs/:id/failure": ["POST"],
  "/jobs/:id/errors": ["GET"],
  "/jobs/:id/errors/:attempt": ["GET"],
  "/crons": ["GET", "DELETE"],
  "/crons/:group": ["GET", "PUT", "PATCH", "DELETE"],
  "/crons/:group/entries": ["POST"],
  "/crons/:group/entries/:entry": ["GET", "PUT", "PATCH", "DELETE"],
  "/reset": ["POST"],
  // Extensions (docs/api.md "Extensions").
  "/queues/:queue": ["GET"],
  "/queues/:queue/pause": ["POST"],
  "/queues/:queue/resume": ["POST"],
  "/jobs/retry": ["POST"],
  "/jobs/:id/retry": ["POST"],
  "/jobs/:id/heartbeat": ["POST"],
  // Budgets (Zizq 0.7).
  "/budgets": ["GET"],
  "/budgets/:key": ["GET", "POST", "PUT", "PATCH", "DELETE"],
  "/jobs/budgets": ["DELETE"],
  "/jobs/budgets/:key": ["POST", "PUT", "PATCH", "DELETE"],
  "/jobs/:id/budgets": ["PUT", "DELETE"],
  "/jobs/:id/budgets/:key": ["POST", "PUT", "PATCH", "DELETE"],
};

export function createApp(queue: Queue, options: AppOptions = {}): App {
  const maxBodyBytes = options.maxBodyBytes ?? 16 * 1024 * 1024;
  const logError = options.logError ?? ((err) => console.error(err));
  const streams = new Set<TakeStream>();
  const app = new H3({
    // Without `silent`, h3 console.error()s every error a handler throws (each 400/404
    // too) as a raw stack on stderr, bypassing the logger and breaking --log-format json.
    // Real failures still reach `logError` through toErrorWebResponse.
    silent: true,
    onError: (error, event) => {
      const original = unwrapH3(error); // h3 wraps what it did not throw itself
      if (original instanceof ClientGoneError) options.logClientGone?.(original);
      else if (isStorageRefusal(original)) options.logStorageRefusal?.(original);
      return toErrorWebResponse(error, errorFormat(event), logError);
    },
  });
  // Before any route: `/jobs/` must never reach the `/jobs` collection (issue 12 §1).
  // A page on another site must not act through a browser that can reach this listener
  // either (a bodiless cross-site POST needs no CORS preflight: /reset emptied the store).
  // API clients send no Sec-Fetch-Site or Origin and are not affected (_same-origin.ts).
  // One middleware for both checks: each one h3 runs costs on every request.
  app.use((event) => {
    if (routedPath(rawPath(event)) === undefined) throw notFound();
    if (!UNSAFE_METHODS.has(event.req.method)) return;
    const reason = crossSiteReason((name) => event.req.headers.get(name));
    if (reason) throw new HttpError(403, reason);
  });
  healthRoutes(app, queue);
  jobRoutes(app, queue, maxBodyBytes);
  manageRoutes(app, queue, maxBodyBytes);
  takeRoutes(app, queue, options.heartbeatMs ?? 3000, streams);
  cronRoutes(app, queue, maxBodyBytes, logError);
  controlRoutes(app, queue, maxBodyBytes);
  budgetRoutes(app, queue, maxBodyBytes);
  for (const [path, methods] of Object.entries(METHODS)) {
    // A GET route answers HEAD too (h3 would, but this catch-all matches HEAD first).
    const allow = methods.includes("GET") ? [...methods, "HEAD"] : methods;
    app.all(path, (event) => {
      if (event.req.method === "HEAD" && methods.includes("GET")) return headOf(app, event);
      throw methodNotAllowed(allow);
    });
  }
  app.all("/**", () => {
    throw notFound();
  });
  return {
    app,
    closeStreams: () => {
      for (const s of streams) s.close();
      streams.clear();
    },
  };
}
