// Test fixtures for the transport layer: a tiny h3 app built only from lib/http modules
// (JSON/msgpack echo, a 204, a take-like stream, throwing routes) and raw clients for
// HTTP/1.1 and HTTP/2 over plain TCP and TLS. No job logic.

import http from "node:http";
import http2 from "node:http2";
import https from "node:https";
import { H3 } from "h3";
import { decodeBody, encodeBody } from "../../lib/http/codec.ts";
import { notAcceptable, streamNotAcceptable, toErrorWebResponse, unsupportedMediaType } from "../../lib/http/errors.ts";
import { BODY_CONTENT_TYPE, requestFormat, responseFormat, streamFormat } from "../../lib/http/negotiate.ts";
import { createTakeStream, type TakeStream } from "../../lib/http/stream.ts";
import { QueueError } from "../../lib/queue/types.ts";
import { eventually } from "../helpers/server.ts";

export interface TestApp {
  app: H3;
  /** Take streams opened by clients, in order; `cancelled` counts onCancel calls. */
  streams: { stream: TakeStream; cancelled: number }[];
  logged: unknown[];
  /** Requests that reached the app. */
  requests(): number;
  /** Resolves the pending GET /slow request(s). */
  releaseSlow(): void;
  /** GET /slow requests waiting in their handler. */
  slowPending(): number;
}

export function createTestApp(heartbeatMs = 50): TestApp {
  const streams: TestApp["streams"] = [];
  const logged: unknown[] = [];
  let slowWaiters: (() => void)[] = [];
  let requests = 0;
  const app = new H3({
    silent: true,
    onRequest: () => {
      requests++;
    },
    onError: (error, event) =>
      toErrorWebResponse(error, responseFormat(event.req.headers.get("accept")) ?? "json", (err) => logged.push(err)),
  });
  app.post("/echo", async (event) => {
    const format = responseFormat(event.req.headers.get("accept"));
    if (!format) throw notAcceptable();
    const bodyFormat = requestFormat(event.req.headers.get("content-type"));
    if (!bodyFormat) throw unsupportedMediaType();
    const value = decodeBody(new Uint8Array(await event.req.arrayBuffer()), bodyFormat);
    const httpVersion = event.runtime?.node?.req.httpVersion;
    return new Response(encodeBody({ echo: value, httpVersion }, format) as BodyInit, {
      headers: { "content-type": BODY_CONTENT_TYPE[format] },
    });
  });
  app.post("/empty", () => new Response(null, { status: 204 }));
  app.get("/conflict", () => {
    throw new QueueError("conflict", "taken", { id: "x" });
  });
  app.get("/boom", () => {
    throw new Error("secret detail");
  });
  app.get("/slow", () => new Promise<string>((resolve) => slowWaiters.push(() => resolve("done"))));
  app.get("/take", (event) => {
    const format = streamFormat(event.req.headers.get("accept"));
    if (!format) throw streamNotAcceptable();
    const entry = { stream: undefined as unknown as TakeStream, cancelled: 0 };
    entry.stream = createTakeStream({ format, heartbeatMs, request: event.runtime?.node?.req, onCancel: () => entry.cancelled++ });
    streams.push(entry);
    return new Response(entry.stream.body, { headers: { "content-type": entry.stream.contentType } });
  });
  const releaseSlow = () => {
    for (const resolve of slowWaiters) resolve();
    slowWaiters = [];
  };
  return { app, streams, logged, releaseSlow, slowPending: () => slowWaiters.length, requests: () => requests };
}

/**
 * Polls `check` until it returns true; fails after `ms`: a hang guard, not a timing
 * assertion, so it is generous (what these wait for takes milliseconds; a cancel that
 * never comes, as in the h2 reset defect of 2026-12-07, fails all the same).
 */
export async function waitFor(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  await eventually(check, ms, what);
}

export interface ClientResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface TlsClientOptions {
  ca?: string;
  cert?: string;
  key?: string;
}

/** One HTTP/1.1 request (https:// with ALPN http/1.1). A fresh connection per call. */
export function h1Request(
  url: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: Uint8Array | string,
  tls: TlsClientOptions = {},
): Promise<ClientResponse> {
  return new Promise((resolve, reject) => {
    const options = { method, headers, agent: false as const, servername: "localhost", ALPNProtocols: ["http/1.1"], ...tls };
    const target = new URL(path, url);
    const req = (url.startsWith("https") ? https : http).request(target, options, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

export interface H2Response extends ClientResponse {
  /** The response HEADERS frame carried END_STREAM (no DATA frame followed). */
  endAfterHeaders: boolean;
  dataEvents: number;
}

/**
 * One request on an existing HTTP/2 session. `options.endStream` puts END_STREAM on the
 * request HEADERS (no DATA frame at all), as undici does for a request without a body.
 */
export function h2Request(
  session: http2.ClientHttp2Session,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: Uint8Array | string,
  options: http2.ClientSessionRequestOptions = {},
): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":method": method, ":path": path, ...headers }, options);
    let status = 0;
    let responseHeaders: Record<string, string | string[] | undefined> = {};
    let dataEvents = 0;
    let endAfterHeaders = false;
    const chunks: Buffer[] = [];
    stream.on("response", (h, flags) => {
      status = Number(h[":status"]);
      responseHeaders = h;
      // Why not stream.endAfterHeaders: Node 20 leaves it false on client streams.
      endAfterHeaders = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
    });
    stream.on("data", (c: Buffer) => {
      dataEvents++;
      chunks.push(c);
    });
    stream.on("end", () =>
      resolve({ status, headers: responseHeaders, body: Buffer.concat(chunks), endAfterHeaders, dataEvents }),
    );
    stream.on("error", reject);
    if (!options.endStream) stream.end(body);
  });
}

export function h2Connect(url: string, tls: TlsClientOptions = {}): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url, { servername: "localhost", ...tls });
    session.once("connect", () => resolve(session));
    session.once("error", reject);
  });
}
