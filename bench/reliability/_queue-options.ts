// The store and queue options of the queue power-loss harness: the live workload
// (_queue-workload.ts) and the judge (_queue-judge.ts) open each store and Queue alike.

import type { ManualClock } from "../../lib/queue/clock.ts";
import type { QueueOptions } from "../../lib/queue/queue.ts";
import { prng } from "../../test/helpers/random.ts";
import { MAX_ABANDONS, SEGMENT_BYTES } from "./_queue-model.ts";

/** "enqueue-fsync": `--enqueue-commit-mode fsync` over buffered writes. */
export type Mode = "fsync" | "buffered" | "enqueue-fsync";

export function storeOptionsFor(seed: number, mode: Mode) {
  // As power-loss.ts: odd seeds checkpoint in the background all the time, even ones
  // only when the workload asks (and at the first roll).
  return { segmentBytes: SEGMENT_BYTES, syncDirs: mode !== "buffered", cacheBytes: 256 * 1024, checkpointEveryMs: seed % 2 === 0 ? 60_000 : 20 };
}

/** Whether the live store syncs its head in the background (LogWriter.backgroundSyncBytes), as power-loss.ts. */
export const backgroundSyncs = (seed: number): boolean => Math.floor(seed / 2) % 2 === 1;

export function queueOptionsFor(seed: number, mode: Mode, clock: ManualClock, onError: (err: unknown, where: string) => void): QueueOptions {
  return {
    clock,
    enqueueSync: mode !== "buffered",
    writeSync: mode === "fsync",
    reaperIntervalMs: 0,
    random: prng(seed ^ 0xbac),
    maxAbandons: MAX_ABANDONS,
    defaults: { retryLimit: 2, backoff: { exponent: 1, base_ms: 500, jitter_ms: 0 }, completedRetentionMs: 0, deadRetentionMs: 4000 },
    onError,
  };
}
