// The cron firings of the queue power-loss workload (_queue-workload.ts). The queue's own
// CronScheduler is stopped (its timer runs on real time, against the manual clock); a
// twin of it (its prototype: the same book and enqueue path, not stopped) fires when the
// workload says so, so every firing is in the ledger.

import type { Queue } from "../../lib/queue/queue.ts";

const tickers = new WeakMap<Queue, Queue["cronScheduler"]>();

/** `queue`'s twin scheduler: its tick() fires the entries due at the queue's clock. */
export function cronTicker(queue: Queue): Queue["cronScheduler"] {
  let t = tickers.get(queue);
  if (!t) {
    t = Object.create(queue.cronScheduler) as Queue["cronScheduler"];
    (t as unknown as { stopped: boolean }).stopped = false;
    tickers.set(queue, t);
  }
  return t;
}
