// One request/response exchange over an undici dispatcher, and the two response
// patterns of the official client (CLIENT-API.md §2.4): decode-or-throw, and exact-status.
// Failures before the response headers become ConnectionError naming the URL; failures
// while reading a body stay raw, as in the official client.

import { Readable } from "node:stream";
import type { Dispatcher } from "undici";
import { type Format, MEDIA_TYPES } from "./_media.ts";
import { decodeBody, encodeBody } from "./_codec.ts";
import { checkRequestPath } from "./_wire.ts";
import { BODY_PIECE, H2cDispatcher } from "./_h2c-dispatcher.ts";
import { ConnectionError, buildResponseError } from "./errors.ts";

export interface Exchange {
  status: number;
  contentType: string | string[] | undefined;
  bytes: Buffer;
}

type Method = Dispatcher.HttpMethod;
const EMPTY = Buffer.alloc(0);

export class Transport {
  constructor(readonly url: string, readonly format: Format, public dispatcher: Dispatcher) {}

  /**
   * Sends one request and reads the whole body. Uses undici's dispatch() with a handler
   * rather than request(): no body stream per response, and the next request leaves in
   * the same event-loop turn, so concurrent calls share TCP writes (bench/client-w1.ts:
   * request() made one write per call and cost the client and the server 4x the CPU).
   */
  exchange(method: Method, path: string, body?: unknown): Promise<Exchange> {
    const media = MEDIA_TYPES[this.format].rpc;
    const headers: Record<string, string> = body === undefined ? { accept: media } : { "content-type": media, accept: media };
    // Encoded before anything is sent, outside the try below: a payload that cannot be
    // encoded (a BigInt, a cycle) is the caller's TypeError, as on the embedded queue, not
    // a ConnectionError, which a Worker retries for ever.
    const encoded = body === undefined ? undefined : encodeBody(this.format, body);
    checkRequestPath(path);
    return new Promise<Exchange>((resolve, reject) => {
      let status = 0;
      let contentType: string | string[] | undefined;
      const chunks: Buffer[] = [];
      // undici 7 dispatchers take the classic handler shape (onConnect … onComplete).
      const handler: Dispatcher.DispatchHandler = {
        onConnect() {},
        onHeaders(statusCode, rawHeaders) {
          if (statusCode < 200) return true; // 1xx: the real status comes later
          status = statusCode;
          contentType = headerValue(rawHeaders, "content-type");
          return true;
        },
        onData(chunk) {
          chunks.push(chunk);
          return true;
        },
        onComplete() {
          resolve({ status, contentType, bytes: chunks.length === 1 ? chunks[0] : chunks.length ? Buffer.concat(chunks) : EMPTY });
        },
        // Before the status line: the request never got an answer → ConnectionError.
        // After it (a body timeout, a reset mid-body): raw, as the official client.
        onError: (err) => reject(status === 0 ? connectionError(err, this.url) : err),
      };
      try {
        this.dispatcher.dispatch({
          origin: this.url, path, method, headers,
          body: this.#inPieces(encoded, headers),
        }, handler);
      } catch (err) {
        reject(connectionError(err, this.url));
      }
    });
  }

  /**
   * A long body for undici (https://) as a stream of pieces, which it writes waiting for
   * 'drain': a 40 MB Buffer written at once outgrew the h2 session's memory limit
   * (ENHANCE_YOUR_CALM: a ConnectionError, and the session refused every later call) where
   * the server answers 413. The h2c dispatcher sends long bodies in pieces itself, from
   * the Buffer: a call refused at connect is sent again whole, which a stream cannot be.
   */
  #inPieces(body: string | Buffer | undefined, headers: Record<string, string>): string | Buffer | Readable | undefined {
    if (body === undefined || body.length <= BODY_PIECE || this.dispatcher instanceof H2cDispatcher) return body;
    const bytes = typeof body === "string" ? Buffer.from(body) : body;
    headers["content-length"] = String(bytes.length);
    return Readable.from((function* pieces() {
      for (let at = 0; at < bytes.length; at += BODY_PIECE) yield bytes.subarray(at, at + BODY_PIECE);
    })(), { objectMode: false });
  }

  /** Decode-or-throw: 204 → undefined; any other body decoded (a bad body throws raw); non-2xx throws. */
  async call<T = any>(method: Method, path: string, body?: unknown): Promise<T> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const res = await this.exchange(method, path, body);
    if (res.status === 204) return undefined as T;
    const decoded = decodeBody(res.contentType, res.bytes);
    if (res.status < 200 || res.status > 299) throw buildResponseError(res.status, decoded);
    return decoded as T;
  }

  /** Exact-status: only `ok` statuses succeed; an undecodable error body is tolerated. */
  async exact(method: Method, path: string, body?: unknown, ok: readonly number[] = [204]): Promise<void> {
    const res = await this.exchange(method, path, body);
    if (ok.includes(res.status)) return;
    throw buildResponseError(res.status, tolerantDecode(res.contentType, res.bytes));
  }
}

/** A header from undici's raw [name, value, name, value…] list (names in any case). */
function headerValue(raw: Buffer[] | string[] | null, name: string): string | undefined {
  if (!raw) return undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (String(raw[i]).toLowerCase() === name) return String(raw[i + 1]);
  }
  return undefined;
}

export function tolerantDecode(contentType: string | string[] | undefined, bytes: Buffer): unknown {
  try {
    return bytes.length ? decodeBody(contentType, bytes) : undefined;
  } catch {
    return undefined;
  }
}

/** A transport failure, its message naming the URL (a refused connection says where it tried). */
export function connectionError(err: unknown, url: string): ConnectionError {
  let e = err as Error;
  // An h2 stream cancelled because its session failed to connect says so in Node's words
  // ("The pending stream has been canceled (caused by: connect ECONNREFUSED …)"): the
  // message is the cause's, as on HTTP/1.1 and as docs/client.md shows.
  while ((e as NodeJS.ErrnoException)?.code === "ERR_HTTP2_STREAM_CANCEL" && e.cause instanceof Error) e = e.cause;
  const out = new ConnectionError(`${e?.message ?? String(err)} (${url})`, { clientClosed: closedByApp(err) });
  (out as { cause?: unknown }).cause = err;
  return out;
}

/**
 * The request failed because the app closed or destroyed this Client (undici's
 * ClientClosedError, ClientDestroyedError): that does not heal, unlike a server that is
 * down, so a Worker on the Client stops instead of retrying (errors.ts, clientClosed).
 */
export function closedByApp(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "UND_ERR_DESTROYED" || code === "UND_ERR_CLOSED";
}
