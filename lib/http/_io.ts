// Per-request plumbing shared by the routes: response format from Accept (406), request
// body read with a size cap (413) and decoded per Content-Type (415/400), replies
// encoded per format, and the queue's shape errors worded as decode errors.

import type { Socket } from "node:net";
import type { H3Event } from "h3";
import { BodyShapeError } from "../queue/validate.ts";
import type { MemberPath } from "./_json-scan.ts";
import { BodyDecodeError, decodeBody, encodeBody } from "./codec.ts";
import { ClientGoneError, HttpError, notAcceptable, unsupportedMediaType } from "./errors.ts";
import { BODY_CONTENT_TYPE, type BodyFormat, requestFormat, responseFormat } from "./negotiate.ts";

export function replyFormat(event: H3Event): BodyFormat {
  const format = responseFormat(event.req.headers.get("accept"));
  if (!format) throw notAcceptable();
  return format;
}

/** The format errors should be written in (never throws: 406 bodies are JSON anyway). */
export function errorFormat(event: H3Event): BodyFormat {
  return responseFormat(event.req.headers.get("accept")) ?? "json";
}

/**
 * The encoded body, with status and content-type set on `event.res`. Why not a `Response`:
 * on Node 20 `new Response(text)` builds a web ReadableStream (makeTransferable, reader
 * promises) that srvx then pumps chunk by chunk; a string or bytes returned here go out in
 * one `res.end()` through srvx's fast path. Measured on W1 (docs/benchmarks.md):
 * undici Response + stream was ~15% of the server's CPU per POST /jobs.
 */
export function reply(event: H3Event, status: number, value: unknown): string | Uint8Array {
  const format = replyFormat(event);
  event.res.status = status;
  event.res.headers.set("content-type", BODY_CONTENT_TYPE[format]);
  return encodeBody(value, format);
}

export function noContent(): Response {
  return new Response(null, { status: 204 });
}

/** After a 413, body bytes still read and dropped (and for how long) before the socket closes. */
const LINGER_BYTES = 64 * 1024 * 1024;
const LINGER_MS = 10_000;

/**
 * Makes Node close this HTTP/1.1 socket gently after the response: FIN, then read and drop
 * what the client still sends (up to LINGER_BYTES / LINGER_MS) before destroying it. Why:
 * closing a socket with unread request bytes makes the kernel send RST, and a client still
 * uploading then got ECONNRESET/EPIPE instead of our 413. Node calls destroySoon() on a
 * socket whose response ends the connection; this instance's copy is replaced.
 */
function lingerOnClose(socket: Socket): void {
  socket.destroySoon = function lingeringClose(this: Socket): void {
    if (this.destroyed) return;
    const done = (): void => {
      clearTimeout(timer);
      this.destroy();
    };
    const timer = setTimeout(done, LINGER_MS);
    let dropped = 0;
    this.on("data", (chunk: Buffer) => {
      dropped += chunk.length;
      if (dropped > LINGER_BYTES) done();
    });
    this.once("end", done).once("close", () => clearTimeout(timer));
    this.end();
    this.resume();
  };
}

/** Raw body bytes, refusing more than `maxBytes` (413) before buffering it all. */
export async function readRawBody(event: H3Event, maxBytes: number): Promise<Buffer> {
  const node = event.runtime?.node?.req;
  const tooLarge = () => {
    // HTTP/1.1: the connection ends after the 413 (we stop reading the body), gently.
    const h1 = node && node.httpVersionMajor === 1 ? node.socket as Socket : undefined;
    if (h1) lingerOnClose(h1);
    return new HttpError(413, `request body too large (limit ${maxBytes} bytes)`, undefined, h1 ? { connection: "close" } : undefined);
  };
  const declared = Number(event.req.headers.get("content-length") ?? "NaN");
  if (declared > maxBytes) throw tooLarge();
  if (!node) {
    const bytes = Buffer.from(await event.req.arrayBuffer());
    if (bytes.length > maxBytes) throw tooLarge();
    return bytes;
  }
  // Reading the Node stream directly: the fetch-API body path measured 3× slower here
  // (shared/research/h3-h2c-listhen.md §6).
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    node.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        node.removeAllListeners("data");
        node.resume();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    let ended = false;
    node.on("end", () => {
      ended = true;
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
    });
    // A client that goes away mid-body: Node's "aborted" error (h1) or a close without
    // 'end' (an h2 stream reset, which emits no error and used to leave this pending).
    const gone = () => reject(new ClientGoneError());
    node.on("error", (err: NodeJS.ErrnoException) => (err.code === "ECONNRESET" || err.message === "aborted" ? gone() : reject(err)));
    node.on("close", () => {
      if (!ended) gone();
    });
  });
}

/**
 * Read and decode the request body (API.md §1.2): 415, 413, or 400 on failure. `payloads`
 * (codec.ts PAYLOAD_PATHS) marks where payloads sit, to be kept as exact text.
 */
export async function readBody(event: H3Event, maxBytes: number, payloads?: MemberPath): Promise<{ value: unknown; format: BodyFormat }> {
  const format = requestFormat(event.req.headers.get("content-type"));
  if (!format) throw unsupportedMediaType();
  const bytes = await readRawBody(event, maxBytes);
  return { value: decodeBody(bytes, format, payloads), format };
}

/** Run a queue call on a decoded body; shape errors become `invalid JSON: …` 400s. */
export async function withBody<T>(
  event: H3Event, maxBytes: number, run: (value: unknown) => T | Promise<T>, payloads?: MemberPath,
): Promise<T> {
  const { value, format } = await readBody(event, maxBytes, payloads);
  try {
    return await run(value);
  } catch (err) {
    if (err instanceof BodyShapeError) {
      throw new BodyDecodeError(`invalid ${format === "json" ? "JSON" : "MessagePack"}: ${err.message}`);
    }
    throw err;
  }
}
