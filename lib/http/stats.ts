// GET /stats on the admin listener (an extension, docs/api.md): what the dashboard's
// overview shows in one O(queues) answer: server facts, counts by queue and status,
// totals by queue, the last 15 minutes of 1-second throughput, and wait quantiles.

import { SERVER_VERSION } from "./routes/health.ts";
import type { Queue } from "../queue/queue.ts";
import { EVENT_KINDS, RING_SECONDS, WAIT_BOUNDS_MS, quantileOf } from "../queue/stats.ts";

const STATUSES = ["scheduled", "ready", "in_flight", "completed", "dead"] as const;

export interface ServerFacts {
  /** When the server started (ms since the epoch). */
  startedAt: number;
  /** "buffered" | "fsync", and the enqueue mode when it differs. */
  commitMode: string;
  enqueueCommitMode?: string;
}

/** Bytes of the data dir on disk: segments, preallocated spares and the checkpoint. */
export function diskBytes(queue: Queue): number {
  return queue.diskBytes();
}

type Counts = Record<(typeof STATUSES)[number], number>;

function countsOf(queue: Queue, name: string): Counts {
  const t = queue.store.table;
  const q = t.queues.lookup(name);
  const out = {} as Counts;
  for (let s = 0; s < STATUSES.length; s++) out[STATUSES[s]] = q === undefined ? 0 : t.queueStatusCounts[q * 5 + s] ?? 0;
  return out;
}

const round = (ms: number | undefined) => (ms === undefined ? null : Math.round(ms * 10) / 10);

/** The /stats body; `seconds` of throughput (1..900, default 900). */
export function statsBody(queue: Queue, facts: ServerFacts, seconds = RING_SECONDS) {
  const now = Date.now();
  const mem = process.memoryUsage();
  const s = queue.stats();
  const names = new Set(queue.queues());
  for (const c of queue.activity.queues()) names.add(c.name);
  for (const name of queue.pauses.paused) names.add(name);
  const queues = [...names].sort().map((name) => {
    const c = queue.activity.counters(name);
    const totals: Record<string, number> = {};
    for (const [k, kind] of EVENT_KINDS.entries()) totals[kind] = c.totals[k];
    return { name, paused: queue.pauses.paused.has(name), counts: countsOf(queue, name), totals };
  });
  const wait = (windowS: number) => {
    const buckets = queue.activity.recentWait(now, windowS);
    return { window_s: windowS, p50_ms: round(quantileOf(WAIT_BOUNDS_MS, buckets, 0.5)), p99_ms: round(quantileOf(WAIT_BOUNDS_MS, buckets, 0.99)) };
  };
  return {
    server: {
      version: SERVER_VERSION,
      started_at: facts.startedAt,
      uptime_ms: now - facts.startedAt,
      commit_mode: facts.commitMode,
      ...(facts.enqueueCommitMode ? { enqueue_commit_mode: facts.enqueueCommitMode } : {}),
      disk_bytes: diskBytes(queue),
      rss_bytes: mem.rss,
      heap_used_bytes: mem.heapUsed,
      take_streams: s.streams,
    },
    counts: { scheduled: s.scheduled, ready: s.ready, in_flight: s.inFlight, completed: s.completed, dead: s.dead },
    queues,
    throughput: queue.activity.throughput(now, seconds),
    wait: [wait(60), wait(RING_SECONDS)],
  };
}
