// Black-box client helpers for the HTTP tests: JSON requests over fetch, an NDJSON take
// stream over raw node:http (so a test can see heartbeats and drop the socket), and
// small job helpers. Nothing here reaches into the server.

import assert from "node:assert/strict";
import http from "node:http";
import { after, afterEach, before } from "node:test";
import { randomBytes } from "node:crypto";
import { startServer, type TestServer } from "../helpers/server.ts";
import { cleanupTmp } from "../helpers/tmp.ts";

export type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface Reply {
  status: number;
  headers: Headers;
  /** Parsed JSON body, or undefined for an empty body. */
  body: Json | undefined;
  text: string;
}

/** A random-suffixed name, so tests sharing a server never see each other's jobs. */
export const uniq = (prefix = "q"): string => `${prefix}-${randomBytes(4).toString("hex")}`;

/** One request; `body` objects are sent as JSON with a JSON content type. */
export async function req(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === "string" || body instanceof Uint8Array ? (body as BodyInit) : JSON.stringify(body);
    if (!("content-type" in headers)) (init.headers as Record<string, string>)["content-type"] = "application/json";
  }
  const res = await fetch(base + path, init);
  const text = await res.text();
  let parsed: Json | undefined;
  if (text !== "") {
    try {
      parsed = JSON.parse(text) as Json;
    } catch {
      parsed = undefined;
    }
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

/** Asserts a JSON error reply: exact status, JSON content type, exactly `{"error": message}`. */
export function assertError(r: Reply, status: number, message: string | RegExp): void {
  assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.text}`);
  assert.equal(r.headers.get("content-type"), "application/json");
  assert.ok(r.body, `JSON body expected, got ${JSON.stringify(r.text)}`);
  assert.deepEqual(Object.keys(r.body), ["error"]);
  if (typeof message === "string") assert.equal(r.body.error, message);
  else assert.match(r.body.error as string, message);
}

/** POST /jobs; asserts a 2xx and returns the job object. */
export async function enqueue(base: string, job: Json): Promise<Json> {
  const r = await req(base, "POST", "/jobs", { type: "t", payload: null, ...job });
  assert.ok(r.status === 201 || r.status === 200, `enqueue failed: ${r.status} ${r.text}`);
  return r.body!;
}

/** POST /jobs/bulk in one request; returns the job objects. */
export async function enqueueBulk(base: string, jobs: Json[]): Promise<Json[]> {
  const r = await req(base, "POST", "/jobs/bulk", { jobs: jobs.map((j) => ({ type: "t", payload: null, ...j })) });
  assert.ok(r.status === 201 || r.status === 200, `bulk enqueue failed: ${r.status} ${r.text}`);
  return r.body!.jobs as Json[];
}

export async function getJob(base: string, id: string): Promise<Json | undefined> {
  const r = await req(base, "GET", `/jobs/${id}`);
  return r.status === 200 ? r.body : undefined;
}

export async function ack(base: string, id: string): Promise<number> {
  return (await req(base, "POST", `/jobs/${id}/success`)).status;
}

export async function count(base: string, query: string): Promise<number> {
  const r = await req(base, "GET", `/jobs/count?${query}`);
  assert.equal(r.status, 200, r.text);
  return r.body!.count as number;
}

// ---- take streams --------------------------------------------------------------------

export interface TakeStream {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Every job frame received so far, in order. */
  jobs: Json[];
  /** Empty lines received so far. */
  heartbeats: number;
  /** Resolves with the job frame at index `i` (0-based) once it has arrived. */
  job(i: number, timeoutMs?: number): Promise<Json>;
  /** Resolves once `n` jobs have arrived in total. */
  waitJobs(n: number, timeoutMs?: number): Promise<Json[]>;
  /** Resolves once `n` heartbeats have arrived in total. */
  waitHeartbeats(n: number, timeoutMs?: number): Promise<void>;
  /** Destroys the socket (a client disconnect) and waits until it is closed. */
  close(): Promise<void>;
  /** Resolves when the server ends the response (or the connection drops). */
  ended: Promise<void>;
}

/**
 * GET /jobs/take over a dedicated HTTP/1.1 socket. Resolves when the response headers
 * arrive (before any job), like the Node client's take(); rejects if they take longer
 * than `headersTimeoutMs`. Frames are parsed only for NDJSON responses.
 */
export function openTake(base: string, query = "", headers: Record<string, string> = {}, headersTimeoutMs = 10_000): Promise<TakeStream> {
  const url = new URL(`/jobs/take${query ? `?${query}` : ""}`, base);
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent: false, headers: { accept: "application/x-ndjson", ...headers } });
    const timer = setTimeout(() => {
      request.destroy();
      reject(new Error(`no take-stream headers within ${headersTimeoutMs} ms`));
    }, headersTimeoutMs);
    // `on`, not `once`: a socket reset after the response (e.g. the server was killed)
    // must not become an unhandled 'error' event.
    request.on("error", reject);
    request.once("response", (res) => {
      clearTimeout(timer);
      const ndjson = res.headers["content-type"] === "application/x-ndjson";
      let buffered = "";
      const waiters: (() => void)[] = [];
      const notify = () => {
        for (const w of waiters.splice(0)) w();
      };
      let ended = false;
      let markEnded!: () => void;
      const endedPromise = new Promise<void>((r) => (markEnded = r));
      const socketClosed = new Promise<void>((r) => request.socket!.once("close", () => r()));
      const stream: TakeStream = {
        status: res.statusCode!,
        headers: res.headers,
        jobs: [],
        heartbeats: 0,
        job: async (i, timeoutMs) => (await stream.waitJobs(i + 1, timeoutMs))[i],
        waitJobs: (n, timeoutMs = 5000) => until(() => stream.jobs.length >= n, `${n} jobs (have ${stream.jobs.length})`, timeoutMs).then(() => stream.jobs),
        waitHeartbeats: (n, timeoutMs = 5000) => until(() => stream.heartbeats >= n, `${n} heartbeats`, timeoutMs),
        close: async () => {
          request.destroy();
          await socketClosed;
        },
        ended: endedPromise,
      };
      const until = (ok: () => boolean, what: string, timeoutMs: number) =>
        new Promise<void>((done, fail) => {
          const check = () => {
            if (ok()) {
              clearTimeout(timer);
              done();
            } else if (ended) {
              clearTimeout(timer);
              fail(new Error(`take stream ended while waiting for ${what}`));
            } else {
              waiters.push(check);
            }
          };
          const timer = setTimeout(() => fail(new Error(`timed out waiting for ${what}`)), timeoutMs);
          check();
        });
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        if (!ndjson) return;
        buffered += chunk;
        let nl: number;
        while ((nl = buffered.indexOf("\n")) >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          if (line === "") stream.heartbeats++;
          else stream.jobs.push(JSON.parse(line) as Json);
        }
        notify();
      });
      const onEnd = () => {
        ended = true;
        markEnded();
        notify();
      };
      res.once("end", onEnd);
      res.on("error", onEnd);
      res.once("close", onEnd);
      resolve(stream);
    });
  });
}

/** A request over node:http with exactly the given headers (fetch always adds Accept). */
export function rawReq(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: Buffer | string,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const r = http.request(new URL(path, base), { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    r.on("error", reject);
    r.end(body);
  });
}

/**
 * One real server for a whole test file (node:test hooks registered here), plus the
 * take streams a test opened, closed after each test. `s` forwards to the live server.
 */
export function sharedServer(): { s: TestServer; open: TakeStream[] } {
  let server: TestServer | undefined;
  const open: TakeStream[] = [];
  before(async () => {
    server = await startServer();
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((t) => t.close()));
  });
  after(async () => {
    await server?.close();
    cleanupTmp();
  });
  const live = (): TestServer => {
    if (!server) throw new Error("sharedServer() used outside a test");
    return server;
  };
  const s = {
    get url() { return live().url; },
    get dir() { return live().dir; },
    get store() { return live().store; },
    get queue() { return live().queue; },
    close: () => live().close(),
  } as TestServer;
  return { s, open };
}
