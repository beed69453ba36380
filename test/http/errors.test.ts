// The single error mapping (API.md §1.5): statuses, bodies, formats, logging; and the
// 406/415 bodies as a client sees them over a real socket.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { decode } from "@msgpack/msgpack";
import { HTTPError } from "h3";
import { toNodeHandler } from "h3/node";
import { BodyDecodeError } from "../../lib/http/codec.ts";
import {
  HttpError,
  methodNotAllowed,
  notAcceptable,
  notFound,
  toErrorResponse,
  unsupportedMediaType,
} from "../../lib/http/errors.ts";
import { listen, type Listener } from "../../lib/http/listen.ts";
import { QueueError } from "../../lib/queue/types.ts";
import { createTestApp, h1Request, type TestApp } from "./_transport.ts";

const json = (body: Uint8Array | string) => JSON.parse(typeof body === "string" ? body : Buffer.from(body).toString());
const noLog = (err: unknown) => assert.fail(`unexpected log: ${String(err)}`);

describe("toErrorResponse", () => {
  it("maps every QueueError code and merges its body", () => {
    const expected = { not_found: 404, invalid_argument: 400, unprocessable: 422, conflict: 409, full: 507, unavailable: 503 };
    for (const [code, status] of Object.entries(expected)) {
      const res = toErrorResponse(new QueueError(code as never, `msg ${code}`, { extra: 1 }), "json", noLog);
      assert.equal(res.status, status);
      assert.deepEqual(json(res.body), { error: `msg ${code}`, extra: 1 });
      assert.equal(res.headers["content-type"], "application/json");
    }
  });
  it("finds the original error inside h3's unhandled wrapper", () => {
    // What h3 2.x does with a non-HTTPError thrown by a handler (response.mjs prepareResponse).
    const wrapped = new HTTPError(new QueueError("conflict", "taken") as never);
    (wrapped as { unhandled?: boolean }).unhandled = true;
    const res = toErrorResponse(wrapped, "json", noLog);
    assert.deepEqual([res.status, json(res.body)], [409, { error: "taken" }]);
  });
  it("HttpError keeps its status, body fields and headers", () => {
    const res = toErrorResponse(methodNotAllowed(["GET", "POST"]), "json", noLog);
    assert.deepEqual([res.status, res.headers.allow, json(res.body)], [405, "GET, POST", { error: "method not allowed" }]);
    assert.deepEqual(json(toErrorResponse(notFound(), "json", noLog).body), { error: "not found" });
    assert.equal(toErrorResponse(new HttpError(413, "too big"), "json", noLog).status, 413);
  });
  it("body decode errors are 400 with their message", () => {
    const res = toErrorResponse(new BodyDecodeError("invalid JSON: x"), "json", noLog);
    assert.deepEqual([res.status, json(res.body)], [400, { error: "invalid JSON: x" }]);
  });
  it("406 is always JSON; 415 follows the requested format", () => {
    const r406 = toErrorResponse(notAcceptable(), "msgpack", noLog);
    assert.equal(r406.headers["content-type"], "application/json");
    assert.deepEqual(json(r406.body), { error: "not acceptable", supported: ["application/json", "application/msgpack"] });
    const r415 = toErrorResponse(unsupportedMediaType(), "msgpack", noLog);
    assert.equal(r415.headers["content-type"], "application/msgpack");
    assert.deepEqual(decode(r415.body as Uint8Array), {
      error: "unsupported media type",
      supported: ["application/json", "application/msgpack"],
    });
  });
  it("h3's own 404 becomes our 404 body", () => {
    const res = toErrorResponse(new HTTPError({ status: 404, message: "Cannot find any route" }), "json", noLog);
    assert.deepEqual([res.status, json(res.body)], [404, { error: "not found" }]);
  });
  it("anything else is a generic 500, logged in full", () => {
    const logged: unknown[] = [];
    const boom: unknown = new TypeError("db password is hunter2");
    const res = toErrorResponse(boom, "json", (err) => logged.push(err));
    assert.deepEqual([res.status, json(res.body)], [500, { error: "internal server error" }]);
    assert.deepEqual(logged, [boom]);
    assert.equal(toErrorResponse("a string", "json", (err) => logged.push(err)).status, 500);
    assert.equal(logged.length, 2);
  });
});

describe("406/415 over HTTP", () => {
  let t: TestApp;
  let listener: Listener;
  before(async () => {
    t = createTestApp();
    listener = await listen(toNodeHandler(t.app), { host: "127.0.0.1", port: 0 });
  });
  after(() => listener.close(100));

  it("Accept: text/xml → 406 JSON", async () => {
    const res = await h1Request(listener.url, "POST", "/echo", { accept: "text/xml", "content-type": "application/json" }, "{}");
    assert.equal(res.status, 406);
    assert.equal(res.headers["content-type"], "application/json");
    assert.deepEqual(json(res.body), { error: "not acceptable", supported: ["application/json", "application/msgpack"] });
  });
  it("Content-Type: text/plain → 415, msgpack when accepted", async () => {
    const asJson = await h1Request(listener.url, "POST", "/echo", { "content-type": "text/plain" }, "hi");
    assert.equal(asJson.status, 415);
    assert.deepEqual(json(asJson.body), { error: "unsupported media type", supported: ["application/json", "application/msgpack"] });
    const asMsgpack = await h1Request(listener.url, "POST", "/echo", { "content-type": "text/plain", accept: "application/msgpack" }, "hi");
    assert.equal(asMsgpack.headers["content-type"], "application/msgpack");
    assert.equal((decode(asMsgpack.body) as { error: string }).error, "unsupported media type");
  });
  it("take stream with an unknown Accept → 406 listing the stream types", async () => {
    const res = await h1Request(listener.url, "GET", "/take", { accept: "text/xml" });
    assert.equal(res.status, 406);
    assert.deepEqual(json(res.body), {
      error: "not acceptable",
      supported: ["text/event-stream", "application/x-ndjson", "application/vnd.zizq.msgpack-stream"],
    });
  });
  it("a QueueError thrown in an h3 handler → its status, body and no log", async () => {
    const res = await h1Request(listener.url, "GET", "/conflict", { accept: "application/msgpack" });
    assert.equal(res.status, 409);
    assert.deepEqual(decode(res.body), { error: "taken", id: "x" });
    assert.deepEqual(t.logged, []);
  });
  it("a malformed body → 400 with the codec's message", async () => {
    const res = await h1Request(listener.url, "POST", "/echo", { "content-type": "application/msgpack" }, Buffer.from([0xc4, 0, 0]));
    assert.equal(res.status, 400);
    assert.match(json(res.body).error, /^invalid MessagePack: bin values are not supported/);
  });
});
