// The single error → HTTP response mapping (API.md §1.5, STYLE §5). Routes throw; the
// app's error hook calls toErrorResponse once. Queue errors map by their stable `code`,
// HttpError by its status; anything else is a logged 500 with a generic body.

import { HTTPError } from "h3";
import { BodyDecodeError, encodeBody } from "./codec.ts";
import { BODY_CONTENT_TYPE, type BodyFormat, SUPPORTED_BODY_TYPES, SUPPORTED_STREAM_TYPES } from "./negotiate.ts";
import type { QueueErrorCode } from "../queue/types.ts";

/** An error with a deliberate HTTP status; `body` fields are merged into `{"error": message}`. */
export class HttpError extends Error {
  readonly status: number;
  readonly body?: Record<string, unknown>;
  readonly headers?: Record<string, string>;
  constructor(status: number, message: string, body?: Record<string, unknown>, headers?: Record<string, string>) {
    super(message);
    this.name = "HttpError";
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

/**
 * The client went away while we read its request body (socket closed, h2 stream reset).
 * Normal, so never a logged 500; the 400 is for the record, nobody is left to read it.
 */
export class ClientGoneError extends HttpError {
  constructor() {
    super(400, "request aborted by the client");
    this.name = "ClientGoneError";
  }
}

/** Status of each QueueError code (lib/queue/types.ts). */
export const QUEUE_ERROR_STATUS: Readonly<Record<QueueErrorCode, number>> = {
  not_found: 404,
  invalid_argument: 400,
  unprocessable: 422,
  conflict: 409,
  full: 507,
  unavailable: 503,
};

/** 406 for non-streaming endpoints (body always JSON, see toErrorResponse). */
export const notAcceptable = (): HttpError =>
  new HttpError(406, "not acceptable", { supported: [...SUPPORTED_BODY_TYPES] });
/** 406 for `GET /jobs/take`. */
export const streamNotAcceptable = (): HttpError =>
  new HttpError(406, "not acceptable", { supported: [...SUPPORTED_STREAM_TYPES] });
/** 415 for an unsupported request Content-Type. */
export const unsupportedMediaType = (): HttpError =>
  new HttpError(415, "unsupported media type", { supported: [...SUPPORTED_BODY_TYPES] });
/** 404 for an unmatched path. */
export const notFound = (): HttpError => new HttpError(404, "not found");
/** 405 for a known path with another method; `allow` lists the path's methods. */
export const methodNotAllowed = (allow: readonly string[]): HttpError =>
  new HttpError(405, "method not allowed", undefined, { allow: allow.join(", ") });

export interface ErrorResponse {
  status: number;
  headers: Record<string, string>;
  /** Encoded body, ready to send. */
  body: Uint8Array | string;
}

/**
 * Maps any thrown value to a response encoded in `format` (406 is always JSON: the client
 * just said it cannot take our other format). Unknown errors are passed to `log` in full
 * and answered with a generic 500; their message never reaches the client.
 */
export function toErrorResponse(err: unknown, format: BodyFormat, log: (err: unknown) => void): ErrorResponse {
  const { status, value, headers } = classify(unwrapH3(err), log);
  const bodyFormat = status === 406 ? "json" : format;
  return {
    status,
    headers: { ...headers, "content-type": BODY_CONTENT_TYPE[bodyFormat] },
    body: encodeBody(value, bodyFormat),
  };
}

/** toErrorResponse as a fetch Response, for h3's `onError` hook. */
export function toErrorWebResponse(err: unknown, format: BodyFormat, log: (err: unknown) => void): Response {
  const { status, headers, body } = toErrorResponse(err, format, log);
  return new Response(body as BodyInit, { status, headers });
}

/** True when `err` maps to a deliberate status, false when it would be a logged 500. */
export function isDeliberate(err: unknown): boolean {
  let unexpected = false;
  classify(unwrapH3(err), () => {
    unexpected = true;
  });
  return !unexpected;
}

interface Classified {
  status: number;
  value: Record<string, unknown>;
  headers?: Record<string, string>;
}

function classify(err: unknown, log: (err: unknown) => void): Classified {
  if (err instanceof HttpError) {
    return { status: err.status, value: { error: err.message, ...err.body }, headers: err.headers };
  }
  if (err instanceof BodyDecodeError) return { status: 400, value: { error: err.message } };
  const code = (err as { code?: unknown } | null)?.code;
  if (err instanceof Error && typeof code === "string" && Object.hasOwn(QUEUE_ERROR_STATUS, code)) {
    const extra = (err as { body?: Record<string, unknown> }).body;
    return { status: QUEUE_ERROR_STATUS[code as QueueErrorCode], value: { error: err.message, ...extra } };
  }
  // h3's own deliberate errors (its router's 404, a 405 from assertMethod, …).
  if (HTTPError.isError(err) && !err.unhandled) {
    if (err.status === 404) return { status: 404, value: { error: "not found" } };
    if (err.status === 405) return { status: 405, value: { error: "method not allowed" } };
    if (err.status >= 400 && err.status < 500) return { status: err.status, value: { error: err.message } };
  }
  log(err);
  return { status: 500, value: { error: "internal server error" } };
}

/**
 * h3 wraps every non-HTTPError thrown by a handler in an "unhandled" HTTPError whose
 * `cause` is the original; our mapping must see the original (its class or code).
 */
export function unwrapH3(err: unknown): unknown {
  if (HTTPError.isError(err) && err.unhandled && err.cause instanceof Error) return err.cause;
  return err;
}
