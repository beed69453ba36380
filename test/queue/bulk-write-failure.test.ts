// Bulk operations write in many chunks while they yield to the loop between slices. A
// chunk's write that fails meanwhile must reach the caller as the operation's error,
// never as an unhandled rejection (which ends a Node process), and every chunk whose
// write failed must leave its jobs as they were.

import assert from "node:assert/strict";
import { after, it } from "node:test";
import { createQueue } from "../../lib/queue/queue.ts";
import { StorageError } from "../../lib/storage/errors.ts";
import { openStore } from "../../lib/storage/store.ts";
import { FaultyFs } from "../helpers/faulty-fs.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";

const fs = new FaultyFs();
const store = await openStore({ dir: tmpDir("zizq-bulk-fail-"), segmentBytes: 4 * 1024 * 1024, fs });
const queue = createQueue(store, { reaperIntervalMs: 0 });
after(async () => {
  queue.stop();
  await store.close();
  cleanupTmp();
});

/** An EIO reaches the caller as the storage error it is (a logged 500 over HTTP). */
const isIoError = (err: unknown): boolean => err instanceof StorageError && err.kind === "io";

const JOBS = 20_000;
for (let i = 0; i < JOBS; i += 1000) {
  await queue.enqueueBulk({ jobs: Array.from({ length: 1000 }, (_, j) => ({ type: "t", queue: "q", payload: { n: i + j } })) });
}

/** Runs `work` with segment writes failing (EIO), and returns the unhandled rejections seen meanwhile. */
async function withFailingWrites(work: () => Promise<void>): Promise<unknown[]> {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on("unhandledRejection", onUnhandled);
  fs.failWrite({ kind: "eio", persistent: true });
  try {
    await work();
    // Rejections are judged unhandled after the microtasks of the turn they happen in.
    for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  } finally {
    fs.clear();
    process.off("unhandledRejection", onUnhandled);
  }
  return unhandled;
}

it("DELETE /jobs whose writes fail mid-way rejects once, leaves every job, and no rejection goes unhandled", async () => {
  const unhandled = await withFailingWrites(async () => {
    await assert.rejects(queue.deleteMany({ queues: ["q"] }), isIoError);
  });
  assert.deepEqual(unhandled, []);
  assert.equal(await queue.count({ queues: ["q"] }), JOBS);
  // The store goes on working once the disk does.
  assert.equal(await queue.deleteMany({ queues: ["q"] }), JOBS);
  assert.equal(await queue.count({ queues: ["q"] }), 0);
});

it("PATCH /jobs whose writes fail mid-way rejects once, changes no job it could not write, and no rejection goes unhandled", async () => {
  await queue.enqueueBulk({ jobs: Array.from({ length: 5000 }, (_, n) => ({ type: "t", queue: "p", priority: 5, payload: { n } })) });
  const unhandled = await withFailingWrites(async () => {
    await assert.rejects(queue.patchMany({ queues: ["p"] }, { priority: 9 }), isIoError);
  });
  assert.deepEqual(unhandled, []);
  const page = await queue.list({ filter: { queues: ["p"] }, order: "asc", limit: 5000 });
  assert.equal(page.jobs.length, 5000);
  assert.ok(page.jobs.every((j) => j.job.priority === 5), "every write failed, so every job kept its priority");
  assert.equal(await queue.patchMany({ queues: ["p"] }, { priority: 9 }), 5000);
});
