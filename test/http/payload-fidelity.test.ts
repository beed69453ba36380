// Payloads are stored as sent (API.md §3.4 "stored verbatim"; docs/format.md, payload
// convention): over a real server, JSON and MessagePack in, JSON and MessagePack out, on
// every read path (GET /jobs/{id}, GET /jobs, the take stream), integers stay exact to
// 64 bits and floats stay floats.

import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, it } from "node:test";
import { decode, encode } from "@msgpack/msgpack";
import { ByteSink, writeJsonAsMsgpack } from "../../lib/http/_json-msgpack.ts";
import { EACH, jsonMemberSpans, jsonSpanText } from "../../lib/http/_json-scan.ts";
import { msgpackToJson } from "../../lib/http/_msgpack-json.ts";
import { msgpackMemberSpans } from "../../lib/http/_msgpack-walk.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { rawReq, uniq } from "./_client.ts";
import { canonicalJson, randomJson, seededRandom } from "./_random-json.ts";

const JSON_TYPE = { "content-type": "application/json", accept: "application/json" };
const MSGPACK_TYPE = { "content-type": "application/msgpack", accept: "application/msgpack" };
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

/** [sent JSON text, stored compact text]. */
const JSON_CASES: [string, string][] = [
  ["12345678901234567890", "12345678901234567890"],
  ["-9223372036854775808", "-9223372036854775808"],
  ["18446744073709551615", "18446744073709551615"],
  ["1.0", "1.0"], ["10.0", "10.0"], ["1e2", "1e2"], ["0.1", "0.1"], ["-0.0", "-0.0"], ["null", "null"],
  [' [ 1 , {"a" : [ 2.50 , "x y" ] } ,\n\t{ } , [ ] ] ', '[1,{"a":[2.50,"x y"]},{},[]]'],
  ['{ "s" : "a\\"b\\\\n\\u2028" , "u" : "é😀\u2028" }', '{"s":"a\\"b\\\\n\\u2028","u":"é😀\u2028"}'],
  ['{"dup":1, "dup":2.0}', '{"dup":1,"dup":2.0}'],
];

/** A MessagePack enqueue body around raw payload bytes (so floats can be spelled exactly). */
function msgpackEnqueue(queue: string, payload: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([0x83]), encode("type"), encode("t"), encode("queue"), encode(queue), encode("payload"), payload]);
}
const msgpackOf = (json: string) => {
  const sink = new ByteSink();
  writeJsonAsMsgpack(json, sink);
  return Buffer.from(sink.buffer.subarray(0, sink.length));
};
/** The payload's JSON text inside a JSON job object / a MessagePack job object. */
const jsonPayload = (text: string) => jsonSpanText(text, jsonMemberSpans(text, ["payload"])[0]);
const msgpackPayloadBytes = (bytes: Buffer) => {
  const [span] = msgpackMemberSpans(bytes, ["payload"]);
  return bytes.subarray(span.start, span.end);
};

describe("payload fidelity", () => {
  let s: TestServer;
  before(async () => (s = await startServer()));
  after(() => s.close());

  const post = async (path: string, body: string | Buffer, headers: Record<string, string>) => {
    const r = await rawReq(s.url, "POST", path, headers, body);
    assert.ok(r.status === 201 || r.status === 200, `${r.status} ${r.body}`);
    return headers.accept === "application/json" ? JSON.parse(r.body.toString()) : decode(r.body);
  };
  const getJson = async (path: string) => (await rawReq(s.url, "GET", path, { accept: "application/json" })).body.toString();
  const getMsgpack = async (path: string) => (await rawReq(s.url, "GET", path, { accept: "application/msgpack" })).body;

  it("JSON in: GET /jobs/{id} gives the text back compact, in JSON and in MessagePack", async () => {
    for (const [sent, stored] of JSON_CASES) {
      const job = await post("/jobs", `{"type":"t","queue":"${uniq()}","payload":${sent}}`, JSON_TYPE);
      assert.equal(jsonPayload(await getJson(`/jobs/${job.id}`)), stored, sent);
      assert.equal(msgpackToJson(msgpackPayloadBytes(await getMsgpack(`/jobs/${job.id}`)), 0), canonicalJson(sent), sent);
    }
  });

  it("MessagePack out: floats are float64 (0xcb), big integers uint64/int64 (0xcf/0xd3)", async () => {
    const bytesOf = async (sent: string) => {
      const job = await post("/jobs", `{"type":"t","queue":"${uniq()}","payload":${sent}}`, JSON_TYPE);
      return hex(msgpackPayloadBytes(await getMsgpack(`/jobs/${job.id}`)));
    };
    assert.equal(await bytesOf("10.0"), "cb4024000000000000");
    assert.equal(await bytesOf("1e2"), "cb4059000000000000");
    assert.equal(await bytesOf("-0.0"), "cb8000000000000000");
    assert.equal(await bytesOf("18446744073709551615"), "cfffffffffffffffff");
    assert.equal(await bytesOf("12345678901234567890"), "cfab54a98ceb1f0ad2");
    assert.equal(await bytesOf("-9223372036854775808"), "d38000000000000000");
    assert.equal(await bytesOf('{"f":1e10,"i":10000000000}'), "82a166cb4202a05f20000000a169cf00000002540be400");
  });

  it("MessagePack in: stored text keeps int-vs-float; MessagePack out gives the same bytes", async () => {
    const cases: [string, string][] = [
      ["cb4024000000000000", "10.0"], ["cb3ff0000000000000", "1.0"], ["cb8000000000000000", "-0.0"],
      ["cfffffffffffffffff", "18446744073709551615"], ["d38000000000000000", "-9223372036854775808"],
      ["cfab54a98ceb1f0ad2", "12345678901234567890"], ["cb7e37e43c8800759c", "1e+300"],
      [hex(Buffer.concat([Buffer.from("82a16192cb400400000000000001a173", "hex"), encode('a"b\\n\u2028é😀')])),
        '{"a":[2.5,1],"s":"a\\"b\\\\n\u2028é😀"}'],
      ["82a16101a161cb4000000000000000", '{"a":1,"a":2.0}'],
    ];
    for (const [payload, stored] of cases) {
      const job = await post("/jobs", msgpackEnqueue(uniq(), Buffer.from(payload, "hex")), MSGPACK_TYPE);
      assert.equal(jsonPayload(await getJson(`/jobs/${job.id}`)), stored, payload);
      assert.equal(hex(msgpackPayloadBytes(await getMsgpack(`/jobs/${job.id}`))), payload, stored);
    }
    // float32 in: widened to f64 (as serde_json does), still a float.
    const job = await post("/jobs", msgpackEnqueue(uniq(), Buffer.from("ca41200000", "hex")), MSGPACK_TYPE);
    assert.equal(jsonPayload(await getJson(`/jobs/${job.id}`)), "10.0");
  });

  it("MessagePack in: NaN or Infinity in a payload is a 400", async () => {
    for (const payload of ["cb7ff8000000000000", "81a178cb7ff0000000000000"]) {
      const r = await rawReq(s.url, "POST", "/jobs", MSGPACK_TYPE, msgpackEnqueue(uniq(), Buffer.from(payload, "hex")));
      assert.equal(r.status, 400);
      assert.match((decode(r.body) as { error: string }).error, /^invalid MessagePack: (NaN|Infinity) is not a JSON number/);
    }
  });

  it("the last duplicate `payload` key is the one stored, like every other field", async () => {
    const q = uniq();
    const job = await post("/jobs", `{"payload":1,"type":"t","queue":"${q}","payload" : { "x" : 1.0 }}`, JSON_TYPE);
    assert.equal(jsonPayload(await getJson(`/jobs/${job.id}`)), '{"x":1.0}');
  });

  it("bulk enqueue (JSON and MessagePack): each payload as sent; GET /jobs lists them so", async () => {
    const q = uniq();
    const body = `{"jobs":[${JSON_CASES.map(([sent]) => `{"type":"t","queue":"${q}","payload":\n${sent}}`).join(" , ")}]}`;
    await post("/jobs/bulk", body, JSON_TYPE);
    const mpJobs = JSON_CASES.map(([sent]) => msgpackEnqueue(q, msgpackOf(sent)));
    const mpBody = Buffer.concat([Buffer.from([0x81]), encode("jobs"), Buffer.from([0xdc, 0, mpJobs.length]), ...mpJobs]);
    await post("/jobs/bulk", mpBody, MSGPACK_TYPE);
    const expected = [...JSON_CASES.map(([, stored]) => stored), ...JSON_CASES.map(([sent]) => canonicalJson(sent))];
    const list = await getJson(`/jobs?queue=${q}&limit=100`);
    assert.deepEqual(jsonMemberSpans(list, ["jobs", EACH, "payload"]).map((span) => jsonSpanText(list, span)), expected);
    const mpList = await getMsgpack(`/jobs?queue=${q}&limit=100`);
    assert.deepEqual(msgpackMemberSpans(mpList, ["jobs", EACH, "payload"]).map((span) => msgpackToJson(mpList, span.start)),
      expected.map(canonicalJson));
  });

  it("the take stream carries the same text (NDJSON) and bytes (MessagePack stream)", async () => {
    const q = uniq();
    for (const [sent] of JSON_CASES) await post("/jobs", `{"type":"t","queue":"${q}","payload":${sent}}`, JSON_TYPE);
    const frames = await takeFrames(s.url, q, "application/x-ndjson", JSON_CASES.length);
    assert.deepEqual(frames.map((f) => jsonPayload(f.toString())), JSON_CASES.map(([, stored]) => stored));
    // The closed stream gave the jobs back (ready again, same order).
    const mpFrames = await takeFrames(s.url, q, "application/vnd.zizq.msgpack-stream", JSON_CASES.length);
    assert.deepEqual(mpFrames.map((f) => msgpackToJson(msgpackPayloadBytes(f), 0)), JSON_CASES.map(([sent]) => canonicalJson(sent)));
    assert.equal(hex(msgpackPayloadBytes(mpFrames[4])), "cb4024000000000000"); // 10.0
    assert.equal(hex(msgpackPayloadBytes(mpFrames[0])), "cfab54a98ceb1f0ad2");
  });

  it("backoff.exponent is a float on the wire: JSON 2.0, MessagePack float32", async () => {
    const job = await post("/jobs", `{"type":"t","queue":"${uniq()}","payload":null,"backoff":{"exponent":2,"base_ms":1000,"jitter_ms":0}}`, JSON_TYPE);
    assert.match(await getJson(`/jobs/${job.id}`), /"backoff":\{"exponent":2\.0,"base_ms":1000,"jitter_ms":0\}/);
    const exponent = Buffer.concat([encode("exponent"), Buffer.from("ca40000000", "hex")]);
    assert.ok((await getMsgpack(`/jobs/${job.id}`)).includes(exponent));
  });

  it("jq filters see the exact stored numbers: 20-digit integers differ, 1.0 equals 1", async () => {
    const q = uniq();
    const ids = [];
    for (const payload of ["12345678901234567890", "12345678901234567891", '{"a":1.0}']) {
      ids.push((await post("/jobs", `{"type":"t","queue":"${q}","payload":${payload}}`, JSON_TYPE)).id);
    }
    const matching = async (filter: string) =>
      (JSON.parse(await getJson(`/jobs?queue=${q}&filter=${encodeURIComponent(filter)}`)).jobs as { id: string }[]).map((j) => j.id);
    assert.deepEqual(await matching(". == 12345678901234567891"), [ids[1]]);
    assert.deepEqual(await matching(". == 12345678901234567890"), [ids[0]]);
    assert.deepEqual(await matching('. == {"a":1}'), [ids[2]]);
  });

  it("property: random JSON values, sent with random whitespace, read back compact", async () => {
    const rand = seededRandom(42);
    const q = uniq();
    const values = Array.from({ length: 300 }, () => randomJson(rand));
    await post("/jobs/bulk", `{"jobs":[${values.map((v) => `{"type":"t","queue":"${q}","payload": ${v.sent}}`).join(",")}]}`, JSON_TYPE);
    // The same values through MessagePack: stored as the canonical text.
    await post("/jobs/bulk", Buffer.concat([Buffer.from("81a46a6f6273dc012c", "hex"), ...values.map((v) => msgpackEnqueue(q, msgpackOf(v.sent)))]), MSGPACK_TYPE);
    const list = await getJson(`/jobs?queue=${q}&limit=2000`);
    const texts = jsonMemberSpans(list, ["jobs", EACH, "payload"]).map((span) => jsonSpanText(list, span));
    assert.deepEqual(texts, [...values.map((v) => v.compact), ...values.map((v) => canonicalJson(v.sent))]);
  });

  it("property: a bulk body over 96 KiB (parsed job by job) stores every payload as the whole-text path does", async () => {
    const rand = seededRandom(96);
    const q = uniq();
    const values = Array.from({ length: 1500 }, () => randomJson(rand));
    const body = `{"jobs":[${values.map((v) => `{"type":"t","queue":"${q}","payload": ${v.sent} , "payload" : ${v.sent}}`).join(" ,\n")}]}`;
    assert.ok(Buffer.byteLength(body) >= 96 * 1024, `${Buffer.byteLength(body)} bytes`);
    await post("/jobs/bulk", body, JSON_TYPE);
    const list = await getJson(`/jobs?queue=${q}&limit=2000`);
    assert.deepEqual(jsonMemberSpans(list, ["jobs", EACH, "payload"]).map((span) => jsonSpanText(list, span)), values.map((v) => v.compact));
  });
});

/** The first `n` job frames of a take stream, then a disconnect. */
function takeFrames(base: string, queue: string, accept: string, n: number): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const request = http.get(new URL(`/jobs/take?queue=${queue}&prefetch=0`, base), { agent: false, headers: { accept } }, (res) => {
      let buffered = Buffer.alloc(0);
      const frames: Buffer[] = [];
      res.on("data", (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        for (;;) {
          if (accept === "application/x-ndjson") {
            const nl = buffered.indexOf(0x0a);
            if (nl < 0) break;
            if (nl > 0) frames.push(buffered.subarray(0, nl));
            buffered = buffered.subarray(nl + 1);
          } else {
            if (buffered.length < 4 || buffered.length < 4 + buffered.readUInt32BE(0)) break;
            const length = buffered.readUInt32BE(0);
            if (length > 0) frames.push(buffered.subarray(4, 4 + length));
            buffered = buffered.subarray(4 + length);
          }
        }
        if (frames.length >= n) {
          request.destroy();
          resolve(frames.slice(0, n));
        }
      });
    });
    request.on("error", (err) => (request.destroyed ? undefined : reject(err)));
  });
}
