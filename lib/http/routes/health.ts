// GET /health, GET /version, GET /queues (API.md §3.1–3.3).

import type { H3 } from "h3";
import type { Queue } from "../../queue/queue.ts";
import { ENGINE_VERSION } from "../../queue/version.ts";
import { reply } from "../_io.ts";

export const SERVER_VERSION = ENGINE_VERSION;

export function healthRoutes(app: H3, queue: Queue): void {
  app.get("/health", (event) => reply(event, 200, { status: "ok" }));
  app.get("/version", (event) => reply(event, 200, { version: SERVER_VERSION }));
  app.get("/queues", (event) => reply(event, 200, { queues: queue.queues() }));
}
