// An app that makes a queue per tenant (a name per customer, used for a while, then
// empty) must not keep memory for every name it ever used. Each queue that had held jobs
// kept its ready index (~11 KB) and its totals (~700 bytes) for good: 300 MB after 50k
// queues in a probe. Now a queue's index goes with its last job and, past 10,000 queues,
// the totals of empty ones are dropped (lib/queue/stats.ts).

import assert from "node:assert/strict";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { after, test } from "node:test";
import { open } from "../../lib/embedded/open.ts";
import { takeAndAckAll } from "../helpers/take-all.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

after(cleanupTmp);

test("queues that were used once and emptied do not hold memory each", { timeout: 120_000 }, async () => {
  const queue = await open({ dir: tmpDir(), segmentBytes: 4 * 1024 * 1024, reaperCheckIntervalMs: 0 });
  let next = 0;
  /** `n` new queues, a job each, all taken and acked; the heap after a full GC. */
  const useQueues = async (n: number): Promise<number> => {
    for (let i = 0; i < n; i += 1000) {
      await queue.enqueueBulk(Array.from({ length: Math.min(1000, n - i) }, () => ({ type: "t", queue: `tenant-${next++}`, payload: 1 })));
    }
    await takeAndAckAll(queue, n);
    gc();
    return process.memoryUsage().heapUsed;
  };
  try {
    const small = await useQueues(2_000);
    const large = await useQueues(20_000);
    assert.equal(await queue.countJobs(), 0);
    const growthMb = (large - small) / 1e6;
    assert.ok(growthMb < 20, `the heap grew ${growthMb.toFixed(1)} MB over 20,000 more queues`);
  } finally {
    await queue.close();
  }
});
