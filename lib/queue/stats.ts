// Live job statistics kept in memory, for /metrics and the dashboard's /stats: totals
// by queue since start, a ring of 1-second buckets over the last 15 minutes (enqueued,
// completed, failed, dead, retried) and the wait from ready to take as histograms.
// Fed by the transitions (enqueue, complete, fail, take) with the time they already read.
//
// Cost on the hot path: a Map lookup by queue name and a few typed-array increments per
// job; nothing is allocated except one counters object per new queue name. Why not
// derive this from Queue.onChange: those events carry no queue and no time, and the
// facade sends none while no admin client listens (the common case).

import { Histogram, bucketOf } from "../storage/histogram.ts";

// The http layer reads histograms through here (it does not import storage).
export { Histogram, quantileOf } from "../storage/histogram.ts";

export const EVENT_KINDS = ["enqueued", "completed", "failed", "dead", "retried"] as const;
export type EventKind = (typeof EVENT_KINDS)[number];
const ENQUEUED = 0;
const COMPLETED = 1;
const FAILED = 2;
const DEAD = 3;
const RETRIED = 4;
const KINDS = EVENT_KINDS.length;

/** Ring length: 15 minutes of 1-second buckets. */
export const RING_SECONDS = 900;

/** Wait-time bucket bounds in milliseconds (Prometheus reports them in seconds). */
export const WAIT_BOUNDS_MS: readonly number[] = [
  1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 300_000, 900_000, 3_600_000,
];
const WAIT_BUCKETS = WAIT_BOUNDS_MS.length + 1;

export class QueueCounters {
  readonly name: string;
  /** Totals since start, indexed like EVENT_KINDS. */
  readonly totals = new Float64Array(KINDS);
  /** Ready-to-take wait in ms, since start. */
  readonly wait = new Histogram(WAIT_BOUNDS_MS);

  constructor(name: string) {
    this.name = name;
  }

  total(kind: EventKind): number {
    return this.totals[EVENT_KINDS.indexOf(kind)];
  }
}

export interface ThroughputSeries {
  /** Start of the first bucket (ms since the epoch); buckets are 1 s, oldest first. */
  start_ms: number;
  seconds: number;
  enqueued: number[];
  completed: number[];
  failed: number[];
  dead: number[];
  retried: number[];
}

/** Queues whose totals are kept whatever they hold (see QueueStats.counters). */
const MAX_TRACKED_QUEUES = 10_000;

export class QueueStats {
  private readonly byName = new Map<string, QueueCounters>();
  /** Does a queue hold jobs now? (Its totals are never dropped while it does.) */
  private readonly hasJobs: (queue: string) => boolean;
  private readonly maxQueues: number;
  private pruneAt: number;
  /** Per-second counts: RING_SECONDS rows of KINDS columns (all queues together). */
  private readonly ring = new Float64Array(RING_SECONDS * KINDS);
  /** Per-second wait histograms: RING_SECONDS rows of WAIT_BUCKETS columns. */
  private readonly waitRing = new Float64Array(RING_SECONDS * WAIT_BUCKETS);
  /**
   * Invariant: the column sums of waitRing, kept as rows are counted and zeroed, so the
   * 15-minute wait quantiles (every /stats, the dashboard polls it) read 19 numbers,
   * not 900 rows of them.
   */
  private readonly waitRingTotal = new Float64Array(WAIT_BUCKETS);
  /** The second (ms / 1000, floored) the newest row stands for; -1 before the first. */
  private headSecond = -1;

  constructor(options: { hasJobs?: (queue: string) => boolean; maxQueues?: number } = {}) {
    this.hasJobs = options.hasJobs ?? (() => true);
    this.maxQueues = options.maxQueues ?? MAX_TRACKED_QUEUES;
    this.pruneAt = this.maxQueues;
  }

  /**
   * A queue's counters, made on first use. Totals outlive a queue's last job, but not
   * without bound: an app with a queue per tenant would keep ~700 bytes (and a /metrics
   * series) for every name ever used. Past `maxQueues` queues, the totals of those that
   * hold no jobs are dropped (a Prometheus counter reset if the queue comes back).
   */
  counters(queue: string): QueueCounters {
    let c = this.byName.get(queue);
    if (!c) {
      if (this.byName.size >= this.pruneAt) this.prune();
      c = new QueueCounters(queue);
      this.byName.set(queue, c);
    }
    return c;
  }

  private prune(): void {
    for (const name of this.byName.keys()) if (!this.hasJobs(name)) this.byName.delete(name);
    // Queues that all hold jobs are bounded by the jobs; look again only after doubling.
    this.pruneAt = Math.max(this.maxQueues, this.byName.size * 2);
  }

  /** Every queue seen since start, up to maxQueues (a queue's totals outlive its last job). */
  queues(): IterableIterator<QueueCounters> {
    return this.byName.values();
  }

  enqueued(queue: string, nowMs: number): void {
    this.count(queue, ENQUEUED, nowMs);
  }

  completed(queue: string, nowMs: number): void {
    this.count(queue, COMPLETED, nowMs);
  }

  /** One failed attempt; `dead` when it killed the job (counted as both). */
  failed(queue: string, dead: boolean, nowMs: number): void {
    this.count(queue, FAILED, nowMs);
    if (dead) this.count(queue, DEAD, nowMs);
  }

  retried(queue: string, nowMs: number): void {
    this.count(queue, RETRIED, nowMs);
  }

  /** A job was taken `waitMs` after it became ready. */
  taken(queue: string, waitMs: number, nowMs: number): void {
    const ms = waitMs > 0 ? waitMs : 0;
    const bucket = bucketOf(WAIT_BOUNDS_MS, ms);
    this.counters(queue).wait.observeIn(bucket, ms);
    const row = this.rowOf(nowMs);
    if (row >= 0) {
      this.waitRing[row * WAIT_BUCKETS + bucket]++;
      this.waitRingTotal[bucket]++;
    }
  }

  private count(queue: string, kind: number, nowMs: number): void {
    this.counters(queue).totals[kind]++;
    const row = this.rowOf(nowMs);
    if (row >= 0) this.ring[row * KINDS + kind]++;
  }

  /**
   * The ring row for `nowMs`, advancing (and zeroing) rows as seconds pass; -1 for a
   * time older than the ring (a clock that stepped back: not counted per second).
   */
  private rowOf(nowMs: number): number {
    const second = Math.floor(nowMs / 1000);
    if (second > this.headSecond) {
      const steps = this.headSecond < 0 ? RING_SECONDS : Math.min(RING_SECONDS, second - this.headSecond);
      for (let s = 1; s <= steps; s++) {
        const row = (second - steps + s) % RING_SECONDS;
        this.ring.fill(0, row * KINDS, row * KINDS + KINDS);
        for (let b = 0; b < WAIT_BUCKETS; b++) this.waitRingTotal[b] -= this.waitRing[row * WAIT_BUCKETS + b];
        this.waitRing.fill(0, row * WAIT_BUCKETS, row * WAIT_BUCKETS + WAIT_BUCKETS);
      }
      this.headSecond = second;
    }
    if (second <= this.headSecond - RING_SECONDS) return -1;
    return second % RING_SECONDS;
  }

  /** The last `seconds` (≤ 900) whole seconds up to and including nowMs's second. */
  throughput(nowMs: number, seconds = RING_SECONDS): ThroughputSeries {
    const n = Math.max(1, Math.min(RING_SECONDS, Math.floor(seconds)));
    this.rowOf(nowMs);
    const first = Math.floor(nowMs / 1000) - n + 1;
    const out: ThroughputSeries = { start_ms: first * 1000, seconds: n, enqueued: [], completed: [], failed: [], dead: [], retried: [] };
    const series = [out.enqueued, out.completed, out.failed, out.dead, out.retried];
    for (let s = first; s < first + n; s++) {
      const row = ((s % RING_SECONDS) + RING_SECONDS) % RING_SECONDS;
      for (let k = 0; k < KINDS; k++) series[k].push(this.ring[row * KINDS + k]);
    }
    return out;
  }

  /** Wait-time bucket counts (per bucket, WAIT_BOUNDS_MS + overflow) over the last `seconds`. */
  recentWait(nowMs: number, seconds: number): Float64Array {
    const n = Math.max(1, Math.min(RING_SECONDS, Math.floor(seconds)));
    this.rowOf(nowMs);
    if (n === RING_SECONDS) return Float64Array.from(this.waitRingTotal);
    const out = new Float64Array(WAIT_BUCKETS);
    const last = Math.floor(nowMs / 1000);
    for (let s = last - n + 1; s <= last; s++) {
      const row = ((s % RING_SECONDS) + RING_SECONDS) % RING_SECONDS;
      for (let b = 0; b < WAIT_BUCKETS; b++) out[b] += this.waitRing[row * WAIT_BUCKETS + b];
    }
    return out;
  }
}
