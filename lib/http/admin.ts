// The admin listener's app (API.md §5): POST /backup and POST /compact, plus the queue
// pause controls `zizq top` uses (an extension: GET /queues with pause states, POST
// /queues/{queue}/pause|resume; JSON, errors as `{"error"}`). No content negotiation and no
// JSON fallback: unknown paths get an empty 404, as in the reference.
// GET /events (the WebSocket behind `zizq top`) is an upgrade, served by events.ts.
// Deliberate 4xx (h3's 400 for an undecodable path like `/%`) are JSON errors; a path
// with an empty segment (`/backup/`) is an unknown path.
// Extensions (docs/api.md): GET /metrics, GET /stats, the dashboard at / and /assets/*,
// and the primary API mounted under /api/ for it (docs/decisions.md: one origin).

import { H3, type H3Event } from "h3";
import { pathParam } from "./_path-param.ts";
import type { Queue } from "../queue/queue.ts";
import { RING_SECONDS } from "../queue/stats.ts";
import { readRawBody } from "./_io.ts";
import { headOf } from "./_head.ts";
import { rawPath, routedPath } from "./_path-guard.ts";
import { UNSAFE_METHODS, crossSiteReason } from "./_same-origin.ts";
import { dashboardAssets } from "./dashboard-assets.ts";
import { isDeliberate, toErrorWebResponse } from "./errors.ts";
import type { createMetrics } from "./metrics.ts";
import { type ServerFacts, statsBody } from "./stats.ts";

export interface AdminOptions {
  logError?: (err: unknown) => void;
  /** The primary API's app: mounted under /api/ for the dashboard when given. */
  primary?: { fetch(request: Request): Response | Promise<Response> };
  /** Server facts for /stats. @default started now, commit mode "buffered" */
  facts?: ServerFacts;
}

/** Bodies the dashboard sends through /api are small; the primary caps the rest. */
const MAX_PROXY_BODY = 1024 * 1024;

/**
 * The dashboard's Content-Security-Policy: scripts and styles only from this origin's
 * hashed files (no inline script, no eval), data only from this origin (fetch and the
 * /events WebSocket), never framed.
 */
const CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
  "font-src 'self'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
].join("; ");

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", "cache-control": "no-store" } });

export function createAdminApp(queue: Queue, options: AdminOptions = {}): H3 {
  const logError = options.logError ?? ((err) => console.error(err));
  const facts = options.facts ?? { startedAt: Date.now(), commitMode: "buffered" };
  // Metrics and backup load their packages (prom-client, tar) on first use: an
  // idle server that is never scraped or backed up does not hold them (docs/benchmarks.md).
  let metrics: Promise<ReturnType<typeof createMetrics>> | undefined;
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
    if (routedPath(rawPath(event)) === undefined) return new Response(null, { status: 404 });
  });
  // Refuse cross-site browser requests that act (§ _same-origin.ts) before any route.
  app.use((event) => {
    if (!UNSAFE_METHODS.has(event.req.method)) return;
    const reason = crossSiteReason((name) => event.req.headers.get(name));
    if (reason) return json(403, { error: reason });
  });
  app.post("/backup", async () => {
    try {
      return await (await import("./backup.ts")).backupResponse(queue, logError);
    } catch (err) {
      logError(err);
      return new Response("backup failed", { status: 500, headers: { "content-type": "text/plain" } });
    }
  });
  app.post("/compact", async () => {
    try {
      await queue.compact();
    } catch (err) {
      // A full disk is a 507 `storage is full: …` as on the primary API (it was an empty 500).
      return toErrorWebResponse(err, "json", logError);
    }
    return new Response(null, { status: 204 });
  });
  app.get("/metrics", async () => {
    const registry = await (metrics ??= import("./metrics.ts").then((m) => m.createMetrics(queue)));
    return new Response(await registry.metrics(), { headers: { "content-type": registry.contentType, "cache-control": "no-store" } });
  });
  app.get("/stats", (event) => {
    const raw = event.url.searchParams.get("seconds");
    const seconds = raw === null ? RING_SECONDS : Number(raw);
    if (!Number.isInteger(seconds) || seconds < 1 || seconds > RING_SECONDS) {
      return json(400, { error: `seconds must be an integer between 1 and ${RING_SECONDS}` });
    }
    return json(200, statsBody(queue, facts, seconds));
  });
  app.get("/", async () => page(await dashboardAssets(), "index.html"));
  app.get("/assets/:name", async (event) => page(await dashboardAssets(), event.context.params?.name ?? ""));
  if (options.primary) {
    const primary = options.primary;
    app.all("/api/**", async (event) => {
      const url = new URL(event.req.url);
      const path = url.pathname.slice("/api".length) || "/";
      // The dashboard never takes jobs; a take stream through a proxy would only hold
      // jobs hostage to a browser tab.
      if (path === "/jobs/take") return json(404, { error: "take streams are served by the primary listener only" });
      // The primary app's capped reader: a chunked body is refused as it arrives, not
      // after all of it is buffered.
      const hasBody = !["GET", "HEAD"].includes(event.req.method);
      const body = hasBody ? await readRawBody(event, MAX_PROXY_BODY) : undefined;
      const headers = new Headers();
      for (const name of ["accept", "content-type"]) {
        const v = event.req.headers.get(name);
        if (v) headers.set(name, v);
      }
      const response = await primary.fetch(new Request(`http://primary${path}${url.search}`, { method: event.req.method, headers, body: body as unknown as BodyInit | undefined }));
      response.headers.set("cache-control", "no-store");
      return response;
    });
  }
  const controls = (run: (event: H3Event) => unknown) => async (event: H3Event) => {
    try {
      return json(200, await run(event));
    } catch (err) {
      return toErrorWebResponse(err, "json", logError);
    }
  };
  const name = (event: H3Event) => pathParam(event, "queue");
  app.get("/queues", controls(() => ({ queues: queue.queueStates() })));
  app.post("/queues/:queue/pause", controls((event) => queue.setPaused(name(event), true)));
  app.post("/queues/:queue/resume", controls((event) => queue.setPaused(name(event), false)));
  app.on("HEAD", "/**", (event) => headOf(app, event));
  app.all("/**", () => new Response(null, { status: 404 }));
  return app;
}

function page(assets: Map<string, { body: Buffer; type: string; immutable: boolean; etag: string }>, name: string): Response {
  const asset = assets.get(name);
  if (!asset || (name !== "index.html" && !asset.immutable)) return new Response(null, { status: 404 });
  return new Response(asset.body as unknown as BodyInit, {
    headers: {
      "content-type": asset.type,
      "cache-control": asset.immutable ? "public, max-age=31536000, immutable" : "no-cache",
      etag: asset.etag,
      "content-security-policy": CSP,
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      "x-frame-options": "DENY",
    },
  });
}
