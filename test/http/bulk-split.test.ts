// Bulk enqueue bodies of ≥ 96 KiB are parsed job by job (lib/http/_json-split.ts, codec.ts
// decodeBulkByJob). The result must be what parsing the whole text gives, payload texts
// included, and a bad body must get the same 400 message: checked here against the
// whole-text decode on random bodies and on random one-byte damage.

import assert from "node:assert/strict";
import { isUtf8 } from "node:buffer";
import { it } from "node:test";
import {
  PAYLOAD_EXACT, PAYLOAD_LOOSE, PAYLOAD_NONE, PAYLOAD_UNSURE, RANGE_STRIDE, bulkJobRanges,
} from "../../lib/http/_json-split.ts";
import { PAYLOAD_PATHS, decodeBody, decodeJsonText } from "../../lib/http/codec.ts";
import { PayloadText } from "../../lib/queue/types.ts";
import { randomJson, seededRandom } from "./_random-json.ts";

const SPACES = ["", "", " ", "\n  ", "\t", "\r\n"];

/** A bulk body of at least `minBytes`, with random payloads, spacing, fields and odd elements. */
function randomBulkBody(rand: () => number, minBytes: number): string {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)];
  const s = () => pick(SPACES);
  const jobs: string[] = [];
  let size = 0;
  while (size < minBytes) {
    const r = rand();
    let job: string;
    if (r < 0.03) job = pick(["5", "null", '"x"', "[]", "[1,{\"payload\":2}]", "{}"]); // not jobs: the queue says so, not the decoder
    else {
      const payload = randomJson(rand).sent;
      const fields = [`"type"${s()}:${s()}"t${jobs.length}"`, pick(['"queue":"q\\"é"', '"queue":"q"']), `"payload"${s()}:${s()}${payload}`];
      if (rand() < 0.1) fields.push(`"payload":${randomJson(rand).sent}`); // a duplicate key: the last one wins
      if (rand() < 0.2) fields.push(`"priority":${Math.floor(rand() * 65536)}`);
      if (rand() < 0.1) fields.push(`"note":"a ] , } [ { \\\\"`);
      job = `{${s()}${fields.join(`${s()},${s()}`)}${s()}}`;
    }
    jobs.push(s() + job + s());
    size += job.length;
  }
  return `${s()}{${s()}"jobs"${s()}:${s()}[${jobs.join(",")}]${s()}}${s()}`;
}

/**
 * `value` with each PayloadText as its text, after checking that its bytes, where the
 * split path took them straight from the body, are that text's UTF-8 exactly.
 */
function payloadsAsText(value: unknown): unknown {
  if (value instanceof PayloadText) {
    if (value.bytes) assert.equal(value.bytes.toString("utf8"), value.json, "payload bytes and text agree");
    return { payloadText: value.json };
  }
  if (Array.isArray(value)) return value.map(payloadsAsText);
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, payloadsAsText(v)]));
  return value;
}

function outcome(run: () => unknown): { value?: unknown; error?: string } {
  try {
    return { value: payloadsAsText(run()) };
  } catch (err) {
    return { error: `${(err as Error).constructor.name}: ${(err as Error).message}` };
  }
}

it("a large bulk body decodes job by job exactly as the whole text does (payload texts included)", () => {
  const rand = seededRandom(20261206);
  for (let round = 0; round < 12; round++) {
    const text = randomBulkBody(rand, 100 * 1024);
    const bytes = Buffer.from(text);
    assert.ok(bulkJobRanges(bytes), "the split path is taken");
    const split = payloadsAsText(decodeBody(bytes, "json", PAYLOAD_PATHS.bulkEnqueue));
    assert.deepEqual(split, payloadsAsText(decodeJsonText(text, PAYLOAD_PATHS.bulkEnqueue)));
  }
});

it("one damaged byte anywhere: the same value or the same error message as the whole text", () => {
  const rand = seededRandom(7);
  const text = randomBulkBody(rand, 100 * 1024);
  const original = Buffer.from(text);
  const damage = [..."{}[],:\"\\ 0an-"].map((c) => c.charCodeAt(0));
  let errors = 0;
  for (let i = 0; i < 400; i++) {
    const bytes = Buffer.from(original);
    bytes[Math.floor(rand() * bytes.length)] = damage[Math.floor(rand() * damage.length)];
    if (!isUtf8(bytes)) continue; // refused before either path: "invalid UTF-8"
    const split = outcome(() => decodeBody(bytes, "json", PAYLOAD_PATHS.bulkEnqueue));
    const whole = outcome(() => decodeJsonText(bytes.toString("utf8"), PAYLOAD_PATHS.bulkEnqueue));
    assert.deepEqual(split, whole);
    if (whole.error) errors++;
  }
  assert.ok(errors > 50, `enough of the damage broke the body (${errors})`);
});

it("only a plain {\"jobs\":[…]} is split; any other shape goes to the whole-text path", () => {
  const ranges = (text: string) => {
    const all = bulkJobRanges(Buffer.from(text));
    return all && Array.from(all).flatMap((n, i) => (i % RANGE_STRIDE < 2 ? [n] : []));
  };
  assert.deepEqual(ranges(' { "jobs" : [ {"a":1} , 2 ,"]"] } '), [13, 22, 23, 26, 27, 30]);
  assert.deepEqual(ranges('{"jobs":[]}'), []);
  assert.deepEqual(ranges('{"jobs":[ ]}'), []);
  for (const other of ['{"jobs":[1],"x":2}', '{"x":2,"jobs":[1]}', '{"jobs":[1],"jobs":[2]}', '{"jobs":[1}', '{"jobs":[1]]}',
    '{"jobs":[1]', '{"jobs":[1]} x', '["jobs"]', '{"job\\u0073":[1]}', '{"jobs":{"a":1}}', '{"jobs":["unterminated]}', "", "{"]) {
    assert.equal(ranges(other), undefined, other);
  }
  // Large enough for the split path, cut short in every way: a 400, never a crash.
  const pad = " ".repeat(100 * 1024);
  for (const cut of ["{", '{"jo', '{"jobs"', '{"jobs":', '{"jobs":[', '{"jobs":[{"a":"', '{"jobs":[1,', '{"jobs":[]', '{"jobs":[1]}]']) {
    for (const body of [cut + pad, pad + cut]) {
      assert.throws(() => decodeBody(Buffer.from(body), "json", PAYLOAD_PATHS.bulkEnqueue), /^BodyDecodeError|invalid JSON/, JSON.stringify(cut));
    }
  }
});

it("the split finds each job's last top-level payload, and says when its bytes are not its text", () => {
  const payloadOf = (job: string): [number, string?] => {
    const body = Buffer.from(`{"jobs":[${job}]}`);
    const r = bulkJobRanges(body)!;
    const kind = r[4];
    return kind === PAYLOAD_NONE || kind === PAYLOAD_UNSURE ? [kind] : [kind, body.toString("utf8", r[2], r[3])];
  };
  assert.deepEqual(payloadOf('{"type":"t","payload":{"a":[1,"x, }"]},"queue":"q"}'), [PAYLOAD_EXACT, '{"a":[1,"x, }"]}']);
  assert.deepEqual(payloadOf('{ "payload" :  "é\\"]"  }'), [PAYLOAD_EXACT, '"é\\"]"']);
  assert.deepEqual(payloadOf('{"payload":1,"payload":2.50}'), [PAYLOAD_EXACT, "2.50"]);
  assert.deepEqual(payloadOf('{"payload":{"a": 1},"payload":{"b":2}}'), [PAYLOAD_EXACT, '{"b":2}']);
  assert.deepEqual(payloadOf('{"payload":{"b":2},"payload":{"a": 1}}'), [PAYLOAD_LOOSE, '{"a": 1}']);
  assert.deepEqual(payloadOf('{"payload":[1,\n2]}'), [PAYLOAD_LOOSE, "[1,\n2]"]);
  assert.deepEqual(payloadOf('{"x":{"payload":1}}'), [PAYLOAD_NONE]);
  assert.deepEqual(payloadOf('[1,"payload",{"payload":2}]'), [PAYLOAD_NONE]);
  assert.deepEqual(payloadOf('{"pay\\u006coad":1}'), [PAYLOAD_UNSURE]);
  assert.deepEqual(payloadOf('{"payload":1,"a\\"b":2}'), [PAYLOAD_UNSURE]);
});

it("the split's ranges cost 4 bytes a number, not a JS array's 8 (which aborts the process past ~112.8M numbers)", () => {
  // A JS array of 5 numbers a job was ~40 bytes a job, ~300 MiB for a 16 MiB body of `{}`s,
  // and past V8's array limit (~22.5M jobs: a 46 MiB body of `1,`s under a raised
  // --max-body-size) a fatal "invalid size error" ended the server (not an exception).
  const n = 100_000;
  const body = Buffer.from(`{"jobs":[${Array(n).fill("{}").join(",")}]}`);
  const r = bulkJobRanges(body)!;
  assert.equal(r.length, n * RANGE_STRIDE);
  assert.ok(ArrayBuffer.isView(r) && (r as Uint32Array).BYTES_PER_ELEMENT === 4, "a Uint32Array");
  assert.ok((r as Uint32Array).buffer.byteLength <= 2 * n * RANGE_STRIDE * 4, "grown by doubling at most");
  assert.deepEqual([r[0], r[1], r[4]], [9, 11, PAYLOAD_NONE]);
});
