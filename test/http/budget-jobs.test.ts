// Jobs carrying budgets over HTTP (API-budgets.md §3.2–3.4, §4, §2.9–2.10, §6 cases 10,
// 11, 13–15, 18): the `budgets` field on enqueue (single, bulk), reads, take frames and
// MessagePack; the `budgets.key` filter; the single and bulk job-budget routes; the
// delete and shrink guards. Refused input changes nothing.

import assert from "node:assert/strict";
import http from "node:http";
import { describe, it } from "node:test";
import { decode as unpack, encode as pack } from "@msgpack/msgpack";
import { eventually, startServer } from "../helpers/server.ts";
import { segmentNumbers } from "../helpers/storage.ts";
import { type Json, ack, assertError, count, enqueue, getJob, openTake, rawReq, req, sharedServer, uniq } from "./_client.ts";

const { s, open } = sharedServer();
const wif = (allocation: number): Json => ({ allocation, strategy: { type: "while_in_flight" } });
const tb = (allocation: number, duration_ms: number, burst?: number): Json =>
  ({ allocation, strategy: burst === undefined ? { type: "time_based", duration_ms } : { type: "time_based", duration_ms, burst } });

async function ok(r: Promise<Awaited<ReturnType<typeof req>>>, status = 200): Promise<Json> {
  const res = await r;
  assert.equal(res.status, status, res.text);
  return res.body!;
}
async function budget(policy: Json = tb(1000, 1000)): Promise<string> {
  const k = uniq("b");
  await ok(req(s.url, "POST", `/budgets/${k}`, policy), 201);
  return k;
}
const job = (queue: string, extra: Json = {}): Json => ({ type: "t", queue, payload: { n: 1 }, ...extra });

describe("enqueue with budgets", () => {
  it("the job object carries budgets [{key, cost}] after batch, cost materialised, on every read", async () => {
    const a = await budget();
    const b = await budget(wif(5));
    const q = uniq();
    const created = await ok(req(s.url, "POST", "/jobs", job(q, { budgets: [{ key: a, cost: 2 }, { key: b }] })), 201);
    assert.deepEqual(created.budgets, [{ key: a, cost: 2 }, { key: b, cost: 1 }]);
    assert.deepEqual(Object.keys(created).slice(-3), ["duplicate", "folded", "budgets"]);
    assert.deepEqual((await getJob(s.url, created.id))!.budgets, created.budgets);
    const listed = await ok(req(s.url, "GET", `/jobs?queue=${q}`));
    assert.deepEqual(listed.jobs[0].budgets, created.budgets);
    const plain = await enqueue(s.url, job(q, { budgets: [] }));
    assert.equal("budgets" in plain, false, "omitted, never []");
    const t = await openTake(s.url, `queue=${q}&prefetch=2`);
    open.push(t);
    const frames = await t.waitJobs(2);
    assert.deepEqual(frames.find((f) => f.id === created.id)!.budgets, created.budgets);
    assert.equal("budgets" in frames.find((f) => f.id === plain.id)!, false);
  });

  it("take frames carry budgets in the MessagePack stream and SSE too", async () => {
    const a = await budget();
    for (const accept of ["application/vnd.zizq.msgpack-stream", "text/event-stream"]) {
      const q = uniq();
      const j = await enqueue(s.url, job(q, { budgets: [{ key: a, cost: 2 }] }));
      const chunks: Buffer[] = [];
      const request = http.get(`${s.url}/jobs/take?queue=${q}`, { agent: false, headers: { accept } }, (res) => res.on("data", (c: Buffer) => chunks.push(c)));
      request.on("error", () => {});
      try {
        const frame = await eventually(() => {
          const bytes = Buffer.concat(chunks);
          if (accept === "text/event-stream") {
            const line = bytes.toString().split("\n").find((l) => l.startsWith("data: "));
            return line ? (JSON.parse(line.slice(6)) as Json) : undefined;
          }
          for (let pos = 0; pos + 4 <= bytes.length;) {
            const length = bytes.readUInt32BE(pos);
            if (pos + 4 + length > bytes.length) break;
            if (length > 0) return unpack(bytes.subarray(pos + 4, pos + 4 + length)) as Json;
            pos += 4 + length;
          }
          return undefined;
        }, 10_000, `a ${accept} frame`);
        assert.equal(frame.id, j.id);
        assert.deepEqual(frame.budgets, [{ key: a, cost: 2 }]);
      } finally {
        request.destroy();
      }
    }
  });

  it("MessagePack: enqueue and read back budgets", async () => {
    const a = await budget();
    const headers = { "content-type": "application/msgpack", accept: "application/msgpack" };
    const r = await rawReq(s.url, "POST", "/jobs", headers, Buffer.from(pack(job(uniq(), { budgets: [{ key: a, cost: 3 }] }))));
    assert.equal(r.status, 201);
    const j = unpack(r.body) as Json;
    assert.deepEqual(j.budgets, [{ key: a, cost: 3 }]);
    const g = unpack((await rawReq(s.url, "GET", `/jobs/${j.id}`, { accept: "application/msgpack" })).body) as Json;
    assert.deepEqual(g.budgets, [{ key: a, cost: 3 }]);
  });

  it("create_with creates a missing budget; on an existing one it is ignored", async () => {
    const k = uniq("cw");
    await ok(req(s.url, "POST", "/jobs", job(uniq(), { budgets: [{ key: k, create_with: tb(10, 1000) }] })), 201);
    const made = await ok(req(s.url, "GET", `/budgets/${k}`));
    assert.deepEqual([made.allocation, made.strategy], [10, { type: "time_based", duration_ms: 1000 }]);
    await ok(req(s.url, "POST", "/jobs", job(uniq(), { budgets: [{ key: k, create_with: wif(99) }] })), 201);
    assert.deepEqual(await ok(req(s.url, "GET", `/budgets/${k}`)), made);
  });

  it("bad bindings: status and message per the contract; nothing written", async () => {
    const a = await budget(tb(100, 1000, 5));
    const q = uniq();
    const missing = uniq("nope");
    const cases: [Json[], number, string | RegExp][] = [
      [[{ key: missing }], 422, `budget '${missing}' does not exist and no create_with policy was supplied to create it with`],
      [[{ key: a, cost: 0 }], 422, `budget '${a}' cost must be at least 1`],
      [[{ key: a, cost: 6 }], 422, `cost 6 exceeds budget '${a}', which holds at most 5`],
      [[{ key: a, cost: -1 }], 400, /^invalid JSON: budgets\[0\]\.cost: invalid value/],
      [[{ key: a, cost: 2 ** 32 }], 400, /^invalid JSON: budgets\[0\]\.cost/],
      [[{ key: a }, { key: a }], 422, `budget '${a}' named more than once`],
      [[{ key: "x,y" }], 422, "budget key must not contain ','"],
      [[{ cost: 1 }], 400, "invalid JSON: missing field `key`"],
      [[{ key: uniq("n"), create_with: { allocation: 1, strategy: { type: "bogus" } } }], 422, /^unknown budget strategy: "bogus"/],
      [[{ key: uniq("n"), create_with: { allocation: 1, strategy: { type: "while_in_flight", duration_ms: 1 } } }], 422, /^while_in_flight budget must not set strategy.duration_ms/],
    ];
    for (const [budgets, status, message] of cases) assertError(await req(s.url, "POST", "/jobs", job(q, { budgets })), status, message);
    assertError(await req(s.url, "POST", "/jobs", job(q, { budgets: {} })), 400, "invalid JSON: budgets: invalid type, expected a sequence");
    // Bulk: the whole request fails, the budget error is not prefixed with jobs[i].
    const bulk = await req(s.url, "POST", "/jobs/bulk", { jobs: [job(q), job(q, { budgets: [{ key: missing }] })] });
    assertError(bulk, 422, `budget '${missing}' does not exist and no create_with policy was supplied to create it with`);
    assertError(await req(s.url, "POST", "/jobs/bulk", { jobs: [job(q, { budgets: [{ key: a, cost: -2 }] })] }), 400, /^invalid JSON: jobs\[0\]: budgets\[0\]\.cost/);
    assert.equal(await count(s.url, `queue=${q}`), 0);
    assertError(await req(s.url, "GET", `/budgets/${missing}`), 404, `budget '${missing}' not found`);
  });
});

describe("budgets.key filter", () => {
  it("any-of set, AND-ed with the others, on list/count/delete/patch; empty = no filter; links keep it", async () => {
    const a = await budget();
    const b = await budget();
    const q = uniq();
    await enqueue(s.url, job(q, { budgets: [{ key: a }] }));
    await enqueue(s.url, job(q, { budgets: [{ key: b }, { key: a }] }));
    await enqueue(s.url, job(q, { budgets: [{ key: b }] }));
    await enqueue(s.url, job(q));
    assert.equal(await count(s.url, `queue=${q}&budgets.key=${a}`), 2);
    assert.equal(await count(s.url, `queue=${q}&budgets.key=${a},${b}`), 3);
    assert.equal(await count(s.url, `queue=${q}&budgets.key=`), 4);
    const page = await ok(req(s.url, "GET", `/jobs?queue=${q}&budgets.key=${b}&limit=1`));
    assert.equal(page.pages.next, `/jobs?from=${page.jobs[0].id}&order=asc&limit=1&queue=${q}&budgets.key=${b}`);
    assert.equal((await ok(req(s.url, "PATCH", `/jobs?queue=${q}&budgets.key=${b}`, { priority: 7 }))).patched, 2);
    assert.equal((await ok(req(s.url, "DELETE", `/jobs?queue=${q}&budgets.key=${a}`))).deleted, 2);
    assert.equal(await count(s.url, `queue=${q}`), 2);
  });
});

describe("job-budget routes (one job)", () => {
  it("POST adds (409 if bound), PUT binds or replaces whole, PATCH re-costs (404 if unbound), DELETE unbinds (no-op if unbound)", async () => {
    const a = await budget(tb(10, 1000));
    const b = await budget(tb(10, 1000));
    const j = await enqueue(s.url, job(uniq(), { ready_at: Date.now() + 3_600_000 }));
    const path = (k: string) => `/jobs/${j.id}/budgets/${k}`;
    const added = await ok(req(s.url, "POST", path(a), {}));
    assert.deepEqual(added.budgets, [{ key: a, cost: 1 }]);
    assert.equal("payload" in added || "duplicate" in added, false);
    assertError(await req(s.url, "POST", path(a), { cost: 2 }), 409, `job '${j.id}' already draws on budget '${a}'`);
    assert.deepEqual((await ok(req(s.url, "PUT", path(b), { cost: 4 }))).budgets, [{ key: a, cost: 1 }, { key: b, cost: 4 }]);
    assert.deepEqual((await ok(req(s.url, "PUT", path(a), { cost: 3 }))).budgets, [{ key: a, cost: 3 }, { key: b, cost: 4 }]);
    assert.deepEqual((await ok(req(s.url, "PUT", path(a), {}))).budgets, [{ key: a, cost: 1 }, { key: b, cost: 4 }], "omitted cost → 1");
    assert.deepEqual((await ok(req(s.url, "PATCH", path(b), { cost: 2 }))).budgets, [{ key: a, cost: 1 }, { key: b, cost: 2 }]);
    assertError(await req(s.url, "PATCH", path(b), { cost: 11 }), 422, `cost 11 exceeds budget '${b}', which holds at most 10`);
    assertError(await req(s.url, "PATCH", path(b), {}), 400, "invalid JSON: missing field `cost`");
    assertError(await req(s.url, "PATCH", path(b), { cost: 0 }), 422, `budget '${b}' cost must be at least 1`);
    const c = uniq("c");
    assertError(await req(s.url, "PATCH", path(c), { cost: 1 }), 404, `job '${j.id}' does not draw on budget '${c}'`);
    assertError(await req(s.url, "POST", path(c), {}), 422, `budget '${c}' does not exist and no create_with policy was supplied to create it with`);
    assert.deepEqual((await ok(req(s.url, "DELETE", path(c)))).budgets, [{ key: a, cost: 1 }, { key: b, cost: 2 }]);
    assert.deepEqual((await ok(req(s.url, "DELETE", path(a)))).budgets, [{ key: b, cost: 2 }]);
    const replaced = await ok(req(s.url, "PUT", `/jobs/${j.id}/budgets`, { budgets: [{ key: a, cost: 5 }, { key: c, create_with: wif(2) }] }));
    assert.deepEqual(replaced.budgets, [{ key: a, cost: 5 }, { key: c, cost: 1 }]);
    assertError(await req(s.url, "PUT", `/jobs/${j.id}/budgets`, { budgets: [{ key: a }, { key: a }] }), 422, `budget '${a}' named more than once`);
    assertError(await req(s.url, "PUT", `/jobs/${j.id}/budgets`, { budgets: [{ cost: 1 }] }), 400, "invalid JSON: missing field `key`");
    const cleared = await ok(req(s.url, "DELETE", `/jobs/${j.id}/budgets`));
    assert.equal("budgets" in cleared, false);
    assert.equal("budgets" in (await getJob(s.url, j.id))!, false);
    assertError(await req(s.url, "POST", `/jobs/${"0".repeat(25)}/budgets/${a}`, {}), 404, "job not found");
  });

  it("only queued jobs change: in-flight and completed are 422 (before the bound checks)", async () => {
    const a = await budget();
    const q = uniq();
    const j = await enqueue(s.url, job(q, { budgets: [{ key: a }], retention: { completed_ms: 60_000 } }));
    const t = await openTake(s.url, `queue=${q}`);
    open.push(t);
    await t.waitJobs(1);
    assertError(await req(s.url, "POST", `/jobs/${j.id}/budgets/${a}`, {}), 422, `job '${j.id}' is InFlight — only queued jobs may have their budgets changed`);
    assertError(await req(s.url, "DELETE", `/jobs/${j.id}/budgets`), 422, `job '${j.id}' is InFlight — only queued jobs may have their budgets changed`);
    assert.equal(await ack(s.url, j.id), 204);
    assertError(await req(s.url, "DELETE", `/jobs/${j.id}/budgets/${a}`), 422, `job '${j.id}' is Completed — only queued jobs may have their budgets changed`);
    assert.deepEqual((await getJob(s.url, j.id))!.budgets, [{ key: a, cost: 1 }], "terminal jobs keep their array");
  });
});

describe("job-budget routes (by filter)", () => {
  it("{changed, blocked}: in-flight ids blocked, terminal skipped, unchanged not counted", async () => {
    const a = await budget(tb(100, 1000));
    const q = uniq();
    const jobs = [];
    for (let i = 0; i < 4; i++) jobs.push(await enqueue(s.url, job(q, { retention: { completed_ms: 60_000 } })));
    const t = await openTake(s.url, `queue=${q}&prefetch=2`);
    open.push(t);
    const taken = (await t.waitJobs(2)).map((f) => f.id as string);
    assert.equal(await ack(s.url, taken[1]), 204);
    // The freed credit takes the third job: in flight t0 and t2, completed t1, ready the 4th.
    const held = [taken[0], (await t.job(2)).id as string].sort();
    const r = await ok(req(s.url, "POST", `/jobs/budgets/${a}?queue=${q}`, { cost: 2 }));
    assert.deepEqual(r, { changed: 1, blocked: held });
    assert.deepEqual(await ok(req(s.url, "POST", `/jobs/budgets/${a}?queue=${q}`, {})), { changed: 0, blocked: held });
    assert.deepEqual(await ok(req(s.url, "PATCH", `/jobs/budgets/${a}?queue=${q}`, { cost: 2 })), { changed: 0, blocked: [] });
    assert.deepEqual(await ok(req(s.url, "PATCH", `/jobs/budgets/${a}?queue=${q}`, { cost: 3 })), { changed: 1, blocked: [] });
    assert.deepEqual(await ok(req(s.url, "PUT", `/jobs/budgets/${a}?queue=${q}&status=ready`, {})), { changed: 1, blocked: [] });
    assert.equal(await count(s.url, `budgets.key=${a}`), 1);
    assert.deepEqual(await ok(req(s.url, "DELETE", `/jobs/budgets/${a}?queue=${q}`)), { changed: 1, blocked: [] });
    assert.deepEqual(await ok(req(s.url, "PUT", `/jobs/budgets/${a}?queue=${q}`, { cost: 1 })), { changed: 1, blocked: held });
    assert.deepEqual(await ok(req(s.url, "DELETE", `/jobs/budgets?queue=${q}`)), { changed: 1, blocked: [] });
    const k = uniq("new");
    assert.deepEqual(await ok(req(s.url, "POST", `/jobs/budgets/${k}?queue=${uniq()}`, { create_with: wif(2) })), { changed: 0, blocked: [] });
    await ok(req(s.url, "GET", `/budgets/${k}`));
    const m = uniq("m");
    assertError(await req(s.url, "POST", `/jobs/budgets/${m}?queue=${uniq()}`, {}), 422, `budget '${m}' does not exist and no create_with policy was supplied to create it with`);
    assertError(await req(s.url, "DELETE", `/jobs/budgets?bogus=1`), 400, /^invalid query parameters: unknown field `bogus`/);
  });
});

describe("bulk job-budget changes over many jobs", () => {
  it("run in slices: other requests are answered meanwhile; a job deleted meanwhile and one that takes its slot stay unbound", async () => {
    const a = await budget(tb(1_000_000, 1000));
    const q = uniq();
    const n = 30_000;
    for (let i = 0; i < n; i += 1000) {
      const jobs = Array.from({ length: 1000 }, (_, k) => job(q, { payload: { n: i + k } }));
      await ok(req(s.url, "POST", "/jobs/bulk", { jobs }), 201);
    }
    const victim = (await ok(req(s.url, "GET", `/jobs?queue=${q}&order=desc&limit=1`))).jobs[0].id as string;
    // In one synchronous run (the old code) the bulk answer came before anything sent
    // after it; in slices, requests sent meanwhile are answered before it ends.
    const order: string[] = [];
    const bulk = req(s.url, "POST", `/jobs/budgets/${a}?queue=${q}`, { cost: 1 }).then((r) => (order.push("bulk"), r));
    const health = req(s.url, "GET", "/health").then((r) => (order.push("health"), r));
    const deleted = req(s.url, "DELETE", `/jobs/${victim}`).then((r) => (order.push("delete"), r));
    assert.equal((await health).status, 200);
    assert.equal((await deleted).status, 204);
    // Freed slots are reused: a job made now may sit where the victim was.
    const other = uniq();
    const newcomer = await enqueue(s.url, job(other));
    const r = await bulk;
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(order.slice(0, 2).sort(), ["delete", "health"]);
    assert.equal(order[2], "bulk");
    // The victim counts as changed when its slice ran before the delete, else not.
    assert.ok(r.body!.changed === n - 1 || r.body!.changed === n, r.text);
    assert.deepEqual(r.body!.blocked, []);
    assert.equal(await count(s.url, `budgets.key=${a}`), n - 1);
    assert.equal(await count(s.url, `queue=${q}`), n - 1);
    assert.equal("budgets" in (await getJob(s.url, newcomer.id as string))!, false, "the newcomer draws on nothing");
    assert.equal(await count(s.url, `queue=${other}&budgets.key=${a}`), 0);
  });
});

describe("guards", () => {
  it("DELETE a budget: 409 while an unfinished job draws on it; fine once only terminal ones do, which keep their budgets", async () => {
    const a = await budget();
    const q = uniq();
    const j = await enqueue(s.url, job(q, { budgets: [{ key: a }], retention: { completed_ms: 60_000 } }));
    assertError(await req(s.url, "DELETE", `/budgets/${a}`), 409, `budget '${a}' is referenced by 1 unfinished job. Delete them or wait for them to finish before deleting it.`);
    await enqueue(s.url, job(q, { budgets: [{ key: a }], ready_at: Date.now() + 3_600_000 }));
    assertError(await req(s.url, "DELETE", `/budgets/${a}`), 409, `budget '${a}' is referenced by 2 unfinished jobs. Delete them or wait for them to finish before deleting it.`);
    await ok(req(s.url, "DELETE", `/jobs/budgets/${a}?queue=${q}&status=scheduled`));
    const t = await openTake(s.url, `queue=${q}`);
    open.push(t);
    await t.waitJobs(1);
    assert.equal(await ack(s.url, j.id), 204);
    assert.equal((await req(s.url, "DELETE", `/budgets/${a}`)).status, 204);
    assert.deepEqual((await getJob(s.url, j.id))!.budgets, [{ key: a, cost: 1 }]);
    assert.equal(await count(s.url, `budgets.key=${a}`), 1);
  });

  it("shrink guard: capacity below an unfinished job's cost is 422 and changes nothing; equal is fine; burst is what counts", async () => {
    const a = await budget(tb(10, 1000));
    const q = uniq();
    await enqueue(s.url, job(q, { budgets: [{ key: a, cost: 6 }], ready_at: Date.now() + 3_600_000 }));
    const before = await ok(req(s.url, "GET", `/budgets/${a}`));
    assertError(await req(s.url, "PUT", `/budgets/${a}`, tb(5, 1000)), 422, `budget '${a}' cannot allocate 5: 1 unfinished job draws up to 6 from it. Raise the allocation, delete them, or wait for them to drain.`);
    assertError(await req(s.url, "PATCH", `/budgets/${a}`, { strategy: { burst: 4 } }), 422, `budget '${a}' cannot allocate 4: 1 unfinished job draws up to 6 from it. Raise the allocation, delete them, or wait for them to drain.`);
    assert.deepEqual(await ok(req(s.url, "GET", `/budgets/${a}`)), before);
    await ok(req(s.url, "PATCH", `/budgets/${a}`, { allocation: 6 }));
    await ok(req(s.url, "PATCH", `/budgets/${a}`, { allocation: 3, strategy: { burst: 10 } }), 200);
  });

  it("cron templates: budgets resolved at install (400), echoed, and they block delete and shrink", async () => {
    const a = await budget(tb(10, 1000));
    const g = uniq("g");
    const entry = (budgets: Json[]) => ({ name: "e", expression: "0 0 1 1 *", job: { type: "t", queue: "cq", payload: null, budgets } });
    const missing = uniq("m");
    assertError(await req(s.url, "PUT", `/crons/${g}`, { entries: [entry([{ key: missing }])] }), 400, `budget '${missing}' does not exist and no create_with policy was supplied to create it with`);
    assertError(await req(s.url, "PUT", `/crons/${g}`, { entries: [entry([{ key: a, cost: 11 }])] }), 400, `cost 11 exceeds budget '${a}', which holds at most 10`);
    // The binding rules an enqueue answers with 422 are 400s on every cron install route.
    for (const [bindings, message] of [
      [[{ key: a, cost: 0 }], `budget '${a}' cost must be at least 1`],
      [[{ key: a }, { key: a }], `budget '${a}' named more than once`],
      [[{ key: "x*" }], "budget key must not contain '*' (reserved)"],
    ] as [Json[], string][]) {
      assertError(await req(s.url, "PUT", `/crons/${g}`, { entries: [entry(bindings)] }), 400, message);
      assertError(await req(s.url, "POST", `/crons/${uniq("g")}/entries`, entry(bindings)), 400, message);
      assertError(await req(s.url, "PUT", `/crons/${g}/entries/e`, entry(bindings)), 400, message);
    }
    assert.equal((await req(s.url, "PUT", `/crons/${g}`, { entries: [entry([{ key: uniq("n"), create_with: { allocation: 0, strategy: { type: "while_in_flight" } } }])] })).status, 400);
    const group = await ok(req(s.url, "PUT", `/crons/${g}`, { entries: [entry([{ key: a, cost: 4 }])] }));
    assert.deepEqual(group.entries[0].job.budgets, [{ key: a, cost: 4 }]);
    assertError(await req(s.url, "DELETE", `/budgets/${a}`), 409, `budget '${a}' is referenced by 1 cron entry, including '${g}/e'. Remove them before deleting it.`);
    assertError(await req(s.url, "PATCH", `/budgets/${a}`, { allocation: 3 }), 422, `budget '${a}' cannot allocate 3: cron entry '${g}/e' draws 4 from it. Lower the entry's cost or remove it first.`);
    const k = uniq("cw");
    await ok(req(s.url, "POST", `/crons/${g}/entries`, { ...entry([{ key: k, create_with: wif(2) }]), name: "f" }), 201);
    await ok(req(s.url, "GET", `/budgets/${k}`));
    assert.equal((await req(s.url, "DELETE", `/crons/${g}`)).status, 204);
    assert.equal((await req(s.url, "DELETE", `/budgets/${a}`)).status, 204);
  });

  it("a firing cron entry enqueues a job bound to the template's budgets", async () => {
    const a = await budget(wif(1));
    const g = uniq("g");
    const q = uniq("cq");
    await ok(req(s.url, "PUT", `/crons/${g}`, { entries: [{ name: "e", expression: "* * * * * *", job: { type: "t", queue: q, payload: null, budgets: [{ key: a, cost: 1 }] } }] }));
    try {
      const fired = await eventually(async () => (await ok(req(s.url, "GET", `/jobs?queue=${q}`))).jobs[0], 10_000, "a cron firing");
      assert.deepEqual(fired.budgets, [{ key: a, cost: 1 }]);
    } finally {
      assert.equal((await req(s.url, "DELETE", `/crons/${g}`)).status, 204);
    }
  });
});

describe("dispatch over HTTP", () => {
  it("while_in_flight 1: never two in flight; an ack hands the slot to the next job", async () => {
    const a = await budget(wif(1));
    const q = uniq();
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await enqueue(s.url, job(q, { budgets: [{ key: a }] }))).id);
    const t = await openTake(s.url, `queue=${q}&prefetch=5`);
    open.push(t);
    await t.waitJobs(1);
    assert.equal(await count(s.url, `queue=${q}&status=ready`), 2, "parked jobs stay ready");
    assert.equal(t.jobs.length, 1);
    assert.equal(await ack(s.url, t.jobs[0].id), 204);
    await t.waitJobs(2);
    assert.equal(await ack(s.url, t.jobs[1].id), 204);
    await t.waitJobs(3);
    assert.deepEqual(t.jobs.map((j) => j.id), ids);
  });

  it("time_based 1 per hour, burst 1: one dispatched, the rest stay ready; unbudgeted work is not held up", async () => {
    const a = await budget(tb(1, 3_600_000, 1));
    const q = uniq();
    for (let i = 0; i < 3; i++) await enqueue(s.url, job(q, { budgets: [{ key: a }], priority: 1 }));
    const free = await enqueue(s.url, job(q, { priority: 9 }));
    const t = await openTake(s.url, `queue=${q}&prefetch=10`);
    open.push(t);
    await t.waitJobs(2);
    assert.ok(t.jobs.some((j) => j.id === free.id));
    assert.equal(await count(s.url, `queue=${q}&status=ready,scheduled`), 2);
    // Speeding the rate up re-arms the waker: the parked jobs do not wait out the hour.
    await ok(req(s.url, "PATCH", `/budgets/${a}`, { strategy: { duration_ms: 20 } }));
    await t.waitJobs(4, 20_000);
  });

  it("a disconnect frees the concurrency slot and re-parks the job", async () => {
    const a = await budget(wif(1));
    const q = uniq();
    const j = await enqueue(s.url, job(q, { budgets: [{ key: a }] }));
    const t1 = await openTake(s.url, `queue=${q}`);
    await t1.waitJobs(1);
    await t1.close();
    await eventually(async () => (await getJob(s.url, j.id))!.status === "ready");
    const t2 = await openTake(s.url, `queue=${q}`);
    open.push(t2);
    assert.equal((await t2.job(0)).id, j.id);
  });
});

describe("persistence", () => {
  it("budgets and bindings survive compaction of the segment that held them, and a restart", async () => {
    const s1 = await startServer({ store: { segmentBytes: 64 * 1024 } });
    await ok(req(s1.url, "POST", "/budgets/kept", tb(5, 60_000, 2)), 201);
    const bound = await enqueue(s1.url, job("kq", { budgets: [{ key: "kept", cost: 2 }], ready_at: Date.now() + 3_600_000 }));
    const filler = "x".repeat(4096);
    while (segmentNumbers(s1.dir).length < 3) {
      await ok(req(s1.url, "POST", "/jobs/bulk", { jobs: Array.from({ length: 8 }, () => job("fill", { payload: filler })) }), 201);
    }
    await ok(req(s1.url, "DELETE", "/jobs?queue=fill"));
    const first = segmentNumbers(s1.dir)[0];
    const before = await ok(req(s1.url, "GET", "/budgets/kept"));
    await s1.queue.compact();
    assert.ok(!segmentNumbers(s1.dir).includes(first), "the budget's first segment was retired");
    await s1.close();
    const s2 = await startServer({ dir: s1.dir });
    try {
      assert.deepEqual(await ok(req(s2.url, "GET", "/budgets/kept")), before);
      assert.deepEqual((await getJob(s2.url, bound.id))!.budgets, [{ key: "kept", cost: 2 }]);
    } finally {
      await s2.close();
    }
  });
});
