// What every transition needs: the store, the indexes the queue layer keeps beside it,
// the server defaults and commit modes. Built once by createQueue().

import type { Store } from "../storage/store.ts";
import type { Mutex } from "./_mutex.ts";
import type { BatchIndex } from "./batch.ts";
import type { Clock } from "./clock.ts";
import type { IdGenerator } from "./ids.ts";
import type { QueueStats } from "./stats.ts";
import type { JobDefaults } from "./job.ts";
import type { Dispatcher } from "./take.ts";
import type { UniqueIndex } from "./unique.ts";

export interface QueueContext {
  store: Store;
  clock: Clock;
  defaults: JobDefaults;
  ids: IdGenerator;
  unique: UniqueIndex;
  batches: BatchIndex;
  dispatcher: Dispatcher;
  enqueueLock: Mutex;
  /** Wait for fsync before answering enqueues / everything else. */
  enqueueSync: boolean;
  writeSync: boolean;
  /** Counters for /metrics and /stats (lib/queue/stats.ts). */
  stats: QueueStats;
  /** Uniform [0,1) for backoff jitter; tests pass () => 0. */
  random: () => number;
  /** Call after jobs may have become ready or scheduled: wakes takers, re-arms the scheduler. */
  afterChange(): void;
}
