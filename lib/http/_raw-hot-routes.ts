// EXPERIMENT (off by default; ZIZQ_EXPERIMENT_RAW_HOT_ROUTES=1): the four hot write
// routes served by a plain Node handler in front of h3, to measure what h3 costs on the
// hot path (docs/benchmarks.md "h3 on the hot path"). Same contract as the h3 routes in
// routes/jobs.ts: the same negotiation order (406, 415, 413, 400), the same queue calls,
// and the same error mapping (errors.ts). Anything else, including these paths with a
// query string, goes to h3 unchanged. Remove this file to revert the experiment.

import type http from "node:http";
import type http2 from "node:http2";
import type { Queue } from "../queue/queue.ts";
import type { EnqueueResult } from "../queue/types.ts";
import { BodyShapeError } from "../queue/validate.ts";
import type { MemberPath } from "./_json-scan.ts";
import { BodyDecodeError, decodeBody, encodeBody, PAYLOAD_PATHS } from "./codec.ts";
import { HttpError, notAcceptable, toErrorResponse, unsupportedMediaType } from "./errors.ts";
import { wireJob } from "./job-wire.ts";
import { BODY_CONTENT_TYPE, type BodyFormat, requestFormat, responseFormat } from "./negotiate.ts";

type Req = http.IncomingMessage | http2.Http2ServerRequest;
type Res = http.ServerResponse | http2.Http2ServerResponse;
type Handler = (req: Req, res: Res) => unknown;

const ID_SUCCESS = /^\/jobs\/([^/?]+)\/success$/;
const enqueued = (r: EnqueueResult) => wireJob(r.job, undefined, { duplicate: r.duplicate, folded: r.folded });

export interface RawHotRouteOptions {
  maxBodyBytes: number;
  logError: (err: unknown) => void;
}

export function rawHotRoutes(queue: Queue, fallback: Handler, opts: RawHotRouteOptions): Handler {
  const send = (res: Res, status: number, format: BodyFormat, value: unknown) => {
    const body = encodeBody(value, format);
    (res as http.ServerResponse).writeHead(status, {
      "content-type": BODY_CONTENT_TYPE[format],
      "content-length": typeof body === "string" ? Buffer.byteLength(body) : body.byteLength,
    });
    res.end(body);
  };
  const noContent = (res: Res) => {
    (res as http.ServerResponse).writeHead(204);
    res.end();
  };
  const readRaw = (req: Req): Promise<Buffer> => {
    const max = opts.maxBodyBytes;
    const tooLarge = () => new HttpError(413, `request body too large (limit ${max} bytes)`);
    if (Number(req.headers["content-length"] ?? "NaN") > max) return Promise.reject(tooLarge());
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > max) {
          req.removeAllListeners("data");
          req.resume();
          reject(tooLarge());
          return;
        }
        chunks.push(chunk);
      });
      req.on("end", () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
      req.on("error", reject);
    });
  };
  /** readBody + withBody of _io.ts: 415, 413, 400, and shape errors as decode errors. */
  const withBody = async <T>(req: Req, run: (value: unknown) => T | Promise<T>, payloads?: MemberPath): Promise<T> => {
    const format = requestFormat(req.headers["content-type"]);
    if (!format) throw unsupportedMediaType();
    const value = decodeBody(await readRaw(req), format, payloads);
    try {
      return await run(value);
    } catch (err) {
      if (err instanceof BodyShapeError) {
        throw new BodyDecodeError(`invalid ${format === "json" ? "JSON" : "MessagePack"}: ${err.message}`);
      }
      throw err;
    }
  };
  const route = async (path: string, req: Req, res: Res): Promise<void> => {
    const idMatch = ID_SUCCESS.exec(path);
    if (idMatch) {
      await readRaw(req);
      await queue.complete(decodeURIComponent(idMatch[1]));
      return noContent(res);
    }
    const format = responseFormat(req.headers.accept);
    if (!format) throw notAcceptable();
    if (path === "/jobs") {
      const result = await withBody(req, (body) => queue.enqueue(body), PAYLOAD_PATHS.enqueue);
      return send(res, result.created ? 201 : 200, format, enqueued(result));
    }
    if (path === "/jobs/bulk") {
      const results = await withBody(req, (body) => queue.enqueueBulk(body), PAYLOAD_PATHS.bulkEnqueue);
      const allOld = results.length > 0 && results.every((r) => !r.created);
      return send(res, allOld ? 200 : 201, format, { jobs: results.map(enqueued) });
    }
    const notFound = await withBody(req, (body) => queue.completeMany(body));
    if (notFound.length === 0) noContent(res);
    else send(res, 422, format, { not_found: notFound });
  };

  return (req, res) => {
    const path = req.url ?? "";
    if (req.method !== "POST" || !(path === "/jobs" || path === "/jobs/bulk" || path === "/jobs/success" || ID_SUCCESS.test(path))) {
      return fallback(req, res);
    }
    route(path, req, res).catch((err: unknown) => {
      const { status, headers, body } = toErrorResponse(err, responseFormat(req.headers.accept) ?? "json", opts.logError);
      if (res.headersSent) return void res.destroy();
      (res as http.ServerResponse).writeHead(status, headers);
      res.end(body);
    });
  };
}
