// Issue 4 over HTTP, part 1: GET /jobs and GET /jobs/count with every filter (sets,
// every range shape, jq incl. the Node client's generated shapes), order, limit bounds,
// canonical page links, and following next/prev links verbatim across several pages.
// Expectations come from a local model of a fixture built through the API.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startServer, type TestServer } from "../helpers/server.ts";
import { cleanupTmp } from "../helpers/tmp.ts";
import { assertError, enqueue, enqueueBulk, getJob, openTake, req, uniq, type Json, type TakeStream } from "./_client.ts";

let s: TestServer;
let stream: TakeStream;
/** The fixture as GET /jobs/{id} reports it, in id order. */
let jobs: Json[] = [];
let T = 0; // ready_at boundary: every scheduled fixture job is after it, every other one before

before(async () => {
  s = await startServer();
  T = Date.now() + 1_800_000;
  // gamma: taken, then one retried (scheduled, attempts 1), one killed, one left in flight and moved to beta.
  const [g6, g7, g8] = await enqueueBulk(s.url, [
    { queue: "gamma", type: "A", priority: 10, payload: { n: 6, tags: [] } },
    { queue: "gamma", type: "A", priority: 20, payload: { n: 7 } },
    { queue: "gamma", type: "B", priority: 30, payload: { n: 8, user: { name: "bea" } } },
  ]);
  stream = await openTake(s.url, "queue=gamma&prefetch=3");
  await stream.waitJobs(3);
  await req(s.url, "POST", `/jobs/${g6.id}/failure`, { message: "retry", retry_at: T + 3_600_000 });
  await req(s.url, "POST", `/jobs/${g7.id}/failure`, { message: "die", kill: true });
  assert.equal((await req(s.url, "PATCH", `/jobs/${g8.id}`, { queue: "beta" })).status, 200);
  await enqueueBulk(s.url, [
    { queue: "alpha", type: "A", priority: 10, payload: { n: 0, tags: ["x", "y"], user: { name: "ann" } } },
    { queue: "alpha", type: "B", priority: 20, payload: { n: 1, tags: ["y"], user: { name: "bob" } } },
    { queue: "alpha", type: "A", priority: 30, payload: [1, 2, 3] },
    { queue: "alpha", type: "B", priority: 10, payload: "hello world", ready_at: T + 1000 },
    { queue: "beta", type: "A", priority: 0, payload: { n: 4 } },
    { queue: "beta", type: "C", priority: 65535, payload: null },
    { queue: "a&b c", type: "A+B", priority: 5, payload: [1, 2] },
  ]);
  const all = await req(s.url, "GET", "/jobs?limit=2000");
  jobs = all.body!.jobs as Json[];
  assert.equal(jobs.length, 10);
});
after(async () => {
  await stream.close();
  await s.close();
  cleanupTmp();
});

const ids = (list: Json[]) => list.map((j) => j.id as string);

/** GET /jobs?<query> and GET /jobs/count?<query> both match the model's `pick`. */
async function check(query: string, pick: (j: Json) => boolean): Promise<void> {
  const expected = ids(jobs.filter(pick));
  const list = await req(s.url, "GET", `/jobs?limit=2000&${query}`);
  assert.equal(list.status, 200, `${query}: ${list.text}`);
  assert.deepEqual(ids(list.body!.jobs), expected, query);
  const c = await req(s.url, "GET", `/jobs/count?${query}`);
  assert.equal(c.status, 200, `${query}: ${c.text}`);
  assert.deepEqual(c.body, { count: expected.length }, query);
}

describe("GET /jobs and /jobs/count: filters", () => {
  it("lists every job with its payload, in id order", async () => {
    const r = await req(s.url, "GET", "/jobs");
    assert.deepEqual(Object.keys(r.body!), ["jobs", "pages"]);
    assert.deepEqual([...ids(r.body!.jobs)].sort(), ids(r.body!.jobs));
    for (const j of jobs) assert.deepEqual(j, await getJob(s.url, j.id));
    assert.ok(jobs.every((j) => "payload" in j));
    assert.deepEqual((await req(s.url, "GET", "/jobs/count")).body, { count: 10 });
  });

  it("comma sets: queue, type, status, id (empty segments dropped, empty value = no filter)", async () => {
    await check("queue=alpha", (j) => j.queue === "alpha");
    await check("queue=alpha%2Cbeta,", (j) => j.queue === "alpha" || j.queue === "beta");
    await check(`queue=${encodeURIComponent("a&b c")}`, (j) => j.queue === "a&b c");
    await check("queue=a%26b+c", (j) => j.queue === "a&b c");
    await check("queue=", () => true);
    await check("queue=nope", () => false);
    await check("type=B,C", (j) => j.type === "B" || j.type === "C");
    await check("type=A%2BB", (j) => j.type === "A+B");
    await check("status=scheduled", (j) => j.status === "scheduled");
    await check("status=dead,in_flight", (j) => j.status === "dead" || j.status === "in_flight");
    await check("status=ready&queue=alpha&type=A", (j) => j.status === "ready" && j.queue === "alpha" && j.type === "A");
    await check(`id=${jobs[1].id},${jobs[7].id},03fr1jkpcsipbsckqj0y6pgr7`, (j) => j.id === jobs[1].id || j.id === jobs[7].id);
    await check(`id=${jobs[1].id}&queue=alpha`, () => false);
  });

  it("ranges: N, A..B, ..B, A.., .. for priority, ready_at and attempts", async () => {
    await check("priority=10", (j) => j.priority === 10);
    await check("priority=10..20", (j) => j.priority >= 10 && j.priority <= 20);
    await check("priority=..10", (j) => j.priority <= 10);
    await check("priority=30..", (j) => j.priority >= 30);
    await check("priority=..", () => true);
    await check("priority=65535", (j) => j.priority === 65535);
    await check(`ready_at=${T}..`, (j) => j.ready_at >= T);
    await check(`ready_at=..${T}`, (j) => j.ready_at <= T);
    await check(`ready_at=${T + 1000}`, (j) => j.ready_at === T + 1000);
    await check("ready_at=..18446744073709551615", () => true);
    await check(`ready_at=${T - 3_600_000}..${T + 1000}`, (j) => j.ready_at >= T - 3_600_000 && j.ready_at <= T + 1000);
    await check("ready_at=..", () => true);
    await check("attempts=0..1", (j) => j.attempts <= 1);
    await check("attempts=..", () => true);
    await check("attempts=2..", () => false);
    await check("attempts=1", (j) => j.attempts === 1);
    await check("attempts=..0", (j) => j.attempts === 0);
    await check("attempts=1..&status=dead", (j) => j.attempts >= 1 && j.status === "dead");
  });

  it("jq filters, incl. the Node client's generated shapes", async () => {
    const q = (f: string) => `filter=${encodeURIComponent(f)}`;
    const p = (j: Json) => j.payload;
    await check(q('. == {"n":4}'), (j) => p(j)?.n === 4);
    await check(q('. | contains({"tags":["y"]})'), (j) => Array.isArray(p(j)?.tags) && p(j).tags.includes("y"));
    await check(q(". | contains({\"user\":{\"name\":\"b\"}})"), (j) => /b/.test(p(j)?.user?.name ?? ""));
    await check(q(".[0:2] == [1,2]"), (j) => Array.isArray(p(j)));
    await check(q(". == \"hello world\""), (j) => p(j) === "hello world");
    await check(q(". == null"), (j) => p(j) === null);
    // (f1) and (f2), and the unparenthesised first filter the Node client writes.
    await check(q('(. | contains({"tags":["y"]})) and (.n == 1)'), (j) => p(j)?.n === 1);
    await check(q('. | contains({"tags":["y"]}) and (.user.name | startswith("a"))'), (j) => p(j)?.n === 0);
    // Runtime errors (strings have no .user, arrays no keys) are no match, not a failure.
    await check(q('.user.name | startswith("b")'), (j) => /^b/.test(p(j)?.user?.name ?? ""));
    await check(q(".n >= 4") + "&queue=beta", (j) => j.queue === "beta" && p(j)?.n >= 4);
    await check(q("false, 1"), () => true);
    await check(q("empty"), () => false);
    await check(q(".n") + "&status=ready", (j) => j.status === "ready" && typeof p(j)?.n === "number");
  });

  it("bad filters → 400 with the exact messages", async () => {
    for (const path of ["/jobs", "/jobs/count"]) {
      assertError(await req(s.url, "GET", `${path}?id=abc`), 400, 'invalid job ID: "abc"');
      assertError(await req(s.url, "GET", `${path}?id=${jobs[0].id},${jobs[0].id.toUpperCase()}`), 400,
        `invalid job ID: "${jobs[0].id.toUpperCase()}"`);
      assertError(await req(s.url, "GET", `${path}?filter=${encodeURIComponent("((")}`), 400, /^invalid filter: \S/);
      for (const bad of ["priority=20..10", "priority=abc", "priority=-1", "priority=65536", "priority=1.5",
        "attempts=4294967296", "ready_at=18446744073709551616", "ready_at=5..4", "status=banana", "bogus=1"]) {
        assertError(await req(s.url, "GET", `${path}?${bad}`), 400, /^invalid query parameters: /);
      }
    }
    for (const bad of ["from=x", "order=asc", "limit=5"]) {
      assertError(await req(s.url, "GET", `/jobs/count?${bad}`), 400, /^invalid query parameters: /);
    }
    assertError(await req(s.url, "GET", "/jobs?order=sideways"), 400, /^invalid query parameters: /);
    assertError(await req(s.url, "GET", "/jobs?limit=abc"), 400, /^invalid query parameters: /);
  });
});

describe("GET /jobs: order, limit, page links", () => {
  it("order=desc reverses; limit bounds 1..2000", async () => {
    const desc = await req(s.url, "GET", "/jobs?order=desc");
    assert.deepEqual(ids(desc.body!.jobs), ids(jobs).reverse());
    assert.equal((await req(s.url, "GET", "/jobs?limit=1")).body!.jobs.length, 1);
    assert.equal((await req(s.url, "GET", "/jobs?limit=2000")).status, 200);
    for (const limit of ["0", "2001", "100000"]) {
      assertError(await req(s.url, "GET", `/jobs?limit=${limit}`), 400, "limit must be between 1 and 2000");
    }
  });

  it("self/next/prev in canonical form; next and prev are null, not omitted", async () => {
    const r = await req(s.url, "GET", "/jobs?queue=beta,alpha,&status=dead,ready&priority=..&type=&limit=2&attempts=0..");
    assert.deepEqual(r.body!.pages, {
      self: "/jobs?order=asc&limit=2&status=ready,dead&queue=alpha,beta&priority=..65535&attempts=..4294967295",
      next: `/jobs?from=${r.body!.jobs[1].id}&order=asc&limit=2&status=ready,dead&queue=alpha,beta&priority=..65535&attempts=..4294967295`,
      prev: null,
    });
    const plain = await req(s.url, "GET", "/jobs");
    assert.deepEqual(plain.body!.pages, { self: "/jobs?order=asc&limit=50", next: null, prev: null });
    const f = await req(s.url, "GET", `/jobs?filter=${encodeURIComponent('. == {"a b":1}')}&order=desc&ready_at=5&queue=${encodeURIComponent("a&b c")}`);
    assert.equal(f.body!.pages.self,
      "/jobs?order=desc&limit=50&queue=a%26b%20c&ready_at=5&filter=.%20%3D%3D%20%7B%22a%20b%22%3A1%7D");
    const page = await req(s.url, "GET", "/jobs?limit=3");
    assert.deepEqual(page.body!.pages, { self: "/jobs?order=asc&limit=3", next: `/jobs?from=${jobs[2].id}&order=asc&limit=3`, prev: null });
    const second = await req(s.url, "GET", page.body!.pages.next);
    assert.deepEqual(ids(second.body!.jobs), ids(jobs.slice(3, 6)));
    assert.deepEqual(second.body!.pages, {
      self: `/jobs?from=${jobs[2].id}&order=asc&limit=3`,
      next: `/jobs?from=${jobs[5].id}&order=asc&limit=3`,
      prev: `/jobs?from=${jobs[3].id}&order=desc&limit=3`,
    });
    // Exactly `limit` rows left: no next link.
    const last = await req(s.url, "GET", `/jobs?from=${jobs[6].id}&limit=3`);
    assert.equal(last.body!.jobs.length, 3);
    assert.equal(last.body!.pages.next, null);
    // A cursor past the end: empty page, no prev either.
    const empty = await req(s.url, "GET", `/jobs?from=${jobs[9].id}`);
    assert.deepEqual(empty.body!.jobs, []);
    assert.deepEqual([empty.body!.pages.next, empty.body!.pages.prev], [null, null]);
  });

  it("following links verbatim visits every job exactly once, both directions, several pages", async () => {
    const x = await startServer();
    try {
      const q = uniq();
      const made: Json[] = [];
      for (let i = 0; i < 5; i++) {
        made.push(...await enqueueBulk(x.url, Array.from({ length: 50 }, (_, n) => ({ queue: q, priority: n % 3, payload: i * 50 + n }))));
      }
      await enqueue(x.url, { queue: "other" });
      const all = ids(made);
      for (const order of ["asc", "desc"] as const) {
        const expected = order === "asc" ? all : [...all].reverse();
        const pages: Json[] = [];
        let link: string | null = `/jobs?queue=${q}&order=${order}&limit=40`;
        while (link !== null) {
          const r = await req(x.url, "GET", link);
          assert.equal(r.status, 200);
          pages.push(r.body!);
          link = r.body!.pages.next;
          assert.ok(pages.length <= 10, "runaway pagination");
        }
        assert.equal(pages.length, 7);
        assert.deepEqual(pages.flatMap((p) => ids(p.jobs)), expected);
        // Each page's prev link gives the page before it, in reversed order.
        for (let k = 1; k < pages.length; k++) {
          const prev = await req(x.url, "GET", pages[k].pages.prev);
          assert.deepEqual(ids(prev.body!.jobs), ids(pages[k - 1].jobs).reverse(), `prev of page ${k}`);
        }
        assert.equal(pages[0].pages.prev, null);
      }
      // A page walked through a jq filter and the Node client's limit keeps the same guarantees.
      const filter = encodeURIComponent(". >= 100");
      let link: string | null = `/jobs?queue=${q}&limit=7&filter=${filter}`;
      const seen: unknown[] = [];
      while (link !== null) {
        const r = await req(x.url, "GET", link);
        seen.push(...(r.body!.jobs as Json[]).map((j) => j.payload));
        link = r.body!.pages.next;
      }
      assert.deepEqual(seen, Array.from({ length: 150 }, (_, n) => n + 100));
    } finally {
      await x.close();
    }
  });
});
