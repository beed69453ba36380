// Budget resources over HTTP (API-budgets.md §2.1–2.2, §3.1, §3.5, §6 cases 1, 4, 15–17,
// 19, 21, 22): every route and error with the contract's status and message, JSON and
// MessagePack, the --max-budgets cap, and that refused input changes nothing.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { decode as unpack, encode as pack } from "@msgpack/msgpack";
import { startServer, type TestServer } from "../helpers/server.ts";
import { type Json, assertError, rawReq, req, sharedServer, uniq } from "./_client.ts";

const tb = (allocation: number, duration_ms: number, burst?: number): Json =>
  ({ allocation, strategy: burst === undefined ? { type: "time_based", duration_ms } : { type: "time_based", duration_ms, burst } });
const wif = (allocation: number): Json => ({ allocation, strategy: { type: "while_in_flight" } });

const { s } = sharedServer();

async function ok(r: Promise<Awaited<ReturnType<typeof req>>>, status = 200): Promise<Json> {
  const res = await r;
  assert.equal(res.status, status, res.text);
  return res.body!;
}

describe("budget resources", () => {
  it("POST creates (201, §2.1 shape and order), GET reads, a second POST is 409 and changes nothing", async () => {
    const k = uniq("mail");
    const created = await ok(req(s.url, "POST", `/budgets/${k}`, tb(10, 1000, 5)), 201);
    assert.deepEqual(Object.keys(created), ["key", "allocation", "strategy", "created_at", "updated_at"]);
    assert.deepEqual(created.strategy, { type: "time_based", duration_ms: 1000, burst: 5 });
    assert.equal(created.created_at, created.updated_at);
    assert.deepEqual(await ok(req(s.url, "GET", `/budgets/${k}`)), created);
    assertError(await req(s.url, "POST", `/budgets/${k}`, wif(3)), 409, `budget '${k}' already exists`);
    assert.deepEqual(await ok(req(s.url, "GET", `/budgets/${k}`)), created);
    const w = await ok(req(s.url, "POST", `/budgets/${uniq("w")}`, wif(3)), 201);
    assert.deepEqual(w.strategy, { type: "while_in_flight" });
  });

  it("GET /budgets lists by key in byte order", async () => {
    const own = await startServer();
    try {
      assert.deepEqual(await ok(req(own.url, "GET", "/budgets")), { budgets: [] });
      for (const k of ["b", "a", "é", "Z"]) await ok(req(own.url, "POST", `/budgets/${encodeURIComponent(k)}`, wif(1)), 201);
      const list = await ok(req(own.url, "GET", "/budgets"));
      assert.deepEqual(list.budgets.map((b: Json) => b.key), ["Z", "a", "b", "é"]);
    } finally {
      await own.close();
    }
  });

  it("PUT creates (200) or replaces whole: created_at kept, updated_at advanced, burst cleared when omitted", async () => {
    const k = uniq("p");
    const first = await ok(req(s.url, "PUT", `/budgets/${k}`, tb(10, 60_000, 2)));
    await new Promise((r) => setImmediate(r));
    const second = await ok(req(s.url, "PUT", `/budgets/${k}`, tb(20, 60_000)));
    assert.equal(second.created_at, first.created_at);
    assert.ok(second.updated_at >= first.updated_at);
    assert.deepEqual(second.strategy, { type: "time_based", duration_ms: 60_000 });
    assert.equal(second.allocation, 20);
  });

  it("PATCH merges (burst null clears, kind switches drop old fields), never creates", async () => {
    const k = uniq("m");
    await ok(req(s.url, "POST", `/budgets/${k}`, tb(10, 1000, 4)), 201);
    assert.deepEqual((await ok(req(s.url, "PATCH", `/budgets/${k}`, { allocation: 7 }))).strategy, { type: "time_based", duration_ms: 1000, burst: 4 });
    assert.deepEqual((await ok(req(s.url, "PATCH", `/budgets/${k}`, { strategy: { burst: null } }))).strategy, { type: "time_based", duration_ms: 1000 });
    assert.equal((await ok(req(s.url, "PATCH", `/budgets/${k}`, {}))).allocation, 7);
    assertError(await req(s.url, "PATCH", `/budgets/${k}`, { strategy: { type: "while_in_flight", burst: 2 } }), 422, "while_in_flight budget must not set strategy.burst");
    const switched = await ok(req(s.url, "PATCH", `/budgets/${k}`, { strategy: { type: "while_in_flight" } }));
    assert.deepEqual(switched.strategy, { type: "while_in_flight" });
    assertError(await req(s.url, "PATCH", `/budgets/${k}`, { strategy: { type: "time_based" } }), 422, "time_based budget requires strategy.duration_ms");
    assertError(await req(s.url, "PATCH", `/budgets/${k}`, { strategy: { burst: 3 } }), 422, "while_in_flight budget must not set strategy.burst");
    assertError(await req(s.url, "PATCH", `/budgets/${k}`, { allocation: null }), 422, "budget allocation must not be null");
    assertError(await req(s.url, "PATCH", `/budgets/${k}`, { strategy: null }), 422, "budget strategy must not be null");
    const back = await ok(req(s.url, "PATCH", `/budgets/${k}`, { strategy: { type: "time_based", duration_ms: 500 } }));
    assert.deepEqual(back.strategy, { type: "time_based", duration_ms: 500 });
    assertError(await req(s.url, "PATCH", `/budgets/${uniq("none")}`, { allocation: 1 }), 404, /^budget '.*' not found$/);
  });

  it("DELETE: 204, then 404; GET of a missing key 404", async () => {
    const k = uniq("d");
    await ok(req(s.url, "POST", `/budgets/${k}`, wif(1)), 201);
    const r = await req(s.url, "DELETE", `/budgets/${k}`);
    assert.equal(r.status, 204);
    assertError(await req(s.url, "DELETE", `/budgets/${k}`), 404, `budget '${k}' not found`);
    assertError(await req(s.url, "GET", `/budgets/${k}`), 404, `budget '${k}' not found`);
  });

  it("keys are single percent-decoded path segments: a/b, spaces, unicode", async () => {
    for (const k of ["a/b", "with space", "ünï·cødé", "emails:acme"]) {
      const path = `/budgets/${encodeURIComponent(k)}-${uniq("")}`;
      const b = await ok(req(s.url, "POST", path, wif(2)), 201);
      assert.equal(b.key, decodeURIComponent(path.slice("/budgets/".length)));
      assert.equal((await ok(req(s.url, "GET", path))).key, b.key);
    }
  });

  const before = async (): Promise<Json> => (await ok(req(s.url, "GET", "/budgets"))).budgets;

  it("validation (§2.2): each rule's status and message, and nothing changes", async () => {
    const k = uniq("v");
    const list = await before();
    const cases: [string, unknown, number, string | RegExp][] = [
      [k, { allocation: 0, strategy: { type: "while_in_flight" } }, 422, "budget allocation must be at least 1"],
      [k, wif(1_000_001), 422, "budget allocation must not exceed 1000000"],
      [k, { allocation: -1, strategy: { type: "while_in_flight" } }, 400, /^invalid JSON: allocation: invalid value/],
      [k, { allocation: 1.5, strategy: { type: "while_in_flight" } }, 400, /^invalid JSON: allocation: invalid type/],
      [k, { allocation: 4294967296, strategy: { type: "while_in_flight" } }, 400, /^invalid JSON: allocation/],
      [k, { allocation: "1", strategy: { type: "while_in_flight" } }, 400, /^invalid JSON: allocation: invalid type/],
      [k, { strategy: { type: "while_in_flight" } }, 400, "invalid JSON: missing field `allocation`"],
      [k, { allocation: 1, strategy: { type: "leaky" } }, 422, 'unknown budget strategy: "leaky" (expected "time_based" or "while_in_flight")'],
      [k, { allocation: 1, strategy: { type: "time_based" } }, 422, "time_based budget requires strategy.duration_ms"],
      [k, tb(1, 0), 422, "time_based budget duration_ms must be at least 1"],
      [k, { allocation: 1, strategy: { type: "while_in_flight", duration_ms: 5 } }, 422,
        "while_in_flight budget must not set strategy.duration_ms — its tokens return on acknowledgement, not on a clock"],
      [k, { allocation: 1, strategy: { type: "while_in_flight", burst: 5 } }, 422, "while_in_flight budget must not set strategy.burst"],
      [k, tb(1, 10, 0), 422, "time_based budget burst must be at least 1"],
      [k, tb(1, 10, 1_000_001), 422, "time_based budget burst must not exceed 1000000"],
      [k, { ...wif(1), extra: true }, 400, "invalid JSON: unknown field `extra`, expected `allocation` or `strategy`"],
      [k, { allocation: 1, strategy: { type: "while_in_flight", x: 1 } }, 400, "invalid JSON: unknown field `x`, expected one of `type`, `duration_ms`, `burst`"],
      ["a%2Cb", wif(1), 422, "budget key must not contain ','"],
      ["a*", wif(1), 422, "budget key must not contain '*' (reserved)"],
      ["a%00", wif(1), 422, "budget key must not contain null bytes"],
    ];
    for (const [key, body, status, message] of cases) {
      for (const method of ["POST", "PUT"]) {
        assertError(await req(s.url, method, `/budgets/${key}`, body), status, message);
      }
    }
    assertError(await req(s.url, "POST", `/budgets/${k}`, "{"), 400, /^invalid JSON: /);
    assert.deepEqual(await before(), list);
    assert.equal((await ok(req(s.url, "POST", `/budgets/${k}`, tb(5, 100, 20)), 201)).strategy.burst, 20, "burst above allocation is allowed");
  });

  it("MessagePack both ways, burst included; errors in MessagePack too", async () => {
    const k = uniq("mp");
    const headers = { "content-type": "application/msgpack", accept: "application/msgpack" };
    const r = await rawReq(s.url, "POST", `/budgets/${k}`, headers, Buffer.from(pack(tb(3, 250, 9))));
    assert.equal(r.status, 201);
    assert.equal(r.headers["content-type"], "application/msgpack");
    const b = unpack(r.body) as Json;
    assert.deepEqual([b.key, b.allocation, b.strategy], [k, 3, { type: "time_based", duration_ms: 250, burst: 9 }]);
    const list = unpack((await rawReq(s.url, "GET", "/budgets", { accept: "application/msgpack" })).body) as Json;
    assert.ok(list.budgets.some((x: Json) => x.key === k));
    const bad = await rawReq(s.url, "POST", `/budgets/${k}`, headers, Buffer.from(pack(tb(3, 250))));
    assert.equal(bad.status, 409);
    assert.deepEqual(unpack(bad.body), { error: `budget '${k}' already exists` });
    const unknown = await rawReq(s.url, "PUT", `/budgets/${k}`, headers, Buffer.from(pack({ ...wif(1), zz: 1 })));
    assert.equal(unknown.status, 400);
    assert.match((unpack(unknown.body) as Json).error, /^invalid MessagePack: unknown field `zz`/);
  });

  it("405 on other methods of the budget paths", async () => {
    const r = await req(s.url, "DELETE", "/budgets");
    assert.equal(r.status, 405);
    assert.equal(r.headers.get("allow"), "GET, HEAD");
    const g = await req(s.url, "GET", "/jobs/budgets");
    assert.equal(g.status, 405);
    assert.equal(g.headers.get("allow"), "DELETE");
  });
});

describe("--max-budgets", () => {
  let own: TestServer;
  before(async () => {
    own = await startServer({ queue: { maxBudgets: 1 } });
  });
  after(() => own.close());

  it("a second create is 422; PUT of the existing key and PATCH work at the cap; delete frees the slot", async () => {
    await ok(req(own.url, "POST", "/budgets/one", wif(1)), 201);
    const full = "cannot create budget 'two': the server already holds its maximum of 1 budgets (--max-budgets / ZIZQ_MAX_BUDGETS). Raise the limit, or express the throttle as one shared budget rather than one per caller.";
    assertError(await req(own.url, "POST", "/budgets/two", wif(1)), 422, full);
    assertError(await req(own.url, "PUT", "/budgets/two", wif(1)), 422, full);
    assertError(await req(own.url, "POST", "/jobs", { type: "t", queue: "q", payload: 1, budgets: [{ key: "two", create_with: wif(1) }] }), 422, full);
    await ok(req(own.url, "PUT", "/budgets/one", wif(2)));
    await ok(req(own.url, "PATCH", "/budgets/one", { allocation: 3 }));
    assert.equal((await req(own.url, "DELETE", "/budgets/one")).status, 204);
    await ok(req(own.url, "POST", "/budgets/two", wif(1)), 201);
  });
});

describe("POST /reset", () => {
  it("deletes every budget; a re-created key starts over", async () => {
    const own = await startServer();
    try {
      await ok(req(own.url, "POST", "/budgets/k", wif(1)), 201);
      assert.equal((await req(own.url, "POST", "/reset")).status, 204);
      assert.deepEqual(await ok(req(own.url, "GET", "/budgets")), { budgets: [] });
      await ok(req(own.url, "POST", "/budgets/k", wif(1)), 201);
    } finally {
      await own.close();
    }
  });
});
