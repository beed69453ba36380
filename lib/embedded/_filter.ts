// Filters, list options, take options and page links of the embedded queue: each call
// builds the query string the Client would send (its own filterParams, so its TypeErrors
// and its stringifying of odd values too) and reads it with the server's own parser
// (lib/queue/query.ts, which the HTTP routes use).
// Rejected: checking the client's option objects directly. That drifted from the server
// in a dozen small ways (names over 255 bytes, ready_at saturation, `queues: ["a,b"]`,
// messages), each one a place where embedded and remote code behaved differently.

import type { ErrorListRequest, JobFilter as QueueFilter, ListRequest } from "../queue/types.ts";
import { QueueError } from "../queue/types.ts";
import { checkRequestPath, filterParams, pageParams, takeParams } from "../client/_wire.ts";
import type { JobFilter, ListErrorsOptions, ListJobsOptions, TakeOptions } from "../client/types.ts";
import { decodeSegment, parseErrorListQuery, parseFilterQuery, parseListQuery, parseTakeQuery } from "../queue/query.ts";

export { FILTER_KEYS, checkKeys, matchesNothing } from "../client/_wire.ts";
export { errorsLink, jobsLink } from "../queue/query.ts";

/** The queue's filter for a `where`, as `?<filters>` reaches the server; call matchesNothing first. */
export function toQueueFilter(where: JobFilter = {}): QueueFilter {
  return parseFilterQuery(filterParams(where));
}

/** listJobs: the query Client.listJobs sends. */
export const toListRequest = (options: ListJobsOptions): ListRequest => parseListQuery(filterParams(options, pageParams(options)));

/** listErrors: the query Client.listErrors sends. */
export const toErrorListRequest = (options: ListErrorsOptions): ErrorListRequest => parseErrorListQuery(pageParams(options));

/** take: the query Client.take sends. */
export function toTakeRequest(options: TakeOptions): { queues?: string[]; prefetch: number } {
  const { queues, prefetch } = parseTakeQuery(takeParams(options));
  return queues ? { queues, prefetch } : { prefetch };
}

/**
 * A list path as the server routes it (`GET <path>`, what listJobsByPath/listErrorsByPath
 * send): `/jobs?…` or `/jobs/<id>/errors?…`. Another path is a 404 NotFoundError here;
 * the Client sends it, and a 200 without a list (`/queues`) is its TypeError instead.
 */
export function readJobsPath(path: string): ListRequest {
  checkRequestPath(path);
  const url = new URL(path, "http://embedded");
  if (url.pathname !== "/jobs") throw new QueueError("not_found", "not found");
  return parseListQuery(url.searchParams);
}

export function readErrorsPath(path: string): { jobId: string; req: ErrorListRequest } {
  checkRequestPath(path);
  const url = new URL(path, "http://embedded");
  const m = /^\/jobs\/([^/]+)\/errors$/.exec(url.pathname);
  if (!m) throw new QueueError("not_found", "not found");
  return { jobId: decodeSegment(m[1]), req: parseErrorListQuery(url.searchParams) };
}
