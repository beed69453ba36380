// createApp(queue, options): the primary API as an h3 app. Routes translate requests
// into queue calls; every error goes through one mapping (errors.ts), encoded in the
// format the client accepts. Known paths answer other methods with 405 + Allow;
// unknown paths get a JSON 404.

import { H3 } from "h3";
import type { Queue } from "../queue/queue.ts";
import { errorFormat } from "./_io.ts";
import { methodNotAllowed, notFound, toErrorWebResponse } from "./errors.ts";
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
    onError: (error, event) => toErrorWebResponse(error, errorFormat(event), logError),
  });
  healthRoutes(app, queue);
  jobRoutes(app, queue, maxBodyBytes);
  manageRoutes(app, queue, maxBodyBytes);
  takeRoutes(app, queue, options.heartbeatMs ?? 3000, streams);
  cronRoutes(app, queue, maxBodyBytes, logError);
  controlRoutes(app, queue, maxBodyBytes);
  for (const [path, methods] of Object.entries(METHODS)) {
    app.all(path, () => {
      throw methodNotAllowed(methods);
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
