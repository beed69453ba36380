// Payload scanners and transcoders (docs/format.md, payload convention): the JSON member
// scanner picks the value JSON.parse keeps and compacts it without touching strings or
// number tokens; MessagePack → JSON text keeps integers exact and floats floats; JSON text
// → MessagePack keeps number kinds with the smallest encodings.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encode } from "@msgpack/msgpack";
import { ByteSink, writeJsonAsMsgpack } from "../../lib/http/_json-msgpack.ts";
import { encodeMsgpack, RawJson } from "../../lib/http/codec.ts";
import { EACH, type MemberPath, jsonMemberSpans, jsonSpanText } from "../../lib/http/_json-scan.ts";
import { msgpackToJson } from "../../lib/http/_msgpack-json.ts";
import { checkMsgpack, MsgpackShapeError, msgpackMemberSpans } from "../../lib/http/_msgpack-walk.ts";
import { canonicalJson, randomJson, seededRandom } from "./_random-json.ts";

const jsonPicks = (text: string, path: MemberPath) =>
  jsonMemberSpans(text, path).map((span) => [span.indices.join("."), jsonSpanText(text, span)]);
const toMsgpack = (text: string) => {
  const sink = new ByteSink();
  writeJsonAsMsgpack(text, sink);
  return Buffer.from(sink.buffer.subarray(0, sink.length));
};
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const roundTrip = (text: string) => msgpackToJson(toMsgpack(text), 0);

describe("jsonMemberSpans / jsonSpanText", () => {
  it("finds the payload and keeps number tokens as sent", () => {
    assert.deepEqual(jsonPicks('{"type":"t","payload":{"n":1.0,"big":12345678901234567890,"e":1E+2},"q":1}', ["payload"]),
      [["", '{"n":1.0,"big":12345678901234567890,"e":1E+2}']]);
  });
  it("a duplicate key: the last one wins, as in JSON.parse", () => {
    assert.deepEqual(jsonPicks('{"payload":1,"payload":{"a":2},"x":0}', ["payload"]), [["", '{"a":2}']]);
    const bulk = '{"jobs":[{"payload":1},{"payload":2}],"jobs":[{"payload":3,"payload":4}]}';
    assert.deepEqual(jsonPicks(bulk, ["jobs", EACH, "payload"]), [["0", "4"]]);
  });
  it("an escaped key matches its unescaped name", () =>
    assert.deepEqual(jsonPicks('{"p\\u0061yload":[1]}', ["payload"]), [["", "[1]"]]));
  it("keys that only start like the member do not match", () =>
    assert.deepEqual(jsonPicks('{"payloads":1,"payloa":2,"\\"payload":3}', ["payload"]), []));
  it("EACH yields one span per array element that has the member, with its index", () => {
    const text = '{"jobs":[{"payload":"a"},{"x":1},7,null,{"payload":[]}]}';
    assert.deepEqual(jsonPicks(text, ["jobs", EACH, "payload"]), [["0", '"a"'], ["4", "[]"]]);
  });
  it("a value of the wrong kind on the way yields nothing", () => {
    assert.deepEqual(jsonPicks("[1,2]", ["payload"]), []);
    assert.deepEqual(jsonPicks('{"jobs":{"payload":1}}', ["jobs", EACH, "payload"]), []);
    assert.deepEqual(jsonPicks('"payload"', ["payload"]), []);
  });
  it("compacts whitespace outside strings only", () => {
    const text = ' {\n "payload" :\t[ 1 ,\r\n { "a b" : " x  y " } , "\\"  \\\\" , -0.0 ] \n} ';
    assert.deepEqual(jsonPicks(text, ["payload"]), [["", '[1,{"a b":" x  y "},"\\"  \\\\",-0.0]']]);
  });
  it("strings ending in escaped backslashes end where JSON says", () => {
    const text = '{"a":"\\\\","payload":"x\\\\\\"y","b":"\\""}';
    assert.deepEqual(jsonPicks(text, ["payload"]), [["", '"x\\\\\\"y"']]);
  });
  it("property: random values in random whitespace come back compact, at every index", () => {
    const rand = seededRandom(1);
    for (let round = 0; round < 300; round++) {
      const values = Array.from({ length: 3 }, () => randomJson(rand));
      const text = `{ "jobs" : [ ${values.map((v, i) => `{"x":${i} , "payload" :\n${v.sent}}`).join(" , ")} ] }`;
      JSON.parse(text); // the scanner's precondition
      assert.deepEqual(jsonPicks(text, ["jobs", EACH, "payload"]), values.map((v, i) => [String(i), v.compact]), text);
    }
  });
});

describe("msgpackMemberSpans", () => {
  const picks = (value: Uint8Array, path: MemberPath) =>
    msgpackMemberSpans(value, path).map((span) => [span.indices.join("."), hex(value.subarray(span.start, span.end))]);
  it("finds payloads at the path, the last duplicate winning", () => {
    // {"payload":1,"payload":[2]}
    assert.deepEqual(picks(Buffer.from("82a77061796c6f616401a77061796c6f61649102", "hex"), ["payload"]), [["", "9102"]]);
    const bulk = encode({ jobs: [{ payload: "a" }, 5, { type: "t" }, { payload: { z: null } }] });
    assert.deepEqual(picks(bulk, ["jobs", EACH, "payload"]), [["0", "a161"], ["3", "81a17ac0"]]);
  });
  it("maps and arrays with 16-bit and 32-bit headers", () => {
    const jobs = Array.from({ length: 70_000 }, (_, i) => (i % 10_000 === 0 ? { payload: i } : 0));
    const bytes = encode({ jobs });
    assert.equal(bytes[6], 0xdd); // array32 after the key "jobs"
    assert.deepEqual(msgpackMemberSpans(bytes, ["jobs", EACH, "payload"]).map((s) => s.indices[0]),
      [0, 10_000, 20_000, 30_000, 40_000, 50_000, 60_000]);
  });
});

describe("msgpackToJson", () => {
  const text = (h: string) => msgpackToJson(Buffer.from(h, "hex"), 0);
  it("integers are exact across the u64/i64 range, without a decimal point", () => {
    assert.equal(text("cfffffffffffffffff"), "18446744073709551615");
    assert.equal(text("d38000000000000000"), "-9223372036854775808");
    assert.equal(text("cf0020000000000001"), "9007199254740993");
    assert.equal(text("cf0000000100000000"), "4294967296");
    assert.equal(text("d3ffffffff7fffffff"), "-2147483649");
    assert.deepEqual(["7f", "e0", "ff", "ccff", "cdffff", "ceffffffff", "d080", "d18000", "d280000000"].map(text),
      ["127", "-32", "-1", "255", "65535", "4294967295", "-128", "-32768", "-2147483648"]);
  });
  it("floats always read back as floats", () => {
    assert.equal(text("cb4024000000000000"), "10.0");
    assert.equal(text("cb3ff8000000000000"), "1.5");
    assert.equal(text("cb8000000000000000"), "-0.0");
    assert.equal(text("cb7e37e43c8800759c"), "1e+300");
    assert.equal(text("ca41200000"), "10.0");
    assert.equal(text("ca3dcccccd"), "0.10000000149011612"); // float32 widened, as serde_json does
  });
  it("NaN and ±Infinity are refused: JSON cannot hold them", () => {
    for (const h of ["cb7ff8000000000000", "cb7ff0000000000000", "cbfff0000000000000", "ca7fc00000"]) {
      assert.throws(() => text(h), (err: unknown) => err instanceof MsgpackShapeError && /is not a JSON number/.test(String(err)));
    }
  });
  it("strings are escaped exactly as JSON.stringify escapes them", () => {
    const controls = String.fromCharCode(...Array.from({ length: 32 }, (_, i) => i), 0x7f);
    for (const s of ["", "plain", 'q"b\\s', controls, "é😀\u2028\u2029", "x".repeat(40), "é".repeat(200), "\\".repeat(70_000)]) {
      assert.equal(msgpackToJson(encode({ [s]: s }), 0), `{${JSON.stringify(s)}:${JSON.stringify(s)}}`);
    }
  });
  it("containers nest, empty ones included", () =>
    assert.equal(msgpackToJson(encode({ a: [], b: {}, c: [[1, [2, {}]], { d: null, e: true, f: false }] }), 0),
      '{"a":[],"b":{},"c":[[1,[2,{}]],{"d":null,"e":true,"f":false}]}'));
  it("stops at the end of the value (it reads a value inside a larger body)", () => {
    const bytes = Buffer.from("92cb402400000000000001", "hex"); // [10.0, 1]
    assert.equal(msgpackToJson(bytes, 1), "10.0");
  });
});

describe("writeJsonAsMsgpack", () => {
  it("integer tokens take the smallest encoding, exact to 64 bits", () => {
    const cases: [string, string][] = [["0", "00"], ["-0", "00"], ["127", "7f"], ["128", "cc80"], ["256", "cd0100"],
      ["65536", "ce00010000"], ["4294967296", "cf0000000100000000"], ["-32", "e0"], ["-33", "d0df"], ["-129", "d1ff7f"],
      ["-32769", "d2ffff7fff"], ["-2147483649", "d3ffffffff7fffffff"], ["18446744073709551615", "cfffffffffffffffff"],
      ["-9223372036854775808", "d38000000000000000"], ["9007199254740993", "cf0020000000000001"],
      ["1735689600000", "cf000001941f297c00"]];
    for (const [token, bytes] of cases) assert.equal(hex(toMsgpack(token)), bytes, token);
  });
  it("tokens with '.' or an exponent are float64, whatever their value", () => {
    for (const token of ["1.0", "10.0", "1e2", "1E+2", "-0.0", "1e10", "4294967296.0"]) {
      const bytes = toMsgpack(token);
      assert.equal(bytes[0], 0xcb, token);
      assert.equal(bytes.readDoubleBE(1), Number(token));
    }
  });
  it("integers beyond 64 bits become float64 (serde_json reads them so)", () =>
    assert.equal(hex(toMsgpack("123456789012345678901234567890")), "cb45f8ee90ff6c373e"));
  it("string and container headers grow at 32/256/65536 bytes and 16/65536 elements", () => {
    for (const s of ["x".repeat(31), "x".repeat(32), "é".repeat(15), "é".repeat(16), "€".repeat(85), "€".repeat(86),
      "x".repeat(65535), "€".repeat(21846), "😀".repeat(20)]) {
      assert.equal(hex(toMsgpack(JSON.stringify(s))), hex(encode(s)), `${s.length} × ${s[0]}`);
    }
    for (const n of [15, 16, 65535, 65536]) {
      const array = Array.from({ length: n }, (_, i) => i % 3);
      const object = Object.fromEntries(array.map((v, i) => [`k${i}`, v]));
      assert.equal(hex(toMsgpack(JSON.stringify(array))), hex(encode(array)), `array of ${n}`);
      assert.equal(hex(toMsgpack(JSON.stringify({ o: object, a: [array] }))), hex(encode({ o: object, a: [array] })), `map of ${n}`);
    }
  });
  it("escapes decode to the same string; lone surrogates become U+FFFD", () => {
    assert.equal(hex(toMsgpack('"a\\"b\\\\n\\u2028\\ud83d\\ude00\\/"')), hex(encode('a"b\\n\u2028😀/')));
    assert.equal(hex(toMsgpack('"\\ud800"')), "a3efbfbd");
    assert.equal(hex(toMsgpack('"\ud800"')), "a3efbfbd");
  });
  it("whitespace is skipped; an empty text is nil", () => {
    assert.equal(hex(toMsgpack(' { "a" : [ 1 , true ] } ')), "81a1619201c3");
    assert.equal(hex(toMsgpack("")), "c0");
  });
  it("appends to what the sink holds, growing it", () => {
    const sink = new ByteSink();
    for (let i = 0; i < 3; i++) writeJsonAsMsgpack(JSON.stringify("y".repeat(10_000)), sink);
    assert.equal(sink.length, 3 * 10_003);
  });
  it("property: same bytes as @msgpack/msgpack for values JSON.parse holds exactly (no floats)", () => {
    const rand = seededRandom(2);
    for (let round = 0; round < 500; round++) {
      const { compact } = randomJson(rand, { floats: false, duplicateKeys: false, hugeIntegers: false, unsafeIntegers: false });
      assert.equal(hex(toMsgpack(compact)), hex(encode(JSON.parse(compact))), compact);
    }
  });
  it("property: JSON → MessagePack → JSON gives the canonical text", () => {
    const rand = seededRandom(3);
    for (let round = 0; round < 500; round++) {
      const { sent } = randomJson(rand);
      const bytes = toMsgpack(sent);
      checkMsgpack(bytes);
      assert.equal(msgpackToJson(bytes, 0), canonicalJson(sent), sent);
      assert.equal(roundTrip(msgpackToJson(bytes, 0)), msgpackToJson(bytes, 0), "a second trip changes nothing");
    }
  });
});

describe("encodeMsgpack with RawJson payloads", () => {
  it("payload floats survive the uint64 fix-up, in place or spliced, with or without a frame prefix", () => {
    const value = () => ({
      a: new RawJson("1e10"), t: 1_735_689_600_000, b: [new RawJson("1.5"), new RawJson('{"x":4294967296.0,"y":[7]}')], c: new RawJson("2"),
    });
    const expected = "84a161cb4202a05f20000000a174cf000001941f297c00a16292cb3ff8000000000000"
      + "82a178cb41f0000000000000a1799107a16302";
    assert.equal(hex(encodeMsgpack(value())), expected);
    assert.equal(hex(encodeMsgpack(value(), true).subarray(4)), expected);
    assert.equal(hex(encodeMsgpack({ n: 1_735_689_600_000 })), "81a16ecf000001941f297c00", "the sink is reset between calls");
  });
});
