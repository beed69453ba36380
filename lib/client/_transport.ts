// One request/response exchange over an undici dispatcher, and the two response
// patterns of the official client (CLIENT-API.md §2.4): decode-or-throw, and exact-status.
// Failures before the response headers become ConnectionError naming the URL; failures
// while reading a body stay raw, as in the official client.

import type { Dispatcher } from "undici";
import { type Format, MEDIA_TYPES } from "./_media.ts";
import { decodeBody, encodeBody } from "./_codec.ts";
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

  /** Sends one request and reads the whole body (a 204's body is drained). */
  async exchange(method: Method, path: string, body?: unknown): Promise<Exchange> {
    const media = MEDIA_TYPES[this.format].rpc;
    const headers: Record<string, string> = body === undefined ? { accept: media } : { "content-type": media, accept: media };
    let res: Dispatcher.ResponseData;
    try {
      res = await this.dispatcher.request({
        origin: this.url, path, method, headers,
        body: body === undefined ? undefined : encodeBody(this.format, body),
      });
    } catch (err) {
      throw connectionError(err, this.url);
    }
    if (res.statusCode === 204) {
      await res.body.dump();
      return { status: 204, contentType: res.headers["content-type"], bytes: EMPTY };
    }
    const bytes = Buffer.from(await res.body.arrayBuffer());
    return { status: res.statusCode, contentType: res.headers["content-type"], bytes };
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

export function tolerantDecode(contentType: string | string[] | undefined, bytes: Buffer): unknown {
  try {
    return bytes.length ? decodeBody(contentType, bytes) : undefined;
  } catch {
    return undefined;
  }
}

/** A transport failure, its message naming the URL (a refused connection says where it tried). */
export function connectionError(err: unknown, url: string): ConnectionError {
  const e = err as Error;
  const out = new ConnectionError(`${e?.message ?? String(err)} (${url})`);
  (out as { cause?: unknown }).cause = err;
  return out;
}
