// Body codec rules (API.md §1.2, §1.4): malformed input is a 400 with the documented
// prefix, MessagePack stays inside the JSON model, integers keep their integer-ness,
// and RawJson payloads are spliced verbatim into JSON.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decode as referenceDecode, encode as referenceEncode } from "@msgpack/msgpack";
import { BodyDecodeError, decodeBody, encodeBody, encodeJson, encodeJsonBytes, encodeMsgpack, RawJson } from "../../lib/http/codec.ts";

const hex = (bytes: Uint8Array | string) => Buffer.from(bytes as Uint8Array).toString("hex");
const rejects = (bytes: number[] | Uint8Array | string, format: "json" | "msgpack", pattern: RegExp) =>
  assert.throws(
    () => decodeBody(typeof bytes === "string" ? Buffer.from(bytes) : Uint8Array.from(bytes), format),
    (err: unknown) => err instanceof BodyDecodeError && err.status === 400 && pattern.test(err.message),
  );

describe("decodeBody: JSON", () => {
  it("parses a JSON body", () => {
    assert.deepEqual(decodeBody(Buffer.from('{"a":[1,2.5,null,"é"]}'), "json"), { a: [1, 2.5, null, "é"] });
  });
  it("an empty body is malformed", () => rejects([], "json", /^invalid JSON: /));
  it("a syntax error carries the parser detail", () => rejects("{nope", "json", /^invalid JSON: .+/));
  it("invalid UTF-8 is malformed", () => rejects([0x22, 0xff, 0xfe, 0x22], "json", /^invalid JSON: invalid UTF-8/));
  it("a UTF-16 surrogate encoded in UTF-8 (CESU) is malformed", () =>
    rejects([0x22, 0xed, 0xa0, 0x80, 0x22], "json", /^invalid JSON: invalid UTF-8/));
});

describe("decodeBody: MessagePack", () => {
  const ok = (value: unknown) => assert.deepEqual(decodeBody(referenceEncode(value), "msgpack"), value);
  it("decodes maps, arrays, strings, floats, nil and bools", () => ok({ a: [1, -2, 2.5, null, true, "ü"], b: {} }));
  it("decodes uint64/int64 as numbers", () => ok({ at: 1_735_689_600_000, neg: -1_099_511_627_776 }));
  it("accepts float32 and float64 for floats", () => {
    assert.deepEqual(decodeBody(Uint8Array.from([0x81, 0xa1, 0x65, 0xca, 0x40, 0x20, 0, 0]), "msgpack"), { e: 2.5 });
    assert.deepEqual(decodeBody(Uint8Array.from([0xcb, 0x40, 0x04, 0, 0, 0, 0, 0, 0]), "msgpack"), 2.5);
  });
  it("an empty body is malformed", () => rejects([], "msgpack", /^invalid MessagePack: /));
  it("bin values are rejected, even nested", () => {
    rejects([0xc4, 0x01, 0x00], "msgpack", /^invalid MessagePack: bin values are not supported/);
    rejects(referenceEncode({ payload: { deep: [new Uint8Array([1, 2])] } }), "msgpack", /bin values/);
  });
  it("ext values are rejected (fixext, ext8, timestamp)", () => {
    rejects([0xd4, 0x01, 0x00], "msgpack", /^invalid MessagePack: ext values are not supported/);
    rejects([0x91, 0xc7, 0x01, 0x05, 0x00], "msgpack", /ext values/);
    rejects(referenceEncode({ at: new Date(0) }), "msgpack", /ext values/);
  });
  it("map keys must be strings", () => {
    rejects([0x81, 0x01, 0x02], "msgpack", /^invalid MessagePack: map keys must be strings/);
    rejects([0x81, 0xa1, 0x61, 0x81, 0xc0, 0x01], "msgpack", /map keys must be strings/);
  });
  it("invalid UTF-8 in a string or key is rejected", () => {
    rejects([0xa2, 0xc3, 0x28], "msgpack", /^invalid MessagePack: invalid UTF-8/);
    rejects([0x81, 0xa1, 0xff, 0x01], "msgpack", /invalid UTF-8/);
  });
  it("truncated input and trailing bytes are rejected", () => {
    rejects([0x92, 0x01], "msgpack", /unexpected end of input/);
    rejects([0xcf, 0, 0, 1], "msgpack", /unexpected end of input/);
    rejects([0x01, 0x02], "msgpack", /1 trailing byte/);
  });
  it("a container count larger than the input is rejected before any allocation", () =>
    rejects([0xdd, 0xff, 0xff, 0xff, 0xff], "msgpack", /unexpected end of input/));
  it("the reserved byte 0xc1 is rejected", () => rejects([0xc1], "msgpack", /reserved type 0xc1/));
  it('the key "__proto__" is accepted as in JSON and never reaches a prototype (issue 12 §8)', () => {
    const value = decodeBody(referenceEncode(JSON.parse('{"__proto__":{"polluted":1},"a":1}')), "msgpack") as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(value), Object.prototype);
    assert.equal(value.a, 1);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
  it("deep nesting decodes or fails as a 400, never as a crash", () => {
    const deep = Uint8Array.from([...new Array(100_000).fill(0x91), 0xc0]);
    try {
      decodeBody(deep, "msgpack");
    } catch (err) {
      assert.ok(err instanceof BodyDecodeError, String(err));
    }
  });
});

describe("encodeBody: MessagePack", () => {
  it("uses the smallest integer encodings", () => {
    assert.equal(hex(encodeMsgpack(5)), "05");
    assert.equal(hex(encodeMsgpack(200)), "ccc8");
    assert.equal(hex(encodeMsgpack(32768)), "cd8000");
    assert.equal(hex(encodeMsgpack(-5)), "fb");
    assert.equal(hex(encodeMsgpack(2 ** 32 - 1)), "ceffffffff");
  });
  it("writes integers beyond 32 bits as uint64/int64, never float64", () => {
    assert.equal(hex(encodeMsgpack(1_735_689_600_000)), "cf000001941f297c00");
    assert.equal(hex(encodeMsgpack(2 ** 32)), "cf0000000100000000");
    assert.equal(hex(encodeMsgpack(-(2 ** 40))), "d3ffffff0000000000");
    assert.equal(hex(encodeMsgpack(Number.MAX_SAFE_INTEGER)), "cf001fffffffffffff");
  });
  it("keeps floats as floats", () => {
    assert.equal(hex(encodeMsgpack(2.5)), "cb4004000000000000");
    assert.equal(hex(encodeMsgpack(1e300)).slice(0, 2), "cb");
  });
  it("objects are string-keyed maps (fixmap when small), undefined properties omitted", () => {
    assert.equal(hex(encodeMsgpack({ a: 1, skip: undefined })), "81a16101");
    const big = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i]));
    assert.equal(hex(encodeMsgpack(big)).slice(0, 6), "de0014");
  });
  it("timestamps inside nested values and RawJson payloads are uint64 too", () => {
    const bytes = encodeMsgpack({ jobs: [{ ready_at: 1_735_689_600_000, payload: new RawJson('{"at":1735689600001}') }] });
    assert.deepEqual(referenceDecode(bytes), { jobs: [{ ready_at: 1_735_689_600_000, payload: { at: 1_735_689_600_001 } }] });
    assert.equal(hex(bytes).match(/cb/g), null, "no float64 marker at all");
  });
  it("a reserved prefix leaves 4 bytes before the value", () => {
    const bytes = encodeMsgpack({ a: 1 }, true);
    assert.equal(hex(bytes.subarray(4)), "81a16101");
  });
  it("round-trips through decodeBody", () => {
    const value = { id: "x", n: [0, -1, 65535, 2 ** 31, -(2 ** 31) - 1, 2 ** 53 - 1], f: 0.1, s: "😀", o: { z: null } };
    assert.deepEqual(decodeBody(encodeMsgpack(value), "msgpack"), value);
  });
});

describe("encodeBody: JSON", () => {
  const samples: unknown[] = [
    { a: 1, b: "x\n\"y\"\u2028", c: [1, null, undefined, () => 1], d: undefined, e: { f: NaN, g: -0, h: 1e21 } },
    [],
    {},
    "plain",
    null,
    [new Date(0)],
  ];
  it("matches JSON.stringify for plain values", () => {
    for (const value of samples) assert.equal(encodeJson(value), JSON.stringify(value));
  });
  it("splices RawJson verbatim anywhere", () => {
    const raw = new RawJson('{"keep":"as-is","n":1.50}');
    assert.equal(encodeJson({ id: "a", payload: raw, list: [raw] }), '{"id":"a","payload":{"keep":"as-is","n":1.50},"list":[{"keep":"as-is","n":1.50}]}');
    assert.equal(encodeJson(new RawJson("null")), "null");
  });
  it("a deeply frozen array (shared budget bindings) encodes the same every time; a shallow-frozen one is not cached", () => {
    const shared = Object.freeze([Object.freeze({ key: "k", cost: 2 })]);
    for (let i = 0; i < 2; i++) assert.equal(encodeJson({ budgets: shared }), '{"budgets":[{"key":"k","cost":2}]}');
    const mutable = { key: "k", cost: 1 };
    const shallow = Object.freeze([mutable]);
    assert.equal(encodeJson(shallow), '[{"key":"k","cost":1}]');
    mutable.cost = 3;
    assert.equal(encodeJson(shallow), '[{"key":"k","cost":3}]');
    const inner = { n: 1 };
    const twoDeep = Object.freeze([Object.freeze({ key: "k", inner })]);
    assert.equal(encodeJson(twoDeep), '[{"key":"k","inner":{"n":1}}]');
    inner.n = 2;
    assert.equal(encodeJson(twoDeep), '[{"key":"k","inner":{"n":2}}]', "frozen two levels down only: not cached");
  });
  it("long arrays are written as bytes, identical to the text (bulk responses, list pages)", () => {
    const raw = new RawJson('{"keep":"as-is","n":1.50,"s":"é😀\\u2028"}');
    const job = (i: number) => ({ id: `j${i}`, payload: raw, d: undefined, f: () => 1, t: new Date(i), s: "é😀\n\u2028" });
    const many = (n: number) => Array.from({ length: n }, (_, i) => (i % 7 === 3 ? undefined : job(i)));
    const values: unknown[] = [
      many(65), many(5000), // past TEXT_FLUSH many times over, and the scratch growth
      { jobs: many(1000) }, { before: 1, jobs: many(200), skipped: undefined, after: [1, 2], raw },
      { jobs: Object.freeze(many(100)) }, // frozen: the text path (cached arrays)
      { nested: { jobs: many(100) } }, // two levels down: the text path
      { toJSON: () => ({ jobs: many(100) }) },
    ];
    for (const value of values) {
      const bytes = encodeBody(value, "json");
      assert.equal(Buffer.from(bytes).toString("utf8"), encodeJson(value));
      assert.equal(typeof bytes === "string", value === values[4] || value === values[5] || value === values[6]);
    }
    assert.equal(encodeJsonBytes(many(65)).toString("utf8"), encodeJson(many(65)));
    // A huge body does not keep its scratch: the next one is still right.
    const huge = Array.from({ length: 30_000 }, (_, i) => ({ s: "x".repeat(200), i }));
    assert.equal(encodeJsonBytes(huge).toString("utf8"), JSON.stringify(huge));
    assert.equal(encodeJsonBytes(many(70)).toString("utf8"), encodeJson(many(70)));
    // Text that takes more bytes than UTF-16 units (3 for "é€", 4 for "😀"): the room
    // reserved before each write must hold it, or buf.write would cut it short silently.
    const wide = Array.from({ length: 3000 }, (_, i) => ({ s: "€😀é".repeat(40), i }));
    assert.equal(encodeJsonBytes(wide).toString("utf8"), JSON.stringify(wide));
  });
  it("encodeBody picks the format", () => {
    assert.equal(encodeBody({ a: 1 }, "json"), '{"a":1}');
    assert.equal(hex(encodeBody({ a: 1 }, "msgpack")), "81a16101");
  });
});
