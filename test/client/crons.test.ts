// Cron methods against a real server: the low-level group/entry calls (CLIENT-API.md
// §3.3.5) and the high-level handles (§7.4) with job functions and the timezone quirk.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Client, ConflictError, CronEntry, CronGroup, NotFoundError, type JobFunction } from "../../lib/client/index.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { cleanupTmp } from "../helpers/tmp.ts";
import { uniq } from "./_setup.ts";

let s: TestServer;
let c: Client;
before(async () => {
  s = await startServer();
  c = new Client({ url: s.url, format: "msgpack" });
});
after(async () => {
  await c.close();
  await s.close();
  cleanupTmp();
});

describe("crons (low level)", () => {
  it("replace, get, list, pause, entries add/get/replace/update/delete, delete group", async () => {
    const name = uniq("g");
    const group = await c.replaceCronGroup(name, {
      entries: [{ name: "nightly", expression: "0 3 * * *", job: { type: "report", queue: "q", payload: { a: 1 }, priority: 5, readyAt: 123 } }],
    });
    assert.ok(group instanceof CronGroup);
    assert.equal(group.paused, false);
    assert.ok(group.entries[0] instanceof CronEntry);
    assert.deepEqual(group.entries[0].job, { type: "report", queue: "q", payload: { a: 1 }, priority: 5 });
    assert.equal(typeof group.entries[0].nextEnqueueAt, "number");
    assert.ok((await c.listCronGroups()).includes(name));
    assert.equal((await c.getCronGroup(name)).entries.length, 1);
    const paused = await group.pause();
    assert.equal(paused.paused, true);
    assert.equal(typeof paused.pausedAt, "number");
    assert.equal((await paused.resume()).paused, false);

    const added = await c.addCronEntry(name, { name: "hourly", expression: "0 * * * *", timezone: "Europe/Paris", job: { type: "t", queue: "q", payload: null } });
    assert.deepEqual([added.name, added.timezone], ["hourly", "Europe/Paris"]);
    await assert.rejects(c.addCronEntry(name, { name: "hourly", expression: "0 * * * *", job: { type: "t", queue: "q", payload: null } }), (err: unknown) =>
      err instanceof ConflictError && err.status === 409 && err.name === "ConflictError");
    const replaced = await c.replaceCronEntry(name, "hourly", { expression: "30 * * * *", job: { type: "t2", queue: "q", payload: 1 } });
    assert.deepEqual([replaced.expression, replaced.job.type], ["30 * * * *", "t2"]);
    assert.equal((await c.updateCronEntry(name, "hourly", { paused: true })).paused, true);
    assert.equal((await c.getCronEntry(name, "hourly")).paused, true);
    await (await c.getCronEntry(name, "hourly")).delete();
    await assert.rejects(c.getCronEntry(name, "hourly"), NotFoundError);
    await assert.rejects(c.deleteCronEntry(name, "hourly"), NotFoundError);
    await c.deleteCronGroup(name);
    await assert.rejects(c.getCronGroup(name), NotFoundError);
  });

  it("deleteAllCrons returns the count", async () => {
    for (const n of [uniq("g"), uniq("g")]) await c.replaceCronGroup(n, { entries: [] });
    assert.ok((await c.deleteAllCrons()) >= 2);
    assert.deepEqual(await c.listCronGroups(), []);
  });
});

describe("crons (handles)", () => {
  it("register resolves job functions; timezone goes into each entry, not the group", async () => {
    const name = uniq("g");
    const sendDigest: JobFunction = Object.assign(async () => {}, { zizqOptions: { queue: "mail", priority: 3 } });
    Object.defineProperty(sendDigest, "name", { value: "sendDigest" });
    const handle = c.cron(name);
    const group = await handle.register({
      timezone: "Asia/Tokyo",
      entries: [
        { name: "a", expression: "0 9 * * *", type: sendDigest, payload: { d: 1 } },
        { name: "b", expression: "0 10 * * *", type: "plain", queue: "q", payload: 2, timezone: "UTC" },
      ],
    });
    assert.deepEqual(group.entries.map((e) => [e.name, e.timezone, e.job.type, e.job.queue]), [
      ["a", "Asia/Tokyo", "sendDigest", "mail"], ["b", "UTC", "plain", "q"],
    ]);
    assert.equal(group.entries[0].job.priority, 3);
    assert.equal(group.timezone, undefined);
    assert.equal((await handle.pause()).paused, true);
    assert.equal((await handle.resume()).paused, false);
    const entry = handle.entry("c");
    const registered = await entry.register({ expression: "*/5 * * * *", type: "five", queue: "q", payload: null });
    assert.equal(registered.name, "c");
    assert.equal((await entry.pause()).paused, true);
    assert.equal((await entry.get()).paused, true);
    assert.equal((await entry.resume()).paused, false);
    await entry.delete();
    assert.equal((await handle.get()).entries.length, 2);
    await assert.rejects(handle.register({ entries: [{ name: "x", expression: "* * * * *", type: "t", payload: 1 }] }),
      { message: 'No queue specified for job type "t"' });
    await handle.delete();
    await assert.rejects(handle.get(), NotFoundError);
  });
});
