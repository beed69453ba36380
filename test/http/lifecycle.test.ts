// Issue 3 over HTTP, part 1: health/version/queues, POST /jobs (fields, defaults,
// every validation error), POST /jobs/bulk (atomicity, 201 vs 200), GET /jobs/{id},
// content negotiation (406/415), unknown paths and wrong methods. Real app, real store,
// real socket (test/helpers/server.ts); every assertion is on status, headers and body.

import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, it } from "node:test";
import { decode as unpack } from "@msgpack/msgpack";
import { startServer, type TestServer } from "../helpers/server.ts";
import { cleanupTmp } from "../helpers/tmp.ts";
import { assertError, count, enqueue, getJob, openTake, rawReq, req, uniq, type Json } from "./_client.ts";

const ENQUEUE_KEYS = ["id", "type", "queue", "priority", "status", "ready_at", "attempts", "duplicate", "folded"];
const ID = /^[0-9a-z]{25}$/;

let s: TestServer;
before(async () => {
  s = await startServer({ maxBodyBytes: 4096 });
});
after(async () => {
  await s.close();
  cleanupTmp();
});

describe("GET /health, /version, /queues", () => {
  it("health and version", async () => {
    const h = await req(s.url, "GET", "/health");
    assert.equal(h.status, 200);
    assert.equal(h.headers.get("content-type"), "application/json");
    assert.equal(h.text, '{"status":"ok"}');
    const v = await req(s.url, "GET", "/version");
    assert.equal(v.status, 200);
    assert.match(v.body!.version as string, /^0\.7\.\d+$/);
  });

  it("queues: distinct names of stored jobs in byte order, gone with their last job", async () => {
    const own = await startServer();
    try {
      assert.deepEqual((await req(own.url, "GET", "/queues")).body, { queues: [] });
      for (const q of ["b", "a", "é", "B", "a"]) await enqueue(own.url, { queue: q });
      const dead = await enqueue(own.url, { queue: "z-dead" });
      const t = await openTake(own.url, "queue=z-dead");
      await t.job(0);
      await req(own.url, "POST", `/jobs/${dead.id}/failure`, { message: "x", kill: true });
      await t.close();
      assert.deepEqual((await req(own.url, "GET", "/queues")).body, { queues: ["B", "a", "b", "z-dead", "é"] });
      assert.equal((await req(own.url, "DELETE", "/jobs?queue=a")).status, 200);
      assert.deepEqual((await req(own.url, "GET", "/queues")).body, { queues: ["B", "b", "z-dead", "é"] });
    } finally {
      await own.close();
    }
  });
});

describe("POST /jobs", () => {
  it("201 with exactly the §2.1 enqueue fields, defaults materialised, no payload", async () => {
    const q = uniq();
    const before = Date.now();
    const r = await req(s.url, "POST", "/jobs", { type: "Mailer::Send", queue: q, payload: { to: "a@b" } });
    assert.equal(r.status, 201);
    assert.equal(r.headers.get("content-type"), "application/json");
    const job = r.body!;
    assert.deepEqual(Object.keys(job), ENQUEUE_KEYS);
    assert.match(job.id, ID);
    assert.equal(job.type, "Mailer::Send");
    assert.equal(job.queue, q);
    assert.equal(job.priority, 32768);
    assert.equal(job.status, "ready");
    assert.ok(job.ready_at >= before - 1000 && Number.isInteger(job.ready_at));
    assert.equal(job.attempts, 0);
    assert.equal(job.duplicate, false);
    assert.equal(job.folded, false);
    const stored = await getJob(s.url, job.id);
    assert.deepEqual(stored!.payload, { to: "a@b" });
  });

  it("ids are 25 chars and strictly increasing", async () => {
    const q = uniq();
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await enqueue(s.url, { queue: q })).id);
    for (const id of ids) assert.match(id, ID);
    assert.deepEqual([...ids].sort(), ids);
    assert.equal(new Set(ids).size, ids.length);
  });

  it("every option is echoed in order; unset ones are omitted", async () => {
    const q = uniq();
    const job = await enqueue(s.url, {
      queue: q, priority: 0, retry_limit: 3, backoff: { exponent: 1.5, base_ms: 10, jitter_ms: 0 },
      retention: { dead_ms: 5 }, unique_key: uniq("k"),
    });
    assert.deepEqual(Object.keys(job), [
      "id", "type", "queue", "priority", "status", "ready_at", "attempts", "retry_limit", "backoff", "retention",
      "unique_key", "unique_while", "duplicate", "folded",
    ]);
    assert.equal(job.priority, 0);
    assert.deepEqual(job.backoff, { exponent: 1.5, base_ms: 10, jitter_ms: 0 });
    assert.deepEqual(job.retention, { dead_ms: 5 });
    assert.equal(job.unique_while, "queued");
    const empty = await enqueue(s.url, { queue: q, retention: {} });
    assert.deepEqual(empty.retention, {});
  });

  it("ready_at in the future → scheduled; in the past → ready, stored as given", async () => {
    const q = uniq();
    const future = Date.now() + 3_600_000;
    const a = await enqueue(s.url, { queue: q, ready_at: future });
    assert.equal(a.status, "scheduled");
    assert.equal(a.ready_at, future);
    const b = await enqueue(s.url, { queue: q, ready_at: 5 });
    assert.equal(b.status, "ready");
    assert.equal(b.ready_at, 5);
  });

  it("payload may be null, a scalar or an array, and is stored verbatim", async () => {
    const q = uniq();
    for (const payload of [null, 0, "s", [1, { a: [] }], { "ü": 1.5, big: 9007199254740991 }]) {
      const job = await enqueue(s.url, { queue: q, payload });
      assert.deepEqual((await getJob(s.url, job.id))!.payload, payload);
    }
  });

  it("unknown body fields are ignored", async () => {
    const r = await req(s.url, "POST", "/jobs", {
      type: "t", queue: uniq(), payload: 1, timezone: "UTC", nonsense: null,
    });
    assert.equal(r.status, 201);
    assert.deepEqual(Object.keys(r.body!), ENQUEUE_KEYS);
  });

  it("name rules (§1.8) for type, then queue: 400 with the exact message", async () => {
    const q = uniq();
    const cases: [Json, string][] = [
      [{ type: "" }, "type must not be empty"],
      [{ queue: "" }, "queue must not be empty"],
      [{ queue: "a,b" }, "queue must not contain ','"],
      [{ type: "a\u0000" }, "type must not contain null bytes"],
      [{ type: "", queue: "" }, "type must not be empty"],
      [{ type: "x,", queue: "" }, "type must not contain ','"],
    ];
    for (const c of "*?[]{}\\") {
      cases.push([{ queue: `a${c}` }, `queue must not contain '${c}' (reserved)`]);
      cases.push([{ type: `${c}` }, `type must not contain '${c}' (reserved)`]);
    }
    for (const [fields, message] of cases) {
      assertError(await req(s.url, "POST", "/jobs", { type: "t", queue: q, payload: 1, ...fields }), 400, message);
    }
    // Other Unicode and punctuation are fine.
    assert.equal((await req(s.url, "POST", "/jobs", { type: "a/b:c d", queue: `${q}-ü.😀`, payload: 1 })).status, 201);
    assert.equal(await count(s.url, `queue=${q}`), 0);
  });

  it("unique/batch rule errors in the documented order", async () => {
    const base = { type: "t", queue: uniq(), payload: { items: [] } };
    const batch = { key: "b", when: "true", fold: "$new" };
    assertError(await req(s.url, "POST", "/jobs", { ...base, unique_while: "active" }), 400, "unique_while requires unique_key");
    assertError(await req(s.url, "POST", "/jobs", { ...base, unique_while: "bogus" }), 400, "unique_while requires unique_key");
    assertError(await req(s.url, "POST", "/jobs", { ...base, unique_key: "k", batch }), 400, "unique_key and batch cannot be combined");
    assertError(await req(s.url, "POST", "/jobs", { ...base, unique_key: "k", unique_while: "x", batch }), 400,
      "unique_key and batch cannot be combined");
    assertError(await req(s.url, "POST", "/jobs", { ...base, unique_key: "k", unique_while: "x" }), 400,
      'invalid unique_while: "x" (expected "queued", "active", or "exists")');
    assertError(await req(s.url, "POST", "/jobs", { ...base, type: "", unique_while: "x" }), 400, "type must not be empty");
  });

  it("missing fields, wrong types and malformed bodies are 400 invalid JSON", async () => {
    const q = uniq();
    const bad: unknown[] = [
      { queue: q, payload: 1 }, { type: "t", payload: 1 }, { type: "t", queue: q },
      { type: 1, queue: q, payload: 1 }, { type: "t", queue: [q], payload: 1 },
      { type: "t", queue: q, payload: 1, unique_key: 5 }, { type: "t", queue: q, payload: 1, backoff: { exponent: 1 } },
      { type: "t", queue: q, payload: 1, backoff: { exponent: "1", base_ms: 1, jitter_ms: 1 } },
      { type: "t", queue: q, payload: 1, retention: 5 }, { type: "t", queue: q, payload: 1, batch: { key: "k" } },
      [], "str", 7, null,
    ];
    for (const body of bad) {
      assertError(await req(s.url, "POST", "/jobs", JSON.stringify(body), { "content-type": "application/json" }), 400, /^invalid JSON: /);
    }
    for (const text of ["", "{", '{"type":"t"', "nul", '{"type":"t","queue":"q","payload":1}x']) {
      assertError(await req(s.url, "POST", "/jobs", text, { "content-type": "application/json" }), 400, /^invalid JSON: /);
    }
    assertError(await req(s.url, "POST", "/jobs", Buffer.from([0x7b, 0xff, 0x7d]), { "content-type": "application/json" }), 400,
      /^invalid JSON: /);
    assertError(await req(s.url, "POST", "/jobs", Buffer.from([0xc1]), { "content-type": "application/msgpack" }), 400,
      /^invalid MessagePack: /);
    assert.equal(await count(s.url, `queue=${q}`), 0);
  });

  it("out-of-range, negative and fractional integers are 400", async () => {
    const q = uniq();
    const bad: Json[] = [
      { priority: 65536 }, { priority: -1 }, { priority: 1.5 }, { priority: "1" }, { priority: 1e300 },
      // 2^65: past u64. (2^64 itself parses to the same double as u64::MAX, 2^64 − 1.)
      { ready_at: -1 }, { ready_at: 1.25 }, { ready_at: 2 ** 65 },
      { retry_limit: 2 ** 32 }, { retry_limit: -1 }, { retry_limit: 0.5 },
      { backoff: { exponent: 2, base_ms: 2 ** 32, jitter_ms: 0 } }, { backoff: { exponent: 2, base_ms: 1, jitter_ms: -1 } },
      { backoff: { exponent: 2, base_ms: 1.5, jitter_ms: 0 } },
      { retention: { dead_ms: -1 } }, { retention: { completed_ms: 0.5 } },
    ];
    for (const fields of bad) {
      assertError(await req(s.url, "POST", "/jobs", { type: "t", queue: q, payload: 1, ...fields }), 400, /^invalid JSON: /);
    }
    // The bounds themselves are fine.
    for (const fields of [{ priority: 65535 }, { priority: 0 }, { retry_limit: 2 ** 32 - 1 }, { backoff: { exponent: 0, base_ms: 2 ** 32 - 1, jitter_ms: 0 } }]) {
      assert.equal((await req(s.url, "POST", "/jobs", { type: "t", queue: q, payload: 1, ...fields })).status, 201);
    }
    assert.equal(await count(s.url, `queue=${q}`), 4);
    // Past 2^53 − 1 a value cannot be kept exactly: refused, never stored as another value
    // (issue 12 §8; test/http/u64.test.ts covers every u64 field). 2^53 − 1 itself is kept.
    const far = await req(s.url, "POST", "/jobs", '{"type":"t","queue":"' + q + '","payload":1,"ready_at":18446744073709551615}',
      { "content-type": "application/json" });
    assertError(far, 400, /^invalid JSON: ready_at: invalid value: integer above 9007199254740991/);
    const max = await req(s.url, "POST", "/jobs", { type: "t", queue: q, payload: 1, ready_at: Number.MAX_SAFE_INTEGER });
    assert.equal(max.status, 201);
    assert.equal((max.body as { ready_at: number; status: string }).ready_at, Number.MAX_SAFE_INTEGER);
    assert.equal((max.body as { status: string }).status, "scheduled");
  });

  it("a body over the cap is 413 (declared or chunked) and the server carries on", async () => {
    const q = uniq();
    const big = JSON.stringify({ type: "t", queue: q, payload: "x".repeat(5000) });
    assertError(await req(s.url, "POST", "/jobs", big, { "content-type": "application/json" }), 413, /too large/);
    const chunked = await new Promise<number>((resolve, reject) => {
      const r = http.request(new URL("/jobs", s.url), { method: "POST", agent: false, headers: { "content-type": "application/json" } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      r.on("error", reject);
      r.write(big.slice(0, 3000));
      r.end(big.slice(3000));
    });
    assert.equal(chunked, 413);
    assert.equal(await count(s.url, `queue=${q}`), 0);
    assert.equal((await req(s.url, "POST", "/jobs", { type: "t", queue: q, payload: "x".repeat(3000) })).status, 201);
  });
});

describe("POST /jobs/bulk", () => {
  it("201 with one job per element, in order, each with duplicate/folded", async () => {
    const q = uniq();
    const r = await req(s.url, "POST", "/jobs/bulk", {
      jobs: [{ type: "a", queue: q, payload: 1 }, { type: "b", queue: q, payload: 2, priority: 5, extra: true }],
    });
    assert.equal(r.status, 201);
    assert.deepEqual(Object.keys(r.body!), ["jobs"]);
    const [a, b] = r.body!.jobs as Json[];
    assert.deepEqual(Object.keys(a), ENQUEUE_KEYS);
    assert.equal(a.type, "a");
    assert.equal(b.priority, 5);
    assert.ok(a.id < b.id);
    assert.deepEqual((await getJob(s.url, b.id))!.payload, 2);
  });

  it("empty list → 201 {\"jobs\":[]}", async () => {
    const r = await req(s.url, "POST", "/jobs/bulk", { jobs: [] });
    assert.equal(r.status, 201);
    assert.equal(r.text, '{"jobs":[]}');
  });

  it("one bad element → 400 `jobs[i]: …` and nothing is written", async () => {
    const q = uniq();
    const ok = { type: "t", queue: q, payload: 1 };
    assertError(await req(s.url, "POST", "/jobs/bulk", { jobs: [ok, ok, { ...ok, queue: "a*" }] }), 400,
      "jobs[2]: queue must not contain '*' (reserved)");
    assertError(await req(s.url, "POST", "/jobs/bulk", { jobs: [ok, { ...ok, unique_while: "active" }] }), 400,
      "jobs[1]: unique_while requires unique_key");
    const shape = await req(s.url, "POST", "/jobs/bulk", { jobs: [ok, { type: "t", queue: q }] });
    assertError(shape, 400, /^invalid JSON: .*jobs\[1\]/);
    assertError(await req(s.url, "POST", "/jobs/bulk", { jobs: [ok, { ...ok, priority: 70000 }] }), 400, /^invalid JSON: .*jobs\[1\]/);
    const badBatch = { ...ok, payload: { items: [] }, batch: { key: uniq(), when: "((", fold: "$new" } };
    assert.equal((await req(s.url, "POST", "/jobs/bulk", { jobs: [ok, badBatch] })).status, 422);
    assertError(await req(s.url, "POST", "/jobs/bulk", { jobs: ok }), 400, /^invalid JSON: /);
    assertError(await req(s.url, "POST", "/jobs/bulk", {}), 400, /^invalid JSON: /);
    assert.equal(await count(s.url, `queue=${q}`), 0);
  });

  it("200 only when every element is a duplicate or a fold", async () => {
    const q = uniq();
    const key = uniq("k");
    const first = await req(s.url, "POST", "/jobs/bulk", { jobs: [{ type: "t", queue: q, payload: 1, unique_key: key }] });
    assert.equal(first.status, 201);
    const holder = first.body!.jobs[0] as Json;
    const dup = await req(s.url, "POST", "/jobs/bulk", {
      jobs: [{ type: "t", queue: q, payload: 2, unique_key: key }, { type: "u", queue: "other", payload: 3, unique_key: key }],
    });
    assert.equal(dup.status, 200);
    for (const j of dup.body!.jobs as Json[]) {
      assert.equal(j.id, holder.id);
      assert.equal(j.duplicate, true);
      assert.equal(j.folded, false);
    }
    const mixed = await req(s.url, "POST", "/jobs/bulk", {
      jobs: [{ type: "t", queue: q, payload: 2, unique_key: key }, { type: "t", queue: q, payload: 3 }],
    });
    assert.equal(mixed.status, 201);
    assert.deepEqual((mixed.body!.jobs as Json[]).map((j) => j.duplicate), [true, false]);
  });

  it("a later element with an earlier element's unique key is its duplicate", async () => {
    const q = uniq();
    const key = uniq("k");
    const r = await req(s.url, "POST", "/jobs/bulk", {
      jobs: [{ type: "t", queue: q, payload: 1, unique_key: key }, { type: "t", queue: q, payload: 2, unique_key: key, unique_while: "exists" }],
    });
    assert.equal(r.status, 201);
    const [a, b] = r.body!.jobs as Json[];
    assert.equal(b.id, a.id);
    assert.deepEqual([a.duplicate, b.duplicate], [false, true]);
    assert.equal(await count(s.url, `queue=${q}`), 1);
  });
});

describe("GET /jobs/{id}", () => {
  it("200 with payload after status; 404 for unknown and garbage ids", async () => {
    const job = await enqueue(s.url, { queue: uniq(), payload: { a: [1, 2] } });
    const r = await req(s.url, "GET", `/jobs/${job.id}`);
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.body!), ["id", "type", "queue", "priority", "status", "payload", "ready_at", "attempts"]);
    assert.deepEqual(r.body!.payload, { a: [1, 2] });
    for (const id of ["03fr1jkpcsipbsckqj0y6pgr7", "nope", "NOT-AN-ID", "%20", "a".repeat(300)]) {
      assertError(await req(s.url, "GET", `/jobs/${id}`), 404, "job not found");
    }
  });
});

describe("content negotiation (§1.2) and routing", () => {
  const NOT_ACCEPTABLE = '{"error":"not acceptable","supported":["application/json","application/msgpack"]}';
  const UNSUPPORTED = '{"error":"unsupported media type","supported":["application/json","application/msgpack"]}';

  it("Accept absent or */* → JSON; application/msgpack → MessagePack", async () => {
    const bare = await rawReq(s.url, "GET", "/health", {});
    assert.equal(bare.headers["content-type"], "application/json");
    assert.equal(bare.body.toString(), '{"status":"ok"}');
    const any = await req(s.url, "GET", "/health", undefined, { accept: "*/*" });
    assert.equal(any.headers.get("content-type"), "application/json");
    const mp = await rawReq(s.url, "GET", "/health", { accept: "application/msgpack" });
    assert.equal(mp.headers["content-type"], "application/msgpack");
    assert.deepEqual(unpack(mp.body), { status: "ok" });
  });

  it("406 for other Accept values, always JSON, before the body is read", async () => {
    for (const accept of ["text/xml", "application/*", "application/vnd.zizq.msgpack-stream", "text/html"]) {
      for (const [method, path] of [["GET", "/health"], ["POST", "/jobs"], ["GET", "/jobs"]]) {
        const r = await req(s.url, method, path, method === "POST" ? "not json" : undefined, { accept });
        assert.equal(r.status, 406, `${method} ${path} with ${accept}`);
        assert.equal(r.headers.get("content-type"), "application/json");
        assert.equal(r.text, NOT_ACCEPTABLE);
      }
    }
  });

  it("415 for other Content-Types, encoded per Accept", async () => {
    const body = JSON.stringify({ type: "t", queue: uniq(), payload: 1 });
    const json = await req(s.url, "POST", "/jobs", body, { "content-type": "text/plain" });
    assert.equal(json.status, 415);
    assert.equal(json.headers.get("content-type"), "application/json");
    assert.equal(json.text, UNSUPPORTED);
    const mp = await rawReq(s.url, "POST", "/jobs", { "content-type": "application/xml", accept: "application/msgpack" }, body);
    assert.equal(mp.status, 415);
    assert.equal(mp.headers["content-type"], "application/msgpack");
    assert.deepEqual(unpack(mp.body), JSON.parse(UNSUPPORTED));
    // Content-Type absent → JSON.
    const none = await rawReq(s.url, "POST", "/jobs", {}, body);
    assert.equal(none.status, 201);
  });

  it("a browser on another site cannot act through the primary listener; API clients and same-origin pages can", async () => {
    // A bodiless cross-site POST needs no CORS preflight: a page could reset the store.
    const q = uniq();
    const job = await enqueue(s.url, { queue: q });
    for (const headers of [{ "sec-fetch-site": "cross-site" }, { "sec-fetch-site": "same-site" }, { origin: "https://evil.example" }] as Record<string, string>[]) {
      for (const [method, path] of [["POST", "/reset"], ["POST", `/queues/${q}/pause`], ["DELETE", `/jobs/${job.id}`], ["POST", "/jobs"]]) {
        const r = await req(s.url, method, path, method === "POST" && path === "/jobs" ? { type: "t", queue: q, payload: 1 } : undefined, headers);
        assert.equal(r.status, 403, `${method} ${path} ${JSON.stringify(headers)}`);
        assert.match(r.body!.error, /^cross-site request refused/);
      }
    }
    assert.equal((await count(s.url, `queue=${q}`)), 1, "nothing changed");
    assert.equal((await req(s.url, "GET", `/jobs/${job.id}`, undefined, { "sec-fetch-site": "cross-site" })).status, 200, "reads are not actions");
    const host = new URL(s.url).host;
    assert.equal((await req(s.url, "DELETE", `/jobs/${job.id}`, undefined, { origin: `http://${host}`, "sec-fetch-site": "same-origin" })).status, 204);
  });

  it("a backslash or a # in the path is a 404 (the URL parser would read another path); in the query it is data", async () => {
    const raw = (target: string) => new Promise<{ status: number; body: string }>((resolve, reject) => {
      const { hostname, port } = new URL(s.url);
      const r = http.request({ hostname, port, path: target, agent: false }, (res) => {
        let body = "";
        res.on("data", (c: Buffer) => { body += c; });
        res.on("end", () => resolve({ status: res.statusCode!, body }));
      });
      r.on("error", reject);
      r.end();
    });
    for (const target of ["/jobs\\count", "/jobs/count\\", "/x/..\\jobs/count", "/jobs/count#", "/jobs/count#?queue=a"]) {
      assert.equal((await raw(target)).status, 404, target);
    }
    const q = uniq();
    await enqueue(s.url, { queue: q, payload: { n: 5 } });
    const counted = await raw(`/jobs/count?queue=${q}&filter=.n|tostring|test("\\\\d")`); // jq reads "\\d"
    assert.deepEqual([counted.status, JSON.parse(counted.body)], [200, { count: 1 }]);
  });

  it("every GET route answers HEAD: GET's status and headers, no body; HEAD /jobs/take takes nothing", async () => {
    const q = uniq();
    const job = await enqueue(s.url, { queue: q });
    for (const path of ["/health", "/version", "/queues", `/jobs?queue=${q}`, "/jobs/count", `/jobs/${job.id}`, `/jobs/${job.id}/errors`, "/crons", "/budgets"]) {
      const get = await req(s.url, "GET", path);
      const head = await req(s.url, "HEAD", path);
      assert.equal(head.status, get.status, path);
      assert.equal(head.text, "", path);
      assert.equal(head.headers.get("content-type"), get.headers.get("content-type"), path);
      assert.equal(head.headers.get("content-length"), String(Buffer.byteLength(get.text)), path);
    }
    assert.equal((await req(s.url, "HEAD", "/jobs/03fr1jkpcsipbsckqj0y6pgr7")).status, 404);
    assert.equal((await req(s.url, "HEAD", "/nope")).status, 404);
    const take = await req(s.url, "HEAD", `/jobs/take?queue=${q}&prefetch=5`);
    assert.equal(take.status, 200);
    assert.equal(take.headers.get("content-type"), "application/x-ndjson");
    assert.equal((await req(s.url, "HEAD", "/jobs/take?prefetch=x")).status, 400);
    assert.equal((await getJob(s.url, job.id))!.status, "ready", "HEAD /jobs/take took the job");
  });

  it("unknown path → 404 JSON; known path, wrong method → 405 with Allow", async () => {
    for (const path of ["/nope", "/jobs/a/b/c/d", "/crons-x", "/"]) {
      assertError(await req(s.url, "GET", path), 404, "not found");
    }
    const cases: [string, string, string[]][] = [
      ["PUT", "/jobs", ["GET", "HEAD", "POST", "DELETE", "PATCH"]],
      ["DELETE", "/health", ["GET", "HEAD"]],
      ["POST", "/jobs/take", ["GET", "HEAD"]],
      ["GET", "/jobs/success", ["POST"]],
      ["PUT", "/jobs/03fr1jkpcsipbsckqj0y6pgr7", ["GET", "HEAD", "DELETE", "PATCH"]],
      ["GET", "/jobs/03fr1jkpcsipbsckqj0y6pgr7/success", ["POST"]],
      ["GET", "/reset", ["POST"]],
    ];
    for (const [method, path, allow] of cases) {
      const r = await req(s.url, method, path);
      assert.equal(r.status, 405, `${method} ${path}`);
      assert.deepEqual(r.headers.get("allow")!.split(/,\s*/).sort(), [...allow].sort());
      if (r.text !== "") assert.deepEqual(r.body, { error: "method not allowed" });
    }
  });

  it("client errors are answered, not dumped to stderr (the logger owns stderr)", async () => {
    const printed: unknown[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => printed.push(args);
    try {
      await req(s.url, "GET", "/nope");
      await req(s.url, "PUT", "/jobs");
      await req(s.url, "GET", "/jobs/nope");
      await req(s.url, "POST", "/jobs", "{");
      await req(s.url, "POST", "/jobs", { type: "", queue: "q", payload: 1 });
    } finally {
      console.error = original;
    }
    assert.deepEqual(printed, []);
  });
});
