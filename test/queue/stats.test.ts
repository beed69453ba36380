// Live statistics (lib/queue/stats.ts) and per-queue status counts (job-table): the
// ring of 1-second buckets, wait-time quantiles, and totals fed by real transitions.

import assert from "node:assert/strict";
import { after, it } from "node:test";
import { ManualClock } from "../../lib/queue/clock.ts";
import { createQueue } from "../../lib/queue/queue.ts";
import { QueueStats, RING_SECONDS, WAIT_BOUNDS_MS } from "../../lib/queue/stats.ts";
import { quantileOf } from "../../lib/storage/histogram.ts";
import { openStore } from "../../lib/storage/store.ts";
import type { JobWithPayload } from "../../lib/queue/types.ts";
import { eventually } from "../helpers/server.ts";
import { tmpDir } from "../helpers/tmp.ts";

it("the ring counts per second, drops seconds older than 15 minutes, and zeroes skipped seconds", () => {
  const s = new QueueStats();
  const t0 = 1_700_000_000_000;
  s.enqueued("a", t0);
  s.enqueued("a", t0 + 10);
  s.completed("b", t0 + 1000);
  s.failed("a", true, t0 + 2000);
  let series = s.throughput(t0 + 2000, 3);
  assert.equal(series.start_ms, t0);
  assert.deepEqual(series.enqueued, [2, 0, 0]);
  assert.deepEqual(series.completed, [0, 1, 0]);
  assert.deepEqual(series.failed, [0, 0, 1]);
  assert.deepEqual(series.dead, [0, 0, 1]);
  // A full ring later, the old seconds are gone, not wrapped around.
  s.enqueued("a", t0 + RING_SECONDS * 1000);
  series = s.throughput(t0 + RING_SECONDS * 1000);
  assert.equal(series.enqueued.length, RING_SECONDS);
  assert.equal(series.enqueued.reduce((a, b) => a + b), 1);
  assert.equal(series.dead.reduce((a, b) => a + b), 1, "t0+2s is still inside the window");
  assert.equal(s.throughput(t0 + (RING_SECONDS + 2) * 1000).dead.reduce((a, b) => a + b), 0);
  // Totals outlive the ring.
  assert.equal(s.counters("a").total("enqueued"), 3);
  assert.equal(s.counters("a").total("dead"), 1);
  assert.equal(s.counters("b").total("completed"), 1);
});

it("wait quantiles interpolate inside buckets and cover only the window asked for", () => {
  const s = new QueueStats();
  const t0 = 1_700_000_000_000;
  for (let i = 0; i < 99; i++) s.taken("a", 3, t0);
  s.taken("a", 40_000, t0);
  const recent = s.recentWait(t0, 60);
  const p50 = quantileOf(WAIT_BOUNDS_MS, recent, 0.5)!;
  assert.ok(p50 > 2 && p50 <= 5, `p50 ${p50}`);
  assert.ok(quantileOf(WAIT_BOUNDS_MS, recent, 0.999)! > 30_000);
  assert.equal(quantileOf(WAIT_BOUNDS_MS, s.recentWait(t0 + 120_000, 60), 0.5), undefined);
  assert.equal(s.counters("a").wait.count, 100);
});

it("the 15-minute wait (kept as running sums) equals the 900 seconds summed, as seconds age out and are skipped", () => {
  const s = new QueueStats();
  const t0 = 1_700_000_000_000;
  const summed = (nowMs: number) => {
    // 899 seconds summed by recentWait's row walk, plus the newest one.
    const older = s.recentWait(nowMs - 1000, RING_SECONDS - 1);
    const newest = s.recentWait(nowMs, 1);
    return older.map((v, i) => v + newest[i]);
  };
  for (let i = 0; i < 2000; i++) s.taken("a", (i * 37) % 5000, t0 + i * 700);
  for (const at of [t0 + 1_399_300, t0 + 1_500_000, t0 + 2_000_000, t0 + 2_299_999]) {
    assert.deepEqual([...s.recentWait(at, RING_SECONDS)], [...summed(at)], `at +${at - t0} ms`);
  }
  assert.equal(s.recentWait(t0 + 1_399_300 + RING_SECONDS * 1000, RING_SECONDS).reduce((a, b) => a + b), 0);
});

const clock = new ManualClock(Date.now());
const store = await openStore({ dir: tmpDir(), segmentBytes: 4 * 1024 * 1024 });
const queue = createQueue(store, { reaperIntervalMs: 0, clock, defaults: { retryLimit: 0 } });
after(async () => {
  queue.stop();
  await store.close();
});

it("transitions feed totals by queue, and per-queue status counts follow every move", async () => {
  await queue.enqueueBulk({ jobs: [
    { type: "t", queue: "q1", payload: 1 }, { type: "t", queue: "q1", payload: 2 },
    { type: "t", queue: "q2", payload: 3 }, { type: "t", queue: "q2", payload: 4, ready_at: clock.now() + 60_000 },
  ] });
  const counts = (q: string) => {
    const i = store.table.queues.lookup(q);
    return i === undefined ? [0, 0, 0, 0, 0] : [...store.table.queueStatusCounts.subarray(i * 5, i * 5 + 5)];
  };
  assert.deepEqual(counts("q1"), [0, 2, 0, 0, 0]);
  assert.deepEqual(counts("q2"), [1, 1, 0, 0, 0]);
  clock.advance(250);
  const got: JobWithPayload[] = [];
  const taker = queue.take({ queues: ["q1", "q2"], prefetch: 0, deliver: (j) => (got.push(j), true) });
  await eventually(() => got.length === 3);
  assert.deepEqual(counts("q1"), [0, 0, 2, 0, 0]);
  const q1 = got.filter((j) => j.job.queue === "q1");
  await queue.complete(q1[0].job.id);
  await queue.fail(q1[1].job.id, { message: "boom" });
  assert.deepEqual(counts("q1"), [0, 0, 0, 0, 1]);
  taker.close();
  const a = queue.activity;
  assert.equal(a.counters("q1").total("enqueued"), 2);
  assert.equal(a.counters("q2").total("enqueued"), 2);
  assert.equal(a.counters("q1").total("completed"), 1);
  assert.equal(a.counters("q1").total("failed"), 1);
  assert.equal(a.counters("q1").total("dead"), 1);
  // Waited 250 ms from ready to take (the manual clock), into the (100, 250] bucket.
  assert.equal(a.counters("q1").wait.count, 2);
  assert.equal(a.counters("q1").wait.sum, 500);
  const series = a.throughput(clock.now(), 60);
  assert.equal(series.enqueued.reduce((x, y) => x + y), 4);
});

it("past maxQueues, the totals of queues that hold no jobs are dropped; queues with jobs keep theirs", () => {
  const holding = new Set(["b"]);
  const s = new QueueStats({ maxQueues: 3, hasJobs: (q) => holding.has(q) });
  const t0 = 1_700_000_000_000;
  for (const q of ["a", "b", "c"]) s.enqueued(q, t0);
  assert.deepEqual([...s.queues()].map((c) => c.name), ["a", "b", "c"]);
  s.enqueued("d", t0); // a fourth queue: a and c hold nothing and go
  assert.deepEqual([...s.queues()].map((c) => c.name), ["b", "d"]);
  assert.equal(s.counters("b").total("enqueued"), 1);
  // Under the bound again: nothing is dropped.
  s.enqueued("e", t0);
  assert.deepEqual([...s.queues()].map((c) => c.name), ["b", "d", "e"]);
});
