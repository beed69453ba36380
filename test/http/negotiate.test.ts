// Content negotiation tables of API.md §1.2 and §1.3, row by row.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { requestFormat, responseFormat, streamFormat } from "../../lib/http/negotiate.ts";

describe("responseFormat (Accept, non-streaming)", () => {
  const cases: [string | undefined, string | null][] = [
    [undefined, "json"],
    ["application/msgpack", "msgpack"],
    ["application/json, application/msgpack;q=0.1", "msgpack"], // substring order, no q-values
    ["application/json", "json"],
    ["*/*", "json"],
    ["text/html, */*;q=0.8", "json"],
    ["text/xml", null],
    ["application/*", null],
    ["application/vnd.zizq.msgpack-stream", null],
  ];
  for (const [accept, expected] of cases) {
    it(`${accept ?? "(absent)"} → ${expected ?? "406"}`, () => assert.equal(responseFormat(accept), expected));
  }
});

describe("requestFormat (Content-Type)", () => {
  const cases: [string | undefined, string | null][] = [
    [undefined, "json"],
    ["application/msgpack", "msgpack"],
    ["application/json; charset=utf-8", "json"],
    ["text/plain", null],
    ["application/x-www-form-urlencoded", null],
  ];
  for (const [contentType, expected] of cases) {
    it(`${contentType ?? "(absent)"} → ${expected ?? "415"}`, () => assert.equal(requestFormat(contentType), expected));
  }
});

describe("streamFormat (Accept, GET /jobs/take)", () => {
  const cases: [string | undefined, string | null][] = [
    [undefined, "ndjson"],
    ["text/event-stream", "sse"],
    ["application/x-ndjson, text/event-stream", "sse"],
    ["application/vnd.zizq.msgpack-stream", "msgpack"],
    ["application/msgpack", "msgpack"],
    ["application/x-ndjson", "ndjson"],
    ["application/json", "ndjson"],
    ["*/*", "ndjson"],
    ["text/xml", null],
  ];
  for (const [accept, expected] of cases) {
    it(`${accept ?? "(absent)"} → ${expected ?? "406"}`, () => assert.equal(streamFormat(accept), expected));
  }
});
