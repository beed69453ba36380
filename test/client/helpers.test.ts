// The client's pure parts (no server): key helpers against the official test vectors
// (CLIENT-API.md §7.5–7.7), Router and buildHandler (§7.2), TestClient (§9), error classes.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  Client, ClientError, ConflictError, ConnectionError, NotFoundError, NotSupportedError, ResponseError, Router, ServerError,
  TestClient, UnknownJobTypeError, ZizqError, batchConfig, buildHandler, payloadHasher, uniqueKey, type Job, type JobFunction,
} from "../../lib/client/index.ts";
import { buildResponseError } from "../../lib/client/errors.ts";

const named = (name: string, opts?: JobFunction["zizqOptions"]): JobFunction => {
  const fn: JobFunction = async () => {};
  Object.defineProperty(fn, "name", { value: name });
  if (opts) fn.zizqOptions = opts;
  return fn;
};

describe("key helpers", () => {
  it("payloadHasher matches the official test vectors", () => {
    assert.equal(payloadHasher()({ type: "send_email", payload: { userId: 42, action: "signup" } }),
      "send_email:92a35b76d228dafcafe61ad201dc337ba8fd92bcedfe02810ab2eda12eedbef6");
    assert.equal(payloadHasher({ prefix: false })({ type: "t", payload: [1, "x"] }),
      "9451570a7edfe0154ebe56b46caabfa4c1f758ad5535b6adc10539a6bf7d89a2");
    assert.equal(payloadHasher({ except: "." })({ type: "t", payload: { a: 1 } }),
      "t:74234e98afe7498fb5daf1f36ac2d78acc339464f950703b8c019892f982b90b");
    assert.match(payloadHasher({ only: ".nope" })({ type: "t", payload: { a: 1 } }),
      /44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a$/);
    assert.equal(payloadHasher({ except: ".notifications" })({ type: "push", payload: { tenant: 7, notifications: [1, 2] } }),
      "push:5a0caf3a880540be6f36532ef5b3effc0f44fddca1ef77838a0ac205366fcddf");
  });

  it("payloadHasher rejects bad options and paths; undefined payload is a SyntaxError", () => {
    assert.throws(() => payloadHasher({ only: ".a", except: ".b" }), { message: "payloadHasher: `only` and `except` cannot be combined" });
    assert.throws(() => payloadHasher({ only: "a" }), /payloadHasher/);
    assert.throws(() => payloadHasher({ only: ".a..b" }), /payloadHasher/);
    assert.throws(() => payloadHasher()({ type: "t", payload: undefined }), SyntaxError);
    const quoted = payloadHasher({ only: '.["dotted.key"]', prefix: false });
    assert.equal(quoted({ type: "t", payload: { "dotted.key": 1, other: 2 } }), payloadHasher({ prefix: false })({ type: "t", payload: { "dotted.key": 1 } }));
    const nested = payloadHasher({ only: ".a.b[0]", prefix: false });
    assert.equal(nested({ type: "t", payload: { a: { b: [5, 6], c: 1 } } }), nested({ type: "t", payload: { a: { b: [5, 7] } } }));
  });

  it("uniqueKey picks fields and needs a named function and an object payload", () => {
    const sendEmail = named("sendEmail");
    assert.equal(uniqueKey("userId", "action")(sendEmail, { userId: 42, action: "signup", extra: 1 }),
      "sendEmail:92a35b76d228dafcafe61ad201dc337ba8fd92bcedfe02810ab2eda12eedbef6");
    assert.throws(() => uniqueKey("a")(sendEmail, [1]), Error);
    assert.throws(() => uniqueKey()(named(""), 1), { message: "Job function must have a name or zizqOptions.type" });
    assert.throws(() => uniqueKey("bad-field"), /payloadHasher/);
  });

  it("batchConfig builds when/fold expressions and a key without the batch path", () => {
    const b = batchConfig(10, ".ids");
    assert.equal(b.when, "(($existing | .ids) + ($new | .ids)) | length <= 10");
    assert.equal(b.fold, "$existing | .ids += ($new | .ids)");
    assert.equal(batchConfig(5, ".x", { dedup: true, sorted: true }).fold, "$existing | .x = ((.x) + ($new | .x) | unique)");
    assert.equal(batchConfig(5, ".x", { sorted: true }).fold, "$existing | .x = ((.x) + ($new | .x) | sort)");
    assert.equal(b.key({ type: "t", payload: { ids: [1], u: 1 } }), b.key({ type: "t", payload: { ids: [2, 3], u: 1 } }));
  });
});

describe("Router and buildHandler", () => {
  const job = (type: string, payload: unknown = null) => ({ type, payload }) as Job;

  it("routes by type, falls back, else UnknownJobTypeError; build() snapshots the routes", async () => {
    const calls: string[] = [];
    const router = new Router().route("a", (p) => { calls.push(`a:${p}`); });
    const handler = router.build();
    router.route("b", () => { calls.push("b"); });
    await handler(job("a", 1));
    await assert.rejects(Promise.resolve(handler(job("b"))), (err: unknown) =>
      err instanceof UnknownJobTypeError && err.type === "b" && err.message === 'No handler registered for job type "b"' && !(err instanceof ZizqError));
    await new Router().fallback((j) => { calls.push(`fb:${j.type}`); }).build()(job("zzz"));
    assert.deepEqual(calls, ["a:1", "fb:zzz"]);
  });

  it("buildHandler registers functions by type name and rejects duplicates and nameless ones", async () => {
    const seen: unknown[] = [];
    const fn = Object.assign(async (p: unknown) => { seen.push(p); }, { zizqOptions: { type: "custom" } });
    await buildHandler([fn])(job("custom", 7));
    assert.deepEqual(seen, [7]);
    assert.throws(() => buildHandler([named("x"), named("x")]), { message: 'Duplicate job type registered: "x"' });
    assert.throws(() => buildHandler([named("")]), { message: "Job function must have a name or zizqOptions.type" });
  });
});

describe("TestClient", () => {
  it("buffers enqueues with the real resolution; dispatch runs and kills on throw", async () => {
    const t = new TestClient();
    assert.ok(t instanceof Client);
    assert.equal(t.url, "http://test.local");
    const welcome = named("welcome", { queue: "mail" });
    const a = await t.enqueue({ type: welcome, payload: { when: new Date(0) } });
    assert.equal(a.id, "test000000000000000000001");
    assert.deepEqual([a.queue, a.priority, a.status, a.payload], ["mail", 32768, "ready", { when: "1970-01-01T00:00:00.000Z" }]);
    await t.enqueueRaw({ type: "later", queue: "q", payload: 1, readyAt: Date.now() + 60_000, budgets: [{ key: "k" }] });
    assert.equal(t.enqueued("welcome"), true);
    assert.equal(t.enqueuedCount("welcome", { when: "1970-01-01T00:00:00.000Z" }), 1);
    assert.deepEqual(t.pendingJobs({ onlyQueues: "q" }).map((j) => [j.status, j.budgets]), [["scheduled", [{ key: "k", cost: 1 }]]]);
    const handled: string[] = [];
    assert.equal(await t.dispatch(async (j) => {
      handled.push(j.type);
      if (j.type === "welcome") await t.enqueue({ type: "child", queue: "q", payload: 1 });
    }, { recursive: true }), 2);
    assert.deepEqual(handled, ["welcome", "child"]);
    assert.equal(t.completedJobs().length, 2);
    assert.equal(t.completedJobs()[0].status, "ready", "jobs keep their enqueue-time status (quirk 13)");
    await t.enqueue({ type: "boom", queue: "q", payload: 1 });
    await assert.rejects(t.dispatch(() => { throw new Error("x"); }), { message: "x" });
    assert.deepEqual(t.deadJobs().map((j) => j.type), ["boom"]);
    await assert.rejects(t.getJob("x"), (err: unknown) => err instanceof NotSupportedError && err.message.startsWith("TestClient.getJob is not supported."));
    await assert.rejects(t.jobs() as unknown as Promise<unknown>, NotSupportedError);
    await assert.rejects(a.complete(), NotSupportedError);
    t.clear();
    assert.equal((await t.enqueue({ type: "x", queue: "q", payload: 1 })).id, "test000000000000000000001");
    await t.close();
  });

  it("dispatch stops at maxIterations when handlers keep enqueuing", async () => {
    const t = new TestClient();
    await t.enqueue({ type: "loop", queue: "q", payload: 1 });
    await assert.rejects(t.dispatch(() => t.enqueue({ type: "loop", queue: "q", payload: 1 }).then(() => {}), { recursive: true, maxIterations: 3 }),
      /maxIterations/);
  });
});

describe("errors", () => {
  it("status → class, message from the body's error, names", () => {
    const cases: [number, unknown, Function, string][] = [
      [404, { error: "gone" }, NotFoundError, "gone"],
      [409, { error: "dup" }, ConflictError, "dup"],
      [422, undefined, ClientError, "HTTP 422"],
      [503, { error: null }, ServerError, "HTTP 503"],
      [200, {}, ResponseError, "HTTP 200"],
    ];
    for (const [status, body, Class, message] of cases) {
      const err = buildResponseError(status, body);
      assert.ok(err instanceof Class && err instanceof ZizqError);
      assert.deepEqual([err.status, err.message, err.name, err.body], [status, message, Class.name, body]);
    }
    assert.equal(new ConnectionError("x").name, "ConnectionError");
    // clientClosed (an addition): false unless the client itself was closed; a getter, so
    // a logged ConnectionError does not grow a `{ clientClosed: false }` tail.
    assert.equal(new ConnectionError("x").clientClosed, false);
    assert.equal(new ConnectionError("x", { clientClosed: true }).clientClosed, true);
    assert.deepEqual(Object.keys(new ConnectionError("x", { clientClosed: true })), Object.keys(new ConnectionError("x")));
    assert.ok(!(buildResponseError(500, {}) instanceof ClientError));
  });
});

describe("public surface", () => {
  it("exports the official client's 29 runtime names, plus ConflictError, and nothing else", async () => {
    const mod = await import("../../lib/client/index.ts");
    assert.deepEqual(Object.keys(mod).sort(), [
      "Client", "ClientError", "ConflictError", "ConnectionError", "CronEntry", "CronEntryHandle", "CronGroup", "CronHandle",
      "ErrorPage", "ErrorQuery", "ErrorRecord", "Job", "JobPage", "JobQuery", "Lazy", "NotFoundError", "NotSupportedError",
      "ResponseError", "Router", "ServerError", "TestClient", "UnknownJobTypeError", "Worker", "ZizqError", "batchConfig",
      "buildHandler", "enqueue", "enqueueBulk", "payloadHasher", "uniqueKey",
    ]);
  });

  it("Client has the 55 methods of CLIENT-API.md §3.3, and a URL with a path is rejected at once", () => {
    const methods = Object.getOwnPropertyNames(Client.prototype).filter((n) => n !== "constructor" && n !== "buildDispatchers");
    assert.equal(methods.length, 55, methods.join(" "));
    assert.throws(() => new Client({ url: "http://127.0.0.1:7890/prefix" }), /invalid url/);
  });
});
