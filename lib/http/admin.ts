// The admin listener's app (API.md §5): POST /backup and POST /compact, plus the queue
// pause controls `zizq top` uses (an extension: GET /queues with pause states, POST
// /queues/{queue}/pause|resume; JSON, errors as `{"error"}`). No content negotiation and no
// JSON fallback: unknown paths get an empty 404, as in the reference.
// GET /events (the WebSocket behind `zizq top`) is an upgrade, served by events.ts.
// Deliberate 4xx (h3's 400 for an undecodable path like `/%`) are JSON errors; a path
// with an empty segment (`/backup/`) is an unknown path.

import { H3, type H3Event, getRouterParam } from "h3";
import type { Queue } from "../queue/queue.ts";
import { isMalformedPath, rawPath } from "./_path-guard.ts";
import { backupResponse } from "./backup.ts";
import { isDeliberate, toErrorWebResponse } from "./errors.ts";

export interface AdminOptions {
  logError?: (err: unknown) => void;
}

export function createAdminApp(queue: Queue, options: AdminOptions = {}): H3 {
  const logError = options.logError ?? ((err) => console.error(err));
  const app = new H3({
    // We log through our own error hook; h3 printing too would double every 500.
    silent: true,
    onError: (error) => {
      if (isDeliberate(error)) return toErrorWebResponse(error, "json", logError);
      logError(error);
      return new Response(null, { status: 500 });
    },
  });
  app.use((event) => {
    if (isMalformedPath(rawPath(event))) return new Response(null, { status: 404 });
  });
  app.post("/backup", async () => {
    try {
      return await backupResponse(queue, logError);
    } catch (err) {
      logError(err);
      return new Response("backup failed", { status: 500, headers: { "content-type": "text/plain" } });
    }
  });
  app.post("/compact", async () => {
    await queue.compact();
    return new Response(null, { status: 204 });
  });
  const json = (status: number, value: unknown) => new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json" } });
  const controls = (run: (event: H3Event) => unknown) => async (event: H3Event) => {
    try {
      return json(200, await run(event));
    } catch (err) {
      return toErrorWebResponse(err, "json", logError);
    }
  };
  const name = (event: H3Event) => getRouterParam(event, "queue", { decode: true }) ?? "";
  app.get("/queues", controls(() => ({ queues: queue.queueStates() })));
  app.post("/queues/:queue/pause", controls((event) => queue.setPaused(name(event), true)));
  app.post("/queues/:queue/resume", controls((event) => queue.setPaused(name(event), false)));
  app.all("/**", () => new Response(null, { status: 404 }));
  return app;
}
