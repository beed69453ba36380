// The queue layer's public shapes: what lib/http sees of jobs, filters and results.
// Field names follow the wire contract (API.md §2.1) so the HTTP layer can emit a
// JobView as-is; optional fields are absent (never undefined-valued) when unset.

export type JobStatus = "scheduled" | "ready" | "in_flight" | "completed" | "dead";

/** Lifecycle order used when sorting status sets (API.md §1.9). */
export const STATUS_ORDER: readonly JobStatus[] = ["scheduled", "ready", "in_flight", "completed", "dead"];

export type UniqueWhile = "queued" | "active" | "exists";

export interface Backoff {
  exponent: number;
  base_ms: number;
  jitter_ms: number;
}

export interface Retention {
  completed_ms?: number;
  dead_ms?: number;
}

export interface BatchConfig {
  key: string;
  when: string;
  fold: string;
}

/** API.md §2.1 job object minus `payload`, `duplicate` and `folded`, in emission order. */
export interface JobView {
  id: string;
  type: string;
  queue: string;
  priority: number;
  status: JobStatus;
  ready_at: number;
  attempts: number;
  retry_limit?: number;
  backoff?: Backoff;
  dequeued_at?: number;
  failed_at?: number;
  retention?: Retention;
  purge_at?: number;
  completed_at?: number;
  unique_key?: string;
  unique_while?: UniqueWhile;
  batch?: BatchConfig;
  /** API-budgets.md §4.2: omitted when the job has no bindings. */
  budgets?: { key: string; cost: number }[];
}

/**
 * A payload already in its stored form: compact JSON text, number tokens as the client
 * sent them (docs/format.md, payload convention). The HTTP layer puts one in place of a
 * request's `payload`, so enqueue stores the text instead of re-serialising a parsed value
 * (which would turn 1.0 into 1 and round integers beyond 2^53).
 */
export class PayloadText {
  /**
   * `bytes`, when given, is `json` as UTF-8, exactly (a view into the request body): the
   * record takes them as they are, with no encoding of the text back to bytes.
   */
  constructor(readonly json: string, readonly bytes?: Buffer) {}
}

/** A job plus its payload as stored: compact JSON text (the HTTP layer splices it). */
export interface JobWithPayload {
  job: JobView;
  payloadJson: string;
}

export interface EnqueueResult {
  job: JobView;
  /** true: a new job was written (201); false: duplicate or fold (200). */
  created: boolean;
  duplicate: boolean;
  folded: boolean;
}

/** API.md §2.2 error record. */
export interface ErrorRecord {
  attempt: number;
  message: string;
  error_type?: string;
  backtrace?: string;
  dequeued_at: number;
  failed_at: number;
}

/** Inclusive numeric range; absent bound = type minimum / maximum. */
export interface Range {
  lo: number;
  hi: number;
}

/**
 * The filters shared by list, count, bulk delete and bulk patch (API.md §3.11–3.16).
 * An absent or empty set means "no filter".
 */
export interface JobFilter {
  ids?: string[];
  queues?: string[];
  types?: string[];
  statuses?: JobStatus[];
  priority?: Range;
  readyAt?: Range;
  attempts?: Range;
  /** `budgets.key`: jobs bound to any of these budget keys (API-budgets.md §4.3). */
  budgetKeys?: string[];
  /** jq program run against each payload (API.md §4.6). */
  jq?: string;
}

export interface ListRequest {
  filter: JobFilter;
  /** Exclusive cursor: a job id (not validated). */
  from?: string;
  order: "asc" | "desc";
  limit: number;
}

export interface ListResult {
  jobs: JobWithPayload[];
  /** true when a row existed beyond `limit` (the `next` link is emitted). */
  hasMore: boolean;
}

export interface ErrorListRequest {
  from?: number;
  order: "asc" | "desc";
  limit: number;
}

export interface ErrorListResult {
  errors: ErrorRecord[];
  hasMore: boolean;
}

/** A take stream's view of the queue (API.md §3.6). */
export interface TakeOptions {
  /** Queues to take from; empty or absent = all queues. */
  queues?: string[];
  /** Max unacknowledged jobs on this stream; 0 = unlimited (still bounded by the global cap). */
  prefetch: number;
  /** For logs, and heartbeats that name their worker (lib/queue/lease.ts). */
  workerId?: string;
  /** Lease on every job delivered (extension); undefined = the server's default, 0 = none. */
  leaseMs?: number;
  /**
   * Called once per job handed to this stream. Return false when the transport is
   * congested; the queue then stops delivering until `taker.resume()` is called.
   */
  deliver(job: JobWithPayload): boolean;
}

export interface Taker {
  /** The transport drained; deliver more if credits allow. */
  resume(): void;
  /** Stream closed: every job still held by it goes back to ready (status only). */
  close(): void;
}

/** The stable codes callers branch on (never on the message text). */
export type QueueErrorCode =
  | "not_found"
  | "invalid_argument"
  | "unprocessable"
  | "conflict"
  | "full"
  | "unavailable";

/** Typed error from the queue layer; lib/http/errors.ts maps `code` to a status. */
export class QueueError extends Error {
  readonly code: QueueErrorCode;
  /** Extra fields merged into the error body (e.g. `not_found` ids of a bulk ack). */
  readonly body?: Record<string, unknown>;
  constructor(code: QueueErrorCode, message: string, body?: Record<string, unknown>, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "QueueError";
    this.code = code;
    this.body = body;
  }
}
