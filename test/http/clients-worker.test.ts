// The official Node client's Worker (API.md §7), emulated: one take stream over HTTP/1.1
// with prefetch = concurrency, jobs processed concurrently, successes acked in bulk and
// failures nacked over the client's one h2c session. Checks each job is processed once
// and the stream never holds more than `concurrency` jobs the worker has not settled.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startServer, type TestServer } from "../helpers/server.ts";
import { cleanupTmp } from "../helpers/tmp.ts";
import { uniq, type Json, type TakeStream } from "./_client.ts";
import { clientTake, NodeClient, type EnqueueOptions } from "./_node-client.ts";
import { assertJobShape } from "./_shape.ts";

const job = (queue: string, extra: Partial<EnqueueOptions> = {}): EnqueueOptions => ({ type: "Send", queue, payload: null, ...extra });

describe("Node client: Worker (prefetch = concurrency, acks in bulk over h2)", () => {
  let w: TestServer;
  let workerClient: NodeClient;
  const takes: TakeStream[] = [];
  const take = async (queues: string[], prefetch: number) => {
    const t = await clientTake(w.url, queues, prefetch);
    takes.push(t);
    return t;
  };
  before(async () => {
    w = await startServer({ heartbeatMs: 20 }); // heartbeats interleave with jobs
    workerClient = await NodeClient.connect(w.url);
  });
  after(async () => {
    await Promise.all(takes.map((t) => t.close()));
    await workerClient.close();
    await w.close();
    cleanupTmp();
  });

  it("processes every job of its queues once, never holds more than `concurrency` unsettled", async () => {
    const [a, b, other] = [uniq("a"), uniq("b"), uniq("c")];
    const concurrency = 4;
    const total = 40;
    const failing = (n: number) => n % 7 === 3;
    const t = await take([a, b], concurrency);
    await t.waitHeartbeats(1); // empty lines before any job are skipped
    await workerClient.enqueueBulk([job(other), job(other), job(other)]);
    const made = await workerClient.enqueueBulk(Array.from({ length: total }, (_, n) => job(n % 2 ? a : b, { payload: { n } })));

    let settledSent = 0; // ids sent in an ack or a nack: the server can free no more slots than this
    let pending: string[] = [];
    let flushing: Promise<void> | undefined;
    const acks: Promise<void>[] = [];
    // One bulk ack in flight at a time; whatever finished meanwhile goes in the next one.
    const flush = () => {
      if (flushing || pending.length === 0) return;
      const ids = pending;
      pending = [];
      settledSent += ids.length;
      flushing = workerClient.reportSuccessBulk(ids).then((r) => {
        assert.equal(r.status, 204);
        flushing = undefined;
        flush();
      });
      acks.push(flushing);
    };
    const processOne = async (j: Json) => {
      assertJobShape(j, { payload: true, enqueue: false });
      await new Promise((r) => setImmediate(r));
      if (failing(j.payload.n)) {
        settledSent++;
        await workerClient.reportFailure(j.id, { message: `n=${j.payload.n}`, errorType: "Error", backtrace: "at worker" });
      } else {
        pending.push(j.id);
        flush();
      }
    };
    const work: Promise<void>[] = [];
    for (let i = 0; i < total; i++) {
      const j = await t.job(i, 10_000);
      assert.ok(t.jobs.length <= settledSent + concurrency, `${t.jobs.length} received with ${settledSent} settled`);
      work.push(processOne(j));
    }
    await Promise.all(work);
    while (flushing) await flushing;
    await Promise.all(acks);
    assert.equal(pending.length, 0);

    assert.deepEqual(t.jobs.map((j) => j.id).sort(), made.map((j) => j.id).sort(), "each job exactly once");
    const failed = made.filter((_, n) => failing(n));
    assert.equal(await workerClient.countJobs({ queue: [a, b] }), failed.length, "acked jobs are gone");
    assert.equal(await workerClient.countJobs({ queue: [a, b], status: ["scheduled"], attempts: "1" }), failed.length);
    const errors = (await workerClient.request("GET", `/jobs/${failed[0].id}/errors`)).body!.errors as Json[];
    assert.deepEqual(errors.map((e) => [e.message, e.error_type, e.backtrace]), [["n=3", "Error", "at worker"]]);
    assert.equal(await workerClient.countJobs({ queue: [other], status: ["ready"] }), 3, "other queues untouched");
  });

  it("reset() → exactly 204, no DATA frame; nothing left", async () => {
    const r = await workerClient.request("POST", "/reset");
    assert.deepEqual([r.status, r.raw.dataEvents, r.raw.endAfterHeaders], [204, 0, true]);
    assert.equal(await workerClient.countJobs(), 0);
    assert.deepEqual(await workerClient.queues(), []);
  });
});
