// Extensions: leases and heartbeats, poison jobs (docs/api.md "Extensions"). A job taken
// with `lease=` must be acked, nacked or heartbeated before the lease ends; expiry is a
// failed attempt (`lease expired after …`, backoff and retry limit apply) and a late ack
// is a 404, never a second completion. With maxAbandons N, the Nth delivery that ends with
// no ack/nack (dropped stream, expired lease) kills the job with `abandoned N times`.
// Timing margins are wide (the machine is shared): leases of ~1 s, deadlines of 10 s+.

import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { eventually, startServer, type TestServer } from "../helpers/server.ts";
import { assertError, enqueue, getJob, openTake, req, sharedServer, uniq, type TakeStream } from "./_client.ts";

const { s, open } = sharedServer();
const SLOW_RETRY = { backoff: { exponent: 0, base_ms: 3_600_000, jitter_ms: 0 } };
const errorsOf = async (url: string, id: string) => (await req(url, "GET", `/jobs/${id}/errors`)).body!.errors as { attempt: number; message: string }[];

const others: TestServer[] = [];
after(async () => {
  for (const o of others) await o.close();
});

describe("GET /jobs/take?lease=", () => {
  it("an unacked job's lease expires as a failed attempt; a late ack is a 404", async () => {
    const q = uniq();
    const job = await enqueue(s.url, { queue: q, ...SLOW_RETRY });
    const t = await openTake(s.url, `queue=${q}&lease=300ms`);
    open.push(t);
    await t.job(0);
    const expired = await eventually(async () => {
      const j = await getJob(s.url, job.id);
      return j?.status === "scheduled" ? j : undefined;
    }, 15_000, "the lease to expire");
    assert.equal(expired.attempts, 1);
    assert.deepEqual((await errorsOf(s.url, job.id)).map((e) => [e.attempt, e.message]), [[1, "lease expired after 300ms"]]);
    assertError(await req(s.url, "POST", `/jobs/${job.id}/success`), 404, "job not found in in-flight set");
    assertError(await req(s.url, "POST", `/jobs/${job.id}/heartbeat`), 404, "job not found in in-flight set");
    assert.equal((await getJob(s.url, job.id))!.status, "scheduled");
  });

  it("the retry limit applies: with retry_limit 0 an expired lease kills the job", async () => {
    const q = uniq();
    const job = await enqueue(s.url, { queue: q, retry_limit: 0 });
    const t = await openTake(s.url, `queue=${q}&lease=1`);
    open.push(t);
    await t.job(0);
    await eventually(async () => (await getJob(s.url, job.id))?.status === "dead", 15_000, "the job to die");
    assert.equal((await errorsOf(s.url, job.id))[0].message, "lease expired after 1ms");
  });

  it("heartbeats keep a job in flight well past its lease; the ack then completes it once", async () => {
    const q = uniq();
    const job = await enqueue(s.url, { queue: q, ...SLOW_RETRY });
    // A lease long next to the heartbeat period (250 ms), so a loaded machine that delays
    // one heartbeat by seconds still extends it in time.
    const t = await openTake(s.url, `queue=${q}&lease=4s`);
    open.push(t);
    await t.job(0);
    // A worker's heartbeat loop: every 250 ms for over twice the lease.
    const until = Date.now() + 8500;
    while (Date.now() < until) {
      assert.equal((await req(s.url, "POST", `/jobs/${job.id}/heartbeat`)).status, 204);
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal((await getJob(s.url, job.id))!.status, "in_flight");
    assert.equal((await req(s.url, "POST", `/jobs/${job.id}/success`)).status, 204);
    assert.equal(await getJob(s.url, job.id), undefined);
    assertError(await req(s.url, "POST", `/jobs/${job.id}/success`), 404, "job not found in in-flight set");
  });

  it("a heartbeat naming another worker is a 409; unleased jobs accept heartbeats as no-ops", async () => {
    const q = uniq();
    const job = await enqueue(s.url, { queue: q });
    const t = await openTake(s.url, `queue=${q}`, { "worker-id": "worker-a" });
    open.push(t);
    await t.job(0);
    assertError(await req(s.url, "POST", `/jobs/${job.id}/heartbeat`, undefined, { "worker-id": "worker-b" }), 409, `job ${job.id} is held by another worker`);
    assert.equal((await req(s.url, "POST", `/jobs/${job.id}/heartbeat`, undefined, { "worker-id": "worker-a" })).status, 204);
    assert.equal((await req(s.url, "POST", `/jobs/${job.id}/heartbeat`)).status, 204);
    assert.equal((await getJob(s.url, job.id))!.status, "in_flight");
    assertError(await req(s.url, "POST", "/jobs/0000000000000000000000000/heartbeat"), 404, "job not found in in-flight set");
    const m = await req(s.url, "GET", `/jobs/${job.id}/heartbeat`);
    assert.equal(m.status, 405);
  });

  it("a refused heartbeat extends nothing: the holder's lease still expires", async () => {
    const q = uniq();
    const job = await enqueue(s.url, { queue: q, ...SLOW_RETRY });
    const t = await openTake(s.url, `queue=${q}&lease=400ms`, { "worker-id": "worker-a" });
    open.push(t);
    await t.job(0);
    await eventually(async () => {
      const hb = await req(s.url, "POST", `/jobs/${job.id}/heartbeat`, undefined, { "worker-id": "worker-b" });
      if (hb.status === 409) return false;
      assert.equal(hb.status, 404, hb.text);
      return true;
    }, 15_000, "the lease to expire despite worker-b's heartbeats");
    assert.equal((await getJob(s.url, job.id))!.status, "scheduled");
  });

  it("a bad lease is a 400 JSON error and opens no stream", async () => {
    for (const [lease, why] of [
      ["soon", '"soon" is not a duration'], ["-1s", '"-1s" is not a duration'], ["", '"" is not a duration'],
      ["30 s", '"30 s" is not a duration'], ["8d", "8d exceeds the maximum 7d"], ["1y", '"1y" is not a duration'], ["200h", "200h exceeds the maximum 7d"],
    ]) {
      const r = await req(s.url, "GET", `/jobs/take?lease=${encodeURIComponent(lease)}`);
      assertError(r, 400, new RegExp(`^invalid query parameters: lease: ${why.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
    }
  });
});

describe("--default-lease and --max-abandons", () => {
  it("the default lease applies to streams without lease=; lease=0 opts out", async () => {
    const own = await startServer({ queue: { defaultLeaseMs: 200 } });
    others.push(own);
    const q = uniq();
    const free = await enqueue(own.url, { queue: q, priority: 0 });
    const leased = await enqueue(own.url, { queue: q, priority: 1, ...SLOW_RETRY });
    const u = await openTake(own.url, `queue=${q}&lease=0`);
    assert.equal((await u.job(0)).id, free.id);
    const t = await openTake(own.url, `queue=${q}`);
    assert.equal((await t.job(0)).id, leased.id);
    await eventually(async () => (await getJob(own.url, leased.id))?.status === "scheduled", 15_000, "the default lease to expire");
    // The lease=0 job was delivered before the leased one, so a whole default lease has
    // passed for it too: it is still in flight.
    assert.equal((await getJob(own.url, free.id))!.status, "in_flight");
    assert.equal((await req(own.url, "POST", `/jobs/${free.id}/success`)).status, 204);
    await t.close();
    await u.close();
  });

  it("the Nth dropped delivery kills a job with `abandoned N times`", async () => {
    const own = await startServer({ queue: { maxAbandons: 3 } });
    others.push(own);
    const q = uniq();
    const job = await enqueue(own.url, { queue: q });
    for (let i = 1; i <= 3; i++) {
      const t: TakeStream = await openTake(own.url, `queue=${q}`);
      assert.equal((await t.job(0)).id, job.id);
      await t.close();
      if (i < 3) await eventually(async () => (await getJob(own.url, job.id))?.status === "ready", 10_000, "requeue");
    }
    const dead = await eventually(async () => {
      const j = await getJob(own.url, job.id);
      return j?.status === "dead" ? j : undefined;
    }, 10_000, "the job to die");
    assert.equal(dead.attempts, 1);
    assert.deepEqual((await errorsOf(own.url, job.id)).map((e) => [e.attempt, e.message]), [[1, "abandoned 3 times"]]);
    // A retry starts the count afresh.
    assert.equal((await req(own.url, "POST", `/jobs/${job.id}/retry`)).status, 200);
    const t = await openTake(own.url, `queue=${q}`);
    await t.job(0);
    await t.close();
    await eventually(async () => (await getJob(own.url, job.id))?.status === "ready", 10_000, "requeue after retry");
  });

  it("expired leases count as abandonments too", async () => {
    const own = await startServer({ queue: { maxAbandons: 2 } });
    others.push(own);
    const q = uniq();
    const job = await enqueue(own.url, { queue: q, backoff: { exponent: 0, base_ms: 0, jitter_ms: 0 } });
    const t = await openTake(own.url, `queue=${q}&lease=100ms`);
    await eventually(async () => (await getJob(own.url, job.id))?.status === "dead", 15_000, "the job to die");
    await t.close();
    assert.deepEqual((await errorsOf(own.url, job.id)).map((e) => [e.attempt, e.message]), [[1, "lease expired after 100ms"], [2, "abandoned 2 times"]]);
  });

  it("without --max-abandons a job survives any number of dropped streams (API.md: requeue)", async () => {
    const q = uniq();
    const job = await enqueue(s.url, { queue: q });
    for (let i = 0; i < 6; i++) {
      const t = await openTake(s.url, `queue=${q}`);
      assert.equal((await t.job(0)).id, job.id);
      await t.close();
      await eventually(async () => (await getJob(s.url, job.id))?.status === "ready", 10_000, "requeue");
    }
    assert.equal((await getJob(s.url, job.id))!.attempts, 0);
  });
});
