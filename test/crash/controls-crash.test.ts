// kill -9 of the real server with production controls in use (docs/api.md "Extensions"):
// a pause (and a resume) survives the restart and a compaction of the segment that held
// it; leases are not persisted, so a job in flight under a lease is ready again after a
// restart with attempts unchanged, while an expiry written before an acknowledged write is
// durable; abandon
// counts (--max-abandons) start afresh after a restart, and a poison death is durable.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { eventually } from "../helpers/server.ts";
import { tmpDir } from "../helpers/tmp.ts";
import { enqueue, enqueueBulk, getJob, openTake, req } from "../http/_client.ts";
import { crashHarness } from "../helpers/crash.ts";

const { spawn, streams } = crashHarness(["--global-in-flight-limit", "0", "--segment-size", "1MiB"]);

describe("kill -9 with production controls", () => {
  it("a pause survives kill -9 and compaction; a resume too", async () => {
    const dir = tmpDir();
    let srv = await spawn(dir);
    assert.equal((await req(srv.url, "POST", "/queues/held/pause")).status, 200);
    assert.equal((await req(srv.url, "POST", "/queues/never-had-jobs/pause")).status, 200);
    assert.equal((await req(srv.url, "POST", "/queues/back/pause")).status, 200);
    const resumed = await req(srv.url, "POST", "/queues/back/resume");
    const job = await enqueue(srv.url, { queue: "held" });
    await srv.kill9();

    srv = await spawn(dir);
    const held = await req(srv.url, "GET", "/queues/held");
    assert.equal(held.body!.paused, true);
    assert.equal((await req(srv.url, "GET", "/queues/never-had-jobs")).body!.paused, true);
    assert.deepEqual((await req(srv.url, "GET", "/queues/back")).body, { ...resumed.body, counts: resumed.body!.counts });
    // Fill and seal segments so compaction copies the pause records forward, then compact.
    const filler = "x".repeat(2000);
    for (let i = 0; i < 6; i++) await enqueueBulk(srv.url, Array.from({ length: 200 }, () => ({ queue: "filler", payload: filler })));
    assert.equal((await req(srv.url, "DELETE", "/jobs?queue=filler")).status, 200);
    assert.equal((await req(srv.adminUrl!, "POST", "/compact")).status, 204);
    // The segment the pauses were written to is gone: they live on only as copies.
    assert.ok(!fs.readdirSync(path.join(dir, "segments")).includes("00000001.seg"), "first segment retired");
    await srv.kill9();

    srv = await spawn(dir);
    assert.equal((await req(srv.url, "GET", "/queues/held")).body!.paused, true);
    assert.equal((await req(srv.url, "GET", "/queues/never-had-jobs")).body!.paused, true);
    assert.equal((await req(srv.url, "GET", "/queues/back")).body!.paused, false);
    // Still skipped by take streams: another queue's job arrives, the paused one stays ready.
    const t = await openTake(srv.url, "prefetch=0");
    streams.push(t);
    const marker = await enqueue(srv.url, { queue: "open" });
    await eventually(() => t.jobs.some((j) => j.id === marker.id), 10_000, "the unpaused job");
    assert.ok(!t.jobs.some((j) => j.id === job.id));
    assert.equal((await getJob(srv.url, job.id))!.status, "ready");
    assert.equal((await req(srv.url, "POST", "/queues/held/resume")).status, 200);
    await eventually(() => t.jobs.some((j) => j.id === job.id), 10_000, "the resumed job");
  });

  it("leases do not outlive the process: in flight → ready with attempts unchanged; an expiry stays", async () => {
    const dir = tmpDir();
    let srv = await spawn(dir, ["--default-lease", "1h"]);
    const slow = { backoff: { exponent: 0, base_ms: 3_600_000, jitter_ms: 0 } };
    const held = await enqueue(srv.url, { queue: "leased", priority: 0, ...slow });
    const expiring = await enqueue(srv.url, { queue: "short", ...slow });
    const t = await openTake(srv.url, "queue=leased");
    streams.push(t);
    await t.job(0);
    const u = await openTake(srv.url, "queue=short&lease=200ms");
    streams.push(u);
    await u.job(0);
    await eventually(async () => (await getJob(srv.url, expiring.id))?.status === "scheduled", 15_000, "the short lease to expire");
    // Nobody is answered for an expiry: a later acknowledged write shows it is on disk.
    await enqueue(srv.url, { queue: "marker" });
    await srv.kill9();
    streams.splice(0).forEach((s) => void s.close());

    srv = await spawn(dir, ["--default-lease", "300ms"]);
    const back = await getJob(srv.url, held.id);
    assert.equal(back!.status, "ready");
    assert.equal(back!.attempts, 0);
    const gone = await getJob(srv.url, expiring.id);
    assert.equal(gone!.status, "scheduled");
    assert.equal(gone!.attempts, 1);
    const errors = (await req(srv.url, "GET", `/jobs/${expiring.id}/errors`)).body!.errors as { message: string }[];
    assert.deepEqual(errors.map((e) => e.message), ["lease expired after 200ms"]);
    // The new server's default lease applies to the next delivery.
    const v = await openTake(srv.url, "queue=leased");
    streams.push(v);
    assert.equal((await v.job(0)).id, held.id);
    await eventually(async () => (await getJob(srv.url, held.id))?.status === "scheduled", 15_000, "the new default lease to expire");
    assert.equal((await req(srv.url, "POST", `/jobs/${held.id}/success`)).status, 404);
  });

  it("abandon counts live in memory: a restart (not the job's fault) starts them afresh", async () => {
    const dir = tmpDir();
    let srv = await spawn(dir, ["--max-abandons", "2"]);
    const job = await enqueue(srv.url, { queue: "poison" });
    const drop = async () => {
      const t = await openTake(srv.url, "queue=poison");
      assert.equal((await t.job(0)).id, job.id);
      await t.close();
    };
    await drop();
    await eventually(async () => (await getJob(srv.url, job.id))?.status === "ready", 10_000, "requeue");
    await srv.kill9();

    srv = await spawn(dir, ["--max-abandons", "2"]);
    await drop();
    await eventually(async () => (await getJob(srv.url, job.id))?.status === "ready", 10_000, "requeue after restart");
    await drop();
    const dead = await eventually(async () => {
      const j = await getJob(srv.url, job.id);
      return j?.status === "dead" ? j : undefined;
    }, 10_000, "the second abandonment since the restart to kill it");
    assert.equal(dead.attempts, 1);
    // The death is durable once a later write was acknowledged (the log is written in
    // order; nobody is answered for the death itself, so GET may see it a moment earlier).
    await enqueue(srv.url, { queue: "marker" });
    await srv.kill9();
    srv = await spawn(dir);
    assert.equal((await getJob(srv.url, job.id))!.status, "dead");
  });
});
