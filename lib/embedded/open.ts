// open(): the embedded queue over a data dir: the store recovered and locked exactly as
// `zizq serve` does (so a server and an embedded queue never share a dir), the queue
// engine with the server's defaults, and the Client-shaped facade of embedded-queue.ts.

import path from "node:path";
import { createQueue } from "../queue/queue.ts";
import { openStore } from "../storage/store.ts";
import { EmbeddedQueue } from "./embedded-queue.ts";

export interface OpenOptions {
  /** Root directory of the data, created if missing; the same dir `zizq serve --dir` takes. */
  dir: string;
  /** "fsync": every write is on disk before its promise resolves. @default "buffered" */
  commitMode?: "buffered" | "fsync";
  /** Enqueue-only override of commitMode. @default commitMode */
  enqueueCommitMode?: "buffered" | "fsync";
  /** Max jobs in flight over all take streams; 0 = none. @default 1024 */
  globalInFlightLimit?: number;
  /** @default 25 */
  defaultRetryLimit?: number;
  /** @default { baseMs: 15000, exponent: 4, jitterMs: 30000 } */
  defaultBackoff?: { baseMs: number; exponent: number; jitterMs: number };
  /** 0 = completed jobs are deleted at ack. @default 0 */
  defaultCompletedRetentionMs?: number;
  /** @default 604800000 (7 days) */
  defaultDeadRetentionMs?: number;
  /** @default 30000 */
  reaperCheckIntervalMs?: number;
  /** Segment file size for a new dir. @default 64 MiB */
  segmentBytes?: number;
  /** Payload block cache. @default 64 MB */
  cacheBytes?: number;
  /** Failures of background work (reaper, compaction, dispatch); it carries on. @default console.error */
  onError?: (err: unknown, where: string) => void;
}

/** Recover the dir and return the queue; rejects if another process (or queue) holds the dir. */
export async function open(options: OpenOptions): Promise<EmbeddedQueue> {
  if (!options || typeof options.dir !== "string" || options.dir === "") throw new TypeError("open() needs { dir }");
  const fsync = options.commitMode === "fsync";
  const enqueueFsync = (options.enqueueCommitMode ?? options.commitMode) === "fsync";
  const onError = options.onError ?? ((err: unknown, where: string) => console.error(`[zizq] ${where} failed:`, err));
  const store = await openStore({
    dir: path.resolve(options.dir),
    segmentBytes: options.segmentBytes,
    cacheBytes: options.cacheBytes,
    syncDirs: fsync || enqueueFsync,
  });
  store.onBackgroundError = (err) => onError(err, "compaction");
  const b = options.defaultBackoff;
  const queue = createQueue(store, {
    defaults: {
      ...(options.defaultRetryLimit !== undefined && { retryLimit: options.defaultRetryLimit }),
      ...(b && { backoff: { exponent: b.exponent, base_ms: b.baseMs, jitter_ms: b.jitterMs } }),
      ...(options.defaultCompletedRetentionMs !== undefined && { completedRetentionMs: options.defaultCompletedRetentionMs }),
      ...(options.defaultDeadRetentionMs !== undefined && { deadRetentionMs: options.defaultDeadRetentionMs }),
    },
    globalInFlightLimit: options.globalInFlightLimit,
    enqueueSync: enqueueFsync,
    writeSync: fsync,
    reaperIntervalMs: options.reaperCheckIntervalMs,
    onError,
  });
  return new EmbeddedQueue(queue, store);
}

