// GET /jobs/count with only queue and status filters, and GET /queues/{queue}, answer
// from the job table's running counters (lib/queue/live-counts.ts). Here they must
// equal the full scan after a seeded random run of every transition, expired-but-
// unreaped terminal jobs included.

import assert from "node:assert/strict";
import { after, it } from "node:test";
import { ManualClock } from "../../lib/queue/clock.ts";
import { createQueue } from "../../lib/queue/queue.ts";
import type { JobFilter, JobStatus, JobWithPayload } from "../../lib/queue/types.ts";
import { openStore } from "../../lib/storage/store.ts";
import { prng } from "../helpers/random.ts";
import { tmpDir } from "../helpers/tmp.ts";

const clock = new ManualClock(Date.now());
const store = await openStore({ dir: tmpDir(), segmentBytes: 4 * 1024 * 1024 });
const queue = createQueue(store, { reaperIntervalMs: 0, clock, defaults: { retryLimit: 0, completedRetentionMs: 5_000, deadRetentionMs: 20_000 } });
after(async () => {
  queue.stop();
  await store.close();
});

const QUEUES = ["a", "b", "c"];
const STATUSES: JobStatus[] = ["scheduled", "ready", "in_flight", "completed", "dead"];
// A priority range over every priority matches every job but forces the slot scan.
const scanned = (filter: JobFilter) => queue.count({ ...filter, priority: { lo: 0, hi: 65535 } });

async function assertCountsAgree(step: string): Promise<void> {
  const filters: JobFilter[] = [{}, { queues: ["nope"] }, { queues: ["a", "c", "a"] }];
  for (const q of QUEUES) filters.push({ queues: [q] });
  for (const s of STATUSES) filters.push({ statuses: [s] }, { queues: ["b"], statuses: [s, "ready"] });
  for (const f of filters) assert.equal(await queue.count(f), await scanned(f), `${step}: ${JSON.stringify(f)}`);
  for (const q of QUEUES) {
    const counts = queue.store.table.queues.lookup(q) === undefined ? undefined : queue.queueView(q).counts;
    for (const s of STATUSES) assert.equal(counts?.[s] ?? 0, await scanned({ queues: [q], statuses: [s] }), `${step}: ${q} ${s}`);
  }
}

it("counts by queue and status equal the scan after random transitions and expiry", async () => {
  const rand = prng(20261205);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
  const taken: JobWithPayload[] = [];
  let expiredSeen = 0;
  const statusSeen = new Set<number>();
  const taker = queue.take({ queues: QUEUES, prefetch: 4, deliver: (j) => (taken.push(j), true) });
  try {
    for (let step = 0; step < 60; step++) {
      const jobs = Array.from({ length: 1 + Math.floor(rand() * 6) }, (_, i) => ({
        type: "t", queue: pick(QUEUES), payload: { step, i },
        ...(rand() < 0.3 && { ready_at: clock.now() + 1_000 + Math.floor(rand() * 10_000) }),
      }));
      await queue.enqueueBulk({ jobs });
      // Let the taker drain what is ready, then settle some of what it holds.
      await new Promise((resolve) => setImmediate(resolve));
      while (taken.length > 0 && rand() < 0.8) {
        const j = taken.splice(Math.floor(rand() * taken.length), 1)[0];
        const r = rand();
        if (r < 0.5) await queue.complete(j.job.id);
        else if (r < 0.8) await queue.fail(j.job.id, { message: "boom" });
        else await queue.deleteOne(j.job.id);
      }
      if (rand() < 0.2) await queue.patchMany({ queues: [pick(QUEUES)], statuses: ["ready", "scheduled"] }, { queue: pick(QUEUES) });
      if (rand() < 0.15) await queue.retryMany({ queues: [pick(QUEUES)], statuses: ["dead"] }, {});
      if (rand() < 0.1) await queue.deleteMany({ queues: [pick(QUEUES)], statuses: ["completed"] });
      clock.advance(Math.floor(rand() * 4_000));
      if (rand() < 0.1) await queue.reap();
      await assertCountsAgree(`step ${step}`);
      const t = queue.store.table;
      for (const x of t.extras.values()) if (x.purgeAtMs !== undefined && x.purgeAtMs <= clock.now()) expiredSeen++;
      t.statusCounts.forEach((n, s) => { if (n > 0) statusSeen.add(s); });
    }
    // The run must have reached every case the counters answer or correct for.
    assert.ok(expiredSeen > 0, "no step had expired-but-unreaped terminal jobs");
    assert.deepEqual([...statusSeen].sort(), [0, 1, 2, 3, 4]);
  } finally {
    taker.close();
  }
});
