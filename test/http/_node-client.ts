// An emulation of the official Node client @zizq-labs/zizq 0.6 (API.md §7), which is not
// on the registry here: every RPC on one h2c session (prior knowledge) with
// `accept: application/json`, bodies as JSON with their content-type, no body → END_STREAM
// on the HEADERS (as undici sends it), responses decoded by Content-Type, non-2xx
// mapped to NotFoundError / ClientError / ServerError with the body's `error` as message.
// Query strings are built with URLSearchParams, as the client does (`%2C`, `+`).

import assert from "node:assert/strict";
import type http2 from "node:http2";
import { decode } from "@msgpack/msgpack";
import { openTake, type TakeStream } from "./_client.ts";
import { type H2Response, h2Connect, h2Request } from "./_transport.ts";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export class ZizqError extends Error {
  constructor(readonly status: number, message: string, readonly body: unknown) {
    super(message);
  }
}
export class NotFoundError extends ZizqError {}
export class ClientError extends ZizqError {}
export class ServerError extends ZizqError {}

export interface Call {
  status: number;
  body: Json | undefined;
  raw: H2Response;
}

/** Enqueue options the way the client's callers spell them (camelCase, all optional). */
export interface EnqueueOptions {
  type: string;
  queue: string;
  payload: unknown;
  priority?: number;
  readyAt?: number;
  retryLimit?: number;
  backoff?: { exponent: number; baseMs: number; jitterMs: number };
  retention?: { completedMs?: number; deadMs?: number };
  uniqueKey?: string;
  uniqueWhile?: "queued" | "active" | "exists";
  batch?: { key: string; when: string; fold: string };
}

export interface Where {
  id?: string[];
  status?: string[];
  queue?: string[];
  type?: string[];
  filter?: string;
  priority?: string;
  readyAt?: string;
  attempts?: string;
}

/** Drops undefined members, as the client's request builders do (nothing sent as null). */
function defined(obj: Json): Json {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined));
}

/** §3.4 body: unset keys omitted; `unique_while` only sent together with a key. */
export function enqueueBody(o: EnqueueOptions): Json {
  return defined({
    type: o.type,
    queue: o.queue,
    payload: o.payload,
    priority: o.priority,
    ready_at: o.readyAt,
    retry_limit: o.retryLimit,
    backoff: o.backoff && { exponent: o.backoff.exponent, base_ms: o.backoff.baseMs, jitter_ms: o.backoff.jitterMs },
    retention: o.retention && defined({ completed_ms: o.retention.completedMs, dead_ms: o.retention.deadMs }),
    unique_key: o.uniqueKey,
    unique_while: o.uniqueKey !== undefined ? o.uniqueWhile : undefined,
    batch: o.batch,
  });
}

/** Filter query (§7 "Query details"): comma lists, nothing for an empty list. */
export function whereParams(where: Where = {}, params = new URLSearchParams()): URLSearchParams {
  for (const key of ["id", "status", "queue", "type"] as const) {
    const list = where[key];
    if (list && list.length > 0) params.set(key, list.join(","));
  }
  if (where.filter !== undefined) params.set("filter", where.filter);
  if (where.priority !== undefined) params.set("priority", where.priority);
  if (where.readyAt !== undefined) params.set("ready_at", where.readyAt);
  if (where.attempts !== undefined) params.set("attempts", where.attempts);
  return params;
}

/**
 * `client.take({queues, prefetch})`: `GET /jobs/take?prefetch=N&queue=a%2Cb` on its own
 * HTTP/1.1 socket, resolved on the response headers (before any job), NDJSON chosen from
 * the response Content-Type; empty lines are counted as heartbeats and skipped.
 */
export async function clientTake(base: string, queues: string[], prefetch: number): Promise<TakeStream> {
  const query = new URLSearchParams({ prefetch: String(prefetch), queue: queues.join(",") }).toString();
  assert.match(query, /^prefetch=\d+&queue=[^,]*$/, "the client sends the queue list with %2C");
  const t = await openTake(base, query, { accept: "application/x-ndjson" });
  assert.equal(t.status, 200);
  assert.equal(t.headers["content-type"], "application/x-ndjson");
  return t;
}

const withQuery = (path: string, params: URLSearchParams) => (params.size > 0 ? `${path}?${params}` : path);

export class NodeClient {
  /** Requests sent, to check they all went over the one session. */
  calls = 0;
  private constructor(readonly session: http2.ClientHttp2Session) {}

  static async connect(base: string): Promise<NodeClient> {
    return new NodeClient(await h2Connect(base));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.session.close(() => resolve()));
  }

  async request(method: string, path: string, body?: unknown): Promise<Call> {
    const headers: Record<string, string> = { accept: "application/json" };
    let data: string | undefined;
    if (body !== undefined) {
      headers["content-type"] = "application/json";
      data = JSON.stringify(body);
    }
    this.calls++;
    const raw = await h2Request(this.session, method, path, headers, data, { endStream: data === undefined });
    // The client decodes every non-204 body by Content-Type; JSON.parse on a text/plain
    // body throws a SyntaxError, which is what a user of the real client would see.
    let parsed: Json | undefined;
    if (raw.status !== 204) {
      parsed = String(raw.headers["content-type"] ?? "").includes("msgpack")
        ? (decode(raw.body) as Json)
        : (JSON.parse(raw.body.toString("utf8")) as Json);
    }
    if (raw.status >= 400) {
      const message = typeof parsed?.error === "string" ? parsed.error : `HTTP ${raw.status}`;
      const Class = raw.status === 404 ? NotFoundError : raw.status >= 500 ? ServerError : ClientError;
      throw new Class(raw.status, message, parsed);
    }
    return { status: raw.status, body: parsed, raw };
  }

  // ---- the §7 call table ----------------------------------------------------------------

  health = async () => (await this.request("GET", "/health")).body!;
  serverVersion = async () => (await this.request("GET", "/version")).body!.version as string;
  enqueue = (o: EnqueueOptions) => this.request("POST", "/jobs", enqueueBody(o));
  enqueueBulk = async (jobs: EnqueueOptions[]) => (await this.request("POST", "/jobs/bulk", { jobs: jobs.map(enqueueBody) })).body!.jobs as Json[];
  reportSuccess = (id: string) => this.request("POST", `/jobs/${encodeURIComponent(id)}/success`);

  /** Worker acks: 204, or 422 `{not_found}` for ids already gone; both are success. */
  async reportSuccessBulk(ids: string[]): Promise<Call> {
    try {
      return await this.request("POST", "/jobs/success", { ids });
    } catch (err) {
      if (err instanceof ClientError && err.status === 422) return { status: 422, body: err.body as Json, raw: undefined as never };
      throw err;
    }
  }

  reportFailure = async (id: string, f: { message: string; errorType?: string; backtrace?: string; retryAt?: number; kill?: boolean }) =>
    (await this.request("POST", `/jobs/${encodeURIComponent(id)}/failure`,
      defined({ message: f.message, error_type: f.errorType, backtrace: f.backtrace, retry_at: f.retryAt, kill: f.kill }))).body!;

  getJob = async (id: string) => (await this.request("GET", `/jobs/${encodeURIComponent(id)}`)).body!;
  deleteJob = (id: string) => this.request("DELETE", `/jobs/${encodeURIComponent(id)}`);
  deleteAllJobs = async (where?: Where) => (await this.request("DELETE", withQuery("/jobs", whereParams(where)))).body!.deleted as number;
  countJobs = async (where?: Where) => (await this.request("GET", withQuery("/jobs/count", whereParams(where)))).body!.count as number;
  updateJob = async (id: string, patch: Json) => (await this.request("PATCH", `/jobs/${encodeURIComponent(id)}`, patch)).body!;
  updateAllJobs = async (where: Where, patch: Json) => (await this.request("PATCH", withQuery("/jobs", whereParams(where)), patch)).body!.patched as number;
  queues = async () => (await this.request("GET", "/queues")).body!.queues as string[];
  getError = async (id: string, attempt: number | string) => (await this.request("GET", `/jobs/${encodeURIComponent(id)}/errors/${attempt}`)).body!;

  /** One page of `GET /jobs`; `first()` is `limit=1`, `last()` is `order=desc&limit=1`. */
  listJobs = async (where: Where = {}, page: { order?: "asc" | "desc"; limit?: number } = {}) => {
    const params = new URLSearchParams();
    if (page.order) params.set("order", page.order);
    if (page.limit !== undefined) params.set("limit", String(page.limit));
    return (await this.request("GET", withQuery("/jobs", whereParams(where, params)))).body!;
  };
  first = async (where: Where = {}) => (await this.listJobs(where, { limit: 1 })).jobs[0] as Json | undefined;
  last = async (where: Where = {}) => (await this.listJobs(where, { order: "desc", limit: 1 })).jobs[0] as Json | undefined;

  /** `jobs()` iteration: pages of `limit=2000`, following `pages.next` verbatim until null. */
  async *iterateJobs(where: Where = {}): AsyncGenerator<Json> {
    let page = await this.listJobs(where, { limit: 2000 });
    for (;;) {
      yield page;
      if (page.pages.next === null) return;
      page = (await this.request("GET", page.pages.next as string)).body!;
    }
  }

  /** `job.errors()` iteration, following `pages.next` verbatim. */
  async *iterateErrors(id: string, limit: number): AsyncGenerator<Json> {
    let path: string | null = `/jobs/${encodeURIComponent(id)}/errors?limit=${limit}`;
    while (path !== null) {
      const page: Json = (await this.request("GET", path)).body!;
      yield page;
      path = page.pages.next as string | null;
    }
  }
}
