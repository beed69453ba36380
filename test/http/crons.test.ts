// The cron API, black-box (API.md §2.4, §3.19, §4.5): every endpoint with its status
// codes and messages, the §2.4 shapes, replace/merge and pause stamping, firing with a
// six-field every-second expression (paused entries only advance, unique keys dedup at
// fire time), persistence across a restart of the same dir, and POST /reset.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { decode as unpack, encode as pack } from "@msgpack/msgpack";
import { toNodeHandler } from "h3/node";
import { createApp } from "../../lib/http/app.ts";
import { listen } from "../../lib/http/listen.ts";
import { createQueue } from "../../lib/queue/queue.ts";
import { openStore } from "../../lib/storage/store.ts";
import { type TestServer, startServer, eventually } from "../helpers/server.ts";
import { segmentNumbers } from "../helpers/storage.ts";
import { tmpDir } from "../helpers/tmp.ts";
import { type Json, assertError, count, req, uniq } from "./_client.ts";

const job = (queue = "cq", extra: Json = {}): Json => ({ type: "t", queue, payload: null, ...extra });
const entry = (name: string, extra: Json = {}): Json => ({ name, expression: "0 0 * * *", job: job(), ...extra });

async function ok(r: Promise<Awaited<ReturnType<typeof req>>>, status = 200): Promise<Json> {
  const res = await r;
  assert.equal(res.status, status, res.text);
  return res.body!;
}


describe("cron API", () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
  });
  after(() => s.close());

  it("PUT /crons/{group}: 200, entries in request order, exact §2.4 shapes", async () => {
    const g = uniq("g");
    const body = `{"paused":false,"entries":[
      {"name":"b","expression":"* * * * *","timezone":"Europe/Paris","job":{"type":"t","queue":"cq","payload":{"x":1.0,"big":12345678901234567890},
        "retry_limit":3,"backoff":{"exponent":2,"base_ms":10,"jitter_ms":0},"retention":{"dead_ms":5},"unique_key":"k","unique_while":"exists"}},
      {"name":"a","expression":"0 0 1 1 *","paused":true,"job":{"type":"t","queue":"cq","payload":null,"priority":7,
        "batch":{"key":"bk","when":"true","fold":"$new"}}}]}`;
    const r = await req(s.url, "PUT", `/crons/${g}`, body);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get("content-type"), "application/json");
    const group = r.body!;
    assert.deepEqual(Object.keys(group), ["name", "paused", "entries"]);
    assert.equal(group.name, g);
    const [b, a] = group.entries as Json[];
    assert.deepEqual(Object.keys(b), ["name", "expression", "timezone", "paused", "job", "next_enqueue_at"]);
    assert.deepEqual(Object.keys(b.job), ["type", "queue", "priority", "payload", "retry_limit", "backoff", "retention", "unique_key", "unique_while"]);
    // Payload numbers verbatim, priority materialised, exponent as a float.
    assert.match(r.text, /"payload":\{"x":1\.0,"big":12345678901234567890\}/);
    assert.match(r.text, /"backoff":\{"exponent":2\.0,"base_ms":10,"jitter_ms":0\}/);
    assert.equal(b.job.priority, 32768);
    assert.equal(b.next_enqueue_at % 60_000, 0);
    assert.ok(b.next_enqueue_at > Date.now() - 1000);
    assert.deepEqual(Object.keys(a), ["name", "expression", "paused", "job", "next_enqueue_at"]);
    assert.deepEqual(a.job, { type: "t", queue: "cq", priority: 7, payload: null, batch: { key: "bk", when: "true", fold: "$new" } });
    assert.equal(a.paused, true); // a new entry created paused gets no paused_at
  });

  it("GET /crons sorted; GET group sorts entries; 404 messages", async () => {
    const [g1, g2] = [uniq("z"), uniq("a")];
    await ok(req(s.url, "PUT", `/crons/${g1}`, { entries: [entry("y"), entry("x")] }));
    await ok(req(s.url, "PUT", `/crons/${g2}`, { entries: [] }));
    const names = (await ok(req(s.url, "GET", "/crons"))).crons as string[];
    assert.deepEqual(names, [...names].sort());
    assert.ok(names.includes(g1) && names.includes(g2));
    const group = await ok(req(s.url, "GET", `/crons/${g1}`));
    assert.deepEqual(group.entries.map((e: Json) => e.name), ["x", "y"]);
    assertError(await req(s.url, "GET", "/crons/nope"), 404, "cron group 'nope' not found");
    assertError(await req(s.url, "GET", "/crons/nope/entries/e"), 404, "cron group 'nope' not found");
    assertError(await req(s.url, "GET", `/crons/${g1}/entries/e`), 404, `cron entry 'e' not found in group '${g1}'`);
    assertError(await req(s.url, "PATCH", "/crons/nope", { paused: true }), 404, "cron group 'nope' not found");
    assertError(await req(s.url, "PATCH", `/crons/${g1}/entries/e`, { paused: true }), 404, `cron entry 'e' not found in group '${g1}'`);
    assertError(await req(s.url, "DELETE", "/crons/nope"), 404, "cron group 'nope' not found");
    assertError(await req(s.url, "DELETE", `/crons/${g1}/entries/e`), 404, `cron entry 'e' not found in group '${g1}'`);
  });

  it("PUT group replaces and merges: next/last kept for the same expression, absent entries deleted", async () => {
    const g = uniq("g");
    const first = await ok(req(s.url, "PUT", `/crons/${g}`, { entries: [entry("a"), entry("b", { expression: "0 0 1 1 *" })] }));
    const [a0, b0] = first.entries as Json[];
    const second = await ok(req(s.url, "PUT", `/crons/${g}`, {
      entries: [entry("c"), entry("a", { timezone: "UTC", job: job("other") }), entry("b", { expression: "0 0 2 1 *" })],
    }));
    assert.deepEqual(second.entries.map((e: Json) => e.name), ["c", "a", "b"]);
    const [, a1, b1] = second.entries as Json[];
    assert.equal(a1.next_enqueue_at, a0.next_enqueue_at); // same expression: kept
    assert.equal(a1.timezone, "UTC"); // timezone and template always replaced
    assert.equal(a1.job.queue, "other");
    assert.equal(b1.next_enqueue_at - b0.next_enqueue_at, 86_400_000); // recomputed
    const third = await ok(req(s.url, "PUT", `/crons/${g}`, { entries: [entry("c")] }));
    assert.deepEqual(third.entries.map((e: Json) => e.name), ["c"]);
    assertError(await req(s.url, "GET", `/crons/${g}/entries/a`), 404, `cron entry 'a' not found in group '${g}'`);
  });

  it("pause stamping on groups and entries (PUT and PATCH)", async () => {
    const g = uniq("g");
    const t0 = Date.now();
    const created = await ok(req(s.url, "PUT", `/crons/${g}`, { paused: true, entries: [entry("e")] }));
    assert.equal(created.paused, true);
    assert.ok(created.paused_at >= t0);
    assert.equal(created.resumed_at, undefined);
    const kept = await ok(req(s.url, "PUT", `/crons/${g}`, { entries: [entry("e")] }));
    assert.equal(kept.paused, true); // omitted → unchanged
    assert.equal(kept.paused_at, created.paused_at);
    const resumed = await ok(req(s.url, "PATCH", `/crons/${g}`, { paused: false }));
    assert.deepEqual(Object.keys(resumed), ["name", "paused", "paused_at", "resumed_at", "entries"]);
    assert.equal(resumed.paused_at, created.paused_at); // older stamp kept
    const again = await ok(req(s.url, "PATCH", `/crons/${g}`, { paused: false }));
    assert.equal(again.resumed_at, resumed.resumed_at); // no-op when unchanged
    const e1 = await ok(req(s.url, "PATCH", `/crons/${g}/entries/e`, { paused: true }));
    assert.deepEqual(Object.keys(e1), ["name", "expression", "paused", "paused_at", "job", "next_enqueue_at"]);
    const e2 = await ok(req(s.url, "PUT", `/crons/${g}/entries/e`, entry("e", { paused: false })));
    assert.deepEqual([e2.paused, e2.paused_at, typeof e2.resumed_at], [false, e1.paused_at, "number"]);
    // 0.7: `paused` is optional on the group PATCH; `{}` changes nothing.
    const same = await ok(req(s.url, "PATCH", `/crons/${g}`, {}));
    assert.deepEqual([same.paused, same.resumed_at], [false, resumed.resumed_at]);
    assertError(await req(s.url, "PATCH", `/crons/${g}`, { paused: 1 }), 400, /^invalid JSON: paused: invalid type/);
  });

  it("POST entries 201/409, PUT entry (path name wins), DELETE entry/group 204", async () => {
    const g = uniq("g");
    const added = await ok(req(s.url, "POST", `/crons/${g}/entries`, entry("e")), 201);
    assert.equal(added.name, "e");
    assert.equal((await ok(req(s.url, "GET", `/crons/${g}`))).paused, false); // group created
    assertError(await req(s.url, "POST", `/crons/${g}/entries`, entry("e")), 409, `cron entry 'e' already exists in group '${g}'`);
    const put = await ok(req(s.url, "PUT", `/crons/${g}/entries/f`, entry("ignored")));
    assert.equal(put.name, "f");
    assert.deepEqual(await ok(req(s.url, "GET", `/crons/${g}/entries/f`)), put);
    const g2 = uniq("g");
    await ok(req(s.url, "PUT", `/crons/${g2}/entries/x`, entry("x"))); // creates the group too
    let r = await req(s.url, "DELETE", `/crons/${g}/entries/e`);
    assert.equal(r.status, 204);
    assert.equal(r.text, "");
    assert.deepEqual((await ok(req(s.url, "GET", `/crons/${g}`))).entries.map((e: Json) => e.name), ["f"]);
    r = await req(s.url, "DELETE", `/crons/${g}`);
    assert.equal(r.status, 204);
    assertError(await req(s.url, "GET", `/crons/${g}`), 404, `cron group '${g}' not found`);
  });

  it("PUT entry: the path name, which wins, is held to the body name's rules (400, nothing stored)", async () => {
    const g = uniq("g");
    const cases: [string, string][] = [
      ["a%2Cb", "cron entry name must not contain ','"],
      ["a%00b", "cron entry name must not contain null bytes"],
      ["x".repeat(256), "cron entry name must be at most 255 bytes (UTF-8)"],
      ["a%2A", "cron entry name must not contain '*' (reserved)"],
    ];
    for (const [path, message] of cases) {
      assertError(await req(s.url, "PUT", `/crons/${g}/entries/${path}`, entry("ok")), 400, message);
    }
    assertError(await req(s.url, "GET", `/crons/${g}`), 404, `cron group '${g}' not found`);
    assert.equal((await ok(req(s.url, "PUT", `/crons/${g}/entries/${"x".repeat(255)}`, entry("ok")))).name, "x".repeat(255));
  });

  it("path names are percent-decoded", async () => {
    const put = await ok(req(s.url, "PUT", "/crons/my%20group%C3%A9/entries/e%201", entry("x")));
    assert.equal(put.name, "e 1");
    assert.equal((await ok(req(s.url, "GET", "/crons/my%20group%C3%A9"))).name, "my groupé");
  });

  it("validation failures are 400 with the contract's messages", async () => {
    const g = uniq("g");
    const put = (body: Json) => req(s.url, "PUT", `/crons/${g}/entries/e`, body);
    assertError(await req(s.url, "PUT", "/crons/a%2Cb", { entries: [] }), 400, "cron group name must not contain ','");
    assertError(await req(s.url, "POST", "/crons/a*b/entries", entry("e")), 400, "cron group name must not contain '*' (reserved)");
    assertError(await put(entry("")), 400, "cron entry name must not be empty");
    assertError(await put(entry("e", { job: job("a,b") })), 400, "queue must not contain ','");
    assertError(await put(entry("e", { job: job("q", { ready_at: 1 }) })), 400, "ready_at is not supported for cron entries");
    assertError(await put(entry("e", { expression: "nope" })), 400, /^invalid cron expression: /);
    assertError(await put(entry("e", { expression: "* * * * * * *" })), 400, /^invalid cron expression: /);
    assertError(await put(entry("e", { timezone: "Nope/Nowhere" })), 400, 'invalid timezone: "Nope/Nowhere"');
    assertError(await put(entry("e", { job: job("q", { unique_key: "k", batch: { key: "b", when: "true", fold: "$new" } }) })), 400,
      "unique_key and batch cannot be combined");
    assertError(await put(entry("e", { job: job("q", { unique_key: "k", unique_while: "always" }) })), 400,
      'invalid unique_while: "always" (expected "queued", "active", or "exists")');
    assertError(await put(entry("e", { job: job("q", { batch: { key: "b", when: "(", fold: "$new" } }) })), 400, /^batch expression: when: /);
    assertError(await put(entry("e", { job: job("q", { batch: { key: "b", when: "true", fold: "empty" } }) })), 400, /^batch dry-run: fold: /);
    assertError(await put({ name: "e", job: job() }), 400, "invalid JSON: missing field `expression`");
    assertError(await req(s.url, "PUT", `/crons/${g}`, { entries: [entry("d"), entry("d")] }), 400, 'duplicate cron entry name: "d"');
    assertError(await req(s.url, "GET", "/crons/x"), 404, "cron group 'x' not found");
    assertError(await req(s.url, "GET", `/crons/${g}`), 404, `cron group '${g}' not found`); // nothing was written
    // unique_while without unique_key is accepted here and echoed.
    const loose = await ok(put(entry("e", { job: job("q", { unique_while: "active" }) })));
    assert.equal(loose.job.unique_while, "active");
    assert.equal(loose.job.unique_key, undefined);
  });

  it("known cron paths answer other methods with 405 + Allow", async () => {
    for (const [method, path, allow] of [
      ["POST", "/crons", "GET, DELETE, HEAD"], ["POST", "/crons/g", "GET, PUT, PATCH, DELETE, HEAD"],
      ["GET", "/crons/g/entries", "POST"], ["POST", "/crons/g/entries/e", "GET, PUT, PATCH, DELETE, HEAD"],
    ]) {
      const r = await req(s.url, method, path);
      assert.equal(r.status, 405, `${method} ${path}`);
      assert.equal(r.headers.get("allow"), allow);
    }
  });

  it("MessagePack in and out", async () => {
    const g = uniq("g");
    const r = await fetch(`${s.url}/crons/${g}`, {
      method: "PUT",
      headers: { "content-type": "application/msgpack", accept: "application/msgpack" },
      body: pack({ entries: [{ name: "m", expression: "0 0 * * *", job: { type: "t", queue: "q", payload: { n: [1, "two"] } } }] }),
    });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("content-type"), "application/msgpack");
    const group = unpack(new Uint8Array(await r.arrayBuffer())) as Json;
    assert.deepEqual(group.entries[0].job.payload, { n: [1, "two"] });
  });

  describe("firing (* * * * * *)", () => {
    const g = uniq("fire");
    const [qf, qu, qp] = [uniq("qf"), uniq("qu"), uniq("qp")];
    const every = (name: string, queue: string, extra: Json = {}, jobExtra: Json = {}) =>
      ({ name, expression: "* * * * * *", job: job(queue, { payload: { from: name }, ...jobExtra }), ...extra });
    let pausedAtStart: Json;
    before(async () => {
      const group = await ok(req(s.url, "PUT", `/crons/${g}`, {
        entries: [every("f", qf), every("u", qu, {}, { unique_key: uniq("k") }), every("p", qp, { paused: true })],
      }));
      pausedAtStart = (group.entries as Json[])[2];
    });
    const getEntry = async (name: string) => ok(req(s.url, "GET", `/crons/${g}/entries/${name}`));

    it("enqueues a job from the template, then sets last_enqueue_at and advances next_enqueue_at", async () => {
      const jobs = await eventually(async () => {
        const r = await ok(req(s.url, "GET", `/jobs?queue=${qf}`));
        return r.jobs.length > 0 ? (r.jobs as Json[]) : undefined;
      });
      assert.deepEqual([jobs[0].type, jobs[0].queue, jobs[0].priority, jobs[0].payload], ["t", qf, 32768, { from: "f" }]);
      const e = await eventually(async () => {
        const got = await getEntry("f");
        return got.last_enqueue_at !== undefined ? got : undefined;
      });
      assert.ok(e.last_enqueue_at >= jobs[0].ready_at);
      assert.ok(e.next_enqueue_at > e.last_enqueue_at);
      assert.equal(e.next_enqueue_at % 1000, 0);
      assert.deepEqual(Object.keys(e), ["name", "expression", "paused", "job", "next_enqueue_at", "last_enqueue_at"]);
    });

    it("a unique_key in the template dedups at fire time", async () => {
      const first = (await eventually(async () => (await getEntry("u")).last_enqueue_at as number | undefined));
      await eventually(async () => ((await getEntry("u")).last_enqueue_at > first ? true : undefined));
      assert.equal(await count(s.url, `queue=${qu}`), 1);
    });

    it("paused entries do not enqueue, but their schedule advances", async () => {
      const f = await eventually(async () => {
        const got = await getEntry("f");
        return got.last_enqueue_at > pausedAtStart.next_enqueue_at ? got : undefined;
      });
      assert.ok(f);
      assert.equal(await count(s.url, `queue=${qp}`), 0);
      const p = await getEntry("p");
      assert.equal(p.last_enqueue_at, undefined);
      assert.ok(p.next_enqueue_at > pausedAtStart.next_enqueue_at);
      await ok(req(s.url, "DELETE", `/crons/${g}`), 204);
    });
  });
});

describe("cron persistence and reset", () => {
  it("groups survive a restart of the same dir", async () => {
    const s1 = await startServer();
    const body = { paused: true, entries: [entry("a", { timezone: "UTC", job: job("q", { payload: { v: 1.5 }, unique_key: "k" }) }), entry("b")] };
    const put = await ok(req(s1.url, "PUT", "/crons/keep", body));
    await ok(req(s1.url, "PUT", "/crons/gone", { entries: [entry("x")] }));
    await ok(req(s1.url, "DELETE", "/crons/gone"), 204);
    await s1.close();
    const s2 = await startServer({ dir: s1.dir });
    try {
      assert.deepEqual((await ok(req(s2.url, "GET", "/crons"))).crons, ["keep"]);
      assert.deepEqual(await ok(req(s2.url, "GET", "/crons/keep")), put);
    } finally {
      await s2.close();
    }
  });

  it("groups survive compaction of the segment that held them", async () => {
    const s1 = await startServer({ store: { segmentBytes: 64 * 1024 } });
    const put = await ok(req(s1.url, "PUT", "/crons/kept", { entries: [entry("a")] }));
    const filler = "x".repeat(4096);
    while (segmentNumbers(s1.dir).length < 3) {
      await ok(req(s1.url, "POST", "/jobs/bulk", { jobs: Array.from({ length: 8 }, () => job("fill", { payload: filler })) }), 201);
    }
    await ok(req(s1.url, "DELETE", "/jobs?queue=fill"));
    const first = segmentNumbers(s1.dir)[0];
    await s1.queue.compact();
    assert.ok(!segmentNumbers(s1.dir).includes(first), "the group's first segment was retired");
    await s1.close();
    const s2 = await startServer({ dir: s1.dir });
    try {
      assert.deepEqual(await ok(req(s2.url, "GET", "/crons/kept")), put);
    } finally {
      await s2.close();
    }
  });

  it("DELETE /crons counts the groups; POST /reset removes every group", async () => {
    const s1 = await startServer();
    try {
      for (const g of ["a", "b", "c"]) await ok(req(s1.url, "PUT", `/crons/${g}`, { entries: [entry("e")] }));
      assert.deepEqual(await ok(req(s1.url, "DELETE", "/crons")), { deleted: 3 });
      assert.deepEqual(await ok(req(s1.url, "DELETE", "/crons")), { deleted: 0 });
      await ok(req(s1.url, "PUT", "/crons/r", { entries: [entry("e")] }));
      assert.equal((await req(s1.url, "POST", "/reset")).status, 204);
      assert.deepEqual(await ok(req(s1.url, "GET", "/crons")), { crons: [] });
      assertError(await req(s1.url, "GET", "/crons/r"), 404, "cron group 'r' not found");
    } finally {
      await s1.close();
    }
    const s2 = await startServer({ dir: s1.dir });
    try {
      assert.deepEqual(await ok(req(s2.url, "GET", "/crons")), { crons: [] });
    } finally {
      await s2.close();
    }
  });
});

describe("cron handler failures", () => {
  it("an unexpected error is logged in full and answered 500 {\"error\":\"internal error\"}", async () => {
    const store = await openStore({ dir: tmpDir(), segmentBytes: 4 * 1024 * 1024 });
    const queue = createQueue(store, { reaperIntervalMs: 0 });
    const logged: unknown[] = [];
    const app = createApp(queue, { logError: (err) => logged.push(err) });
    const listener = await listen(toNodeHandler(app.app), { host: "127.0.0.1", port: 0 });
    try {
      await store.close(); // every write now fails inside the store
      assertError(await req(listener.url, "PUT", "/crons/g", { entries: [entry("e")] }), 500, "internal error");
      assert.equal(logged.length, 1);
    } finally {
      await listener.close(500);
      queue.stop();
    }
  });
});
