// Request/response body codec for the two wire formats (API.md §1.2, §1.4).
// Promises: JSON out is compact; MessagePack out uses string-keyed maps, smallest integer
// encodings and int64/uint64 (never float64) for integers beyond 32 bits; a RawJson value
// (stored payload text) is spliced verbatim into JSON and transcoded into MessagePack with
// its number kinds kept; payloads come in as exact text too. Input outside the JSON model → 400.

import { isUtf8 } from "node:buffer";
import { addExtension, type Options, Packr, Unpackr } from "msgpackr";
import { PayloadText } from "../queue/types.ts";
import { ByteSink, writeJsonAsMsgpack } from "./_json-msgpack.ts";
import { EACH, type MemberPath, type Span, jsonMemberSpans, jsonSpanText } from "./_json-scan.ts";
import { JsonTooDeep, PAYLOAD_EXACT, PAYLOAD_NONE, RANGE_STRIDE, bulkJobRanges, checkJsonDepth } from "./_json-split.ts";
import { floatToJson, msgpackToJson } from "./_msgpack-json.ts";
import { checkMsgpack, fixLargeIntegers, msgpackMemberSpans, MsgpackShapeError } from "./_msgpack-walk.ts";
import type { BodyFormat } from "./negotiate.ts";

/** Already-encoded compact JSON text (a job payload as stored), placed anywhere in a value. */
export class RawJson {
  constructor(readonly text: string) {}
}

/**
 * A value that writes its own JSON text, which writeJson splices in, and gives MessagePack
 * its object form through toJSON (msgpackr calls it). Why: a job on the wire
 * (job-wire.ts) is written ~1,000 times per bulk response or take burst, and building an
 * object per job only for the generic walk to take it apart again was ~9% of a bulk
 * enqueue's server time.
 */
export abstract class SelfWriting {
  abstract jsonText(): string;
  abstract toJSON(): unknown;
  /**
   * Appends what packr writes for toJSON() to `sink` and returns true, or writes nothing
   * and returns false (then toJSON is packed). Used for a value packed on its own (a take
   * frame, a single-job response), not inside another.
   */
  msgpackInto(_sink: ByteSink): boolean {
    return false;
  }
}

/** A number the contract types as f32 (`backoff.exponent`, API.md §1.7): JSON "2.0", MessagePack float32. */
export class Float32 {
  constructor(readonly value: number) {}
}

/** Where payloads sit in the request bodies that carry them (API.md §3.4, §3.5, §3.19). */
export const PAYLOAD_PATHS = {
  enqueue: ["payload"],
  bulkEnqueue: ["jobs", EACH, "payload"],
  cronEntry: ["job", "payload"],
  cronGroup: ["entries", EACH, "job", "payload"],
} as const satisfies Record<string, MemberPath>;

/** A malformed request body. `message` is the full client-facing text. */
export class BodyDecodeError extends Error {
  readonly status = 400;
}

// msgpackr, chosen over @msgpack/msgpack by bench/msgpack.ts (see docs/protocols.md).
// useRecords:false → plain maps, never msgpackr's record extension; variableMapSize →
// fixmap for small objects; undefined properties are skipped like JSON.stringify does.
const packr = new Packr({
  useRecords: false,
  variableMapSize: true,
  skipValues: [undefined],
  encodeUndefinedAsNil: true,
} as Options); // skipValues exists in msgpackr ≥1.11 but not in its typings
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number" });
// Why global: msgpackr keeps extensions per process, not per Packr; only we use msgpackr.
// Neither writes an ext value: `pack` writes raw bytes through msgpackr's allocator and
// returns nothing (msgpackr insists on a `type` all the same; these two are never emitted).
//
// A RawJson is transcoded into `rawSink`, then copied in place. fixLargeIntegers runs over
// msgpackr's output afterwards and would turn a payload float like 1e10 into an integer, so
// such a payload (rare) becomes the reserved byte 0xc1 instead, and its bytes wait in the
// sink until encodeMsgpack splices them in after the fix. Why not always splice: the extra
// allocation and copies cost a small take frame ~15%.
const rawSink = new ByteSink();
const rawLengths: number[] = [];
addExtension({
  Class: RawJson,
  type: 0x7e,
  pack(raw: RawJson, allocate: (n: number) => { target: Buffer; position: number }) {
    const before = rawSink.length;
    const shield = writeJsonAsMsgpack(raw.text, rawSink);
    const length = rawSink.length - before;
    if (shield) {
      rawLengths.push(length);
      const { target, position } = allocate(1);
      target[position] = 0xc1;
      return;
    }
    const { target, position } = allocate(length);
    rawSink.buffer.copy(target, position, before, before + length);
    rawSink.length = before;
  },
} as never);
addExtension({
  Class: Float32,
  type: 0x7d,
  pack(f: Float32, allocate: (n: number) => { target: Uint8Array; targetView: DataView; position: number }) {
    const { target, targetView, position } = allocate(5);
    target[position] = 0xca;
    targetView.setFloat32(position + 1, f.value);
  },
} as never);

/** Size of the length prefix reserved by encodeMsgpack({reserve}) for stream frames. */
export const FRAME_PREFIX_BYTES = 4;

/**
 * Decodes a request body. Throws BodyDecodeError (status 400, `invalid JSON: …` /
 * `invalid MessagePack: …`) for empty input, syntax errors, invalid UTF-8, and for
 * MessagePack bin/ext values, non-string map keys, or NaN/Infinity in a payload.
 * With `payloads` (a PAYLOAD_PATHS entry), each value at that path is replaced by a
 * PayloadText holding its exact JSON text: compacted from the request text for JSON,
 * transcoded from its bytes for MessagePack (docs/format.md, payload convention).
 */
export function decodeBody(bytes: Uint8Array, format: BodyFormat, payloads?: MemberPath): unknown {
  if (format === "json") {
    if (bytes.length === 0) throw new BodyDecodeError("invalid JSON: empty body");
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    // Why not TextDecoder: it would replace bad sequences with U+FFFD instead of failing.
    if (!isUtf8(buffer)) throw new BodyDecodeError("invalid JSON: invalid UTF-8");
    try {
      if (payloads === PAYLOAD_PATHS.bulkEnqueue && buffer.length >= SPLIT_FROM_BYTES) {
        const value = decodeBulkByJob(buffer); // its scan checks the depth
        if (value !== undefined) return value;
      }
      checkJsonDepth(buffer);
    } catch (err) {
      if (err instanceof JsonTooDeep) throw new BodyDecodeError(`invalid JSON: ${err.message}`);
      throw err;
    }
    return decodeJsonText(buffer.toString("utf8"), payloads);
  }
  if (bytes.length === 0) throw new BodyDecodeError("invalid MessagePack: empty body");
  try {
    checkMsgpack(bytes);
    const value: unknown = unpackr.unpack(bytes);
    if (payloads) putPayloadTexts(value, payloads, msgpackMemberSpans(bytes, payloads), (span) => msgpackToJson(bytes, span.start));
    return value;
  } catch (err) {
    const detail = err instanceof MsgpackShapeError ? err.message : `malformed input (${(err as Error).message})`;
    throw new BodyDecodeError(`invalid MessagePack: ${detail}`);
  }
}

/** The JSON decode of a whole text (exported for the tests of decodeBulkByJob). */
export function decodeJsonText(text: string, payloads?: MemberPath): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new BodyDecodeError(`invalid JSON: ${(err as Error).message}`);
  }
  // JSON.parse validated the text and builds everything else; only the payload's text is
  // taken from the scan, since a parsed payload has already lost 1.0 and long integers.
  if (payloads) putPayloadTexts(value, payloads, jsonMemberSpans(text, payloads), (span) => jsonSpanText(text, span));
  return value;
}

/** Bulk bodies at least this long are parsed job by job (V8 maps a page for a string over 128 KiB). */
const SPLIT_FROM_BYTES = 96 * 1024;
const JOB_PAYLOAD: MemberPath = ["payload"];

/**
 * decodeJsonText(body, PAYLOAD_PATHS.bulkEnqueue), parsing each job from its own short
 * string (_json-split.ts says why). Undefined when the body is not plainly `{"jobs":[…]}`
 * or a job does not parse: the caller then decodes the whole text, so a bad body gets the
 * same error message either way.
 */
function decodeBulkByJob(body: Buffer): { jobs: unknown[] } | undefined {
  const ranges = bulkJobRanges(body);
  if (!ranges) return undefined;
  const jobs: unknown[] = [];
  for (let i = 0; i < ranges.length; i += RANGE_STRIDE) {
    const start = ranges[i];
    const end = ranges[i + 1];
    const text = utf8Slice(body, start, end);
    let job: unknown;
    try {
      job = JSON.parse(text);
    } catch {
      return undefined;
    }
    const kind = ranges[i + 4];
    if (kind === PAYLOAD_EXACT) {
      const from = ranges[i + 2];
      const to = ranges[i + 3];
      // An ASCII job (its text as long as its bytes) slices its payload out of the text.
      const json = text.length === end - start ? text.slice(from - start, to - start) : utf8Slice(body, from, to);
      (job as Record<string, unknown>).payload = new PayloadText(json, body.subarray(from, to));
    } else if (kind !== PAYLOAD_NONE) {
      putPayloadTexts(job, JOB_PAYLOAD, jsonMemberSpans(text, JOB_PAYLOAD), (span) => jsonSpanText(text, span));
    }
    jobs.push(job);
  }
  return { jobs };
}

// Buffer's utf8Slice skips toString()'s argument juggling (a stable Node internal missing
// from @types/node); the ranges are always inside the buffer.
const utf8Slice = (b: Buffer, start: number, end: number): string =>
  (b as unknown as { utf8Slice(start: number, end: number): string }).utf8Slice(start, end);

/**
 * Replaces the value at each span's place in the decoded `root` with a PayloadText.
 * Requires: `spans` from the same bytes as `root`, so every step of the path exists.
 */
function putPayloadTexts(root: unknown, path: MemberPath, spans: Span[], textOf: (span: Span) => string): void {
  for (const span of spans) {
    let node = root as Record<string | number, unknown>;
    let each = 0;
    for (let depth = 0; depth < path.length - 1; depth++) {
      const segment = path[depth];
      node = node[segment === EACH ? span.indices[each++] : segment] as Record<string | number, unknown>;
    }
    node[path[path.length - 1] as string] = new PayloadText(textOf(span));
  }
}

/** Encodes a response body: compact JSON (text, or bytes when it holds a long array), or MessagePack bytes. */
export function encodeBody(value: unknown, format: BodyFormat): Uint8Array | string {
  if (format !== "json") return encodeMsgpack(value);
  return holdsLongArray(value) ? encodeJsonBytes(value) : encodeJson(value);
}

/**
 * MessagePack bytes of `value`. With `reservePrefix`, the first FRAME_PREFIX_BYTES bytes
 * are left for the caller (a stream frame's length) and excluded from the encoding.
 * The result is a view into msgpackr's buffer (or, when a payload had to be spliced in, a
 * buffer of its own): valid indefinitely (msgpackr never rewrites bytes it returned), but
 * do not retain huge numbers of them.
 */
export function encodeMsgpack(value: unknown, reservePrefix = false): Uint8Array {
  if (value instanceof SelfWriting) {
    selfSink.length = reservePrefix ? FRAME_PREFIX_BYTES : 0;
    if (value.msgpackInto(selfSink)) {
      const out = Buffer.allocUnsafe(selfSink.length);
      selfSink.buffer.copy(out, 0, 0, selfSink.length);
      // A huge payload grew it (3 bytes a character): not kept for the process's life.
      if (selfSink.buffer.length > SCRATCH_KEEP) selfSink = new ByteSink();
      return out;
    }
  }
  rawSink.length = 0;
  rawLengths.length = 0;
  // RESERVE_START_SPACE (2048) | n: msgpackr leaves n bytes before the value.
  const bytes: Buffer = reservePrefix ? packr.pack(value, 2048 | FRAME_PREFIX_BYTES) : packr.pack(value);
  if (rawLengths.length === 0) {
    fixLargeIntegers(bytes, reservePrefix ? FRAME_PREFIX_BYTES : 0);
    return bytes;
  }
  const holes: number[] = [];
  fixLargeIntegers(bytes, reservePrefix ? FRAME_PREFIX_BYTES : 0, holes);
  // Invariant: one 0xc1 per shielded RawJson, in packing order (0xc1 is never valid MessagePack).
  const out = Buffer.allocUnsafe(bytes.length - holes.length + rawSink.length);
  let at = 0;
  let from = 0;
  let raw = 0;
  for (let i = 0; i < holes.length; i++) {
    at += bytes.copy(out, at, from, holes[i]);
    at += rawSink.buffer.copy(out, at, raw, raw + rawLengths[i]);
    raw += rawLengths[i];
    from = holes[i] + 1;
  }
  bytes.copy(out, at, from);
  return out;
}

/** Where a SelfWriting value writes its MessagePack (copied out: the sink is reused). */
let selfSink = new ByteSink();

const keyPrefixes = new Map<string, string>();
const KEY_CACHE_LIMIT = 4096;

// Text of frozen arrays whose elements are frozen too: the shared budget bindings
// (lib/queue/budget-policy.ts, one array per distinct set, on every job drawing on it)
// then encode once, not once per take frame (~0.4 µs a job on the budgeted W3). Weak, so
// a dropped set takes its text with it. Unfrozen arrays (most) pay one isFrozen check.
// Only arrays frozen all the way down are cached (deeplyFrozen), so no later change to a
// nested value can leave stale text behind.
const frozenArrayText = new WeakMap<readonly unknown[], string>();

/** Whether nothing inside `value` can change (checked once per array, on a cache miss). */
function deeplyFrozen(value: unknown): boolean {
  if (value === null || typeof value !== "object") return true;
  if (!Object.isFrozen(value)) return false;
  for (const v of Object.values(value)) if (!deeplyFrozen(v)) return false;
  return true;
}

/** Arrays longer than this are written element by element (encodeJsonBytes). */
const LONG_ARRAY = 64;
/** UTF-16 units of text gathered before they are written out as UTF-8. */
const TEXT_FLUSH = 16 * 1024;
/** Largest scratch buffer kept between responses. */
const SCRATCH_KEEP = 4 * 1024 * 1024;

/**
 * encodeJson's text as UTF-8 bytes, for values that hold long arrays: a bulk enqueue's
 * 1,000 jobs, a list page. Why not Buffer.from(encodeJson(value)): that text is one
 * string of ~200 KB. V8 gives a string over 128 KiB a page of its own, mapped for it and
 * unmapped after the next GC, and writing it out flattens it into another such page.
 * On a VM where a page fault costs ~11 µs, those faults were ~40% of a bulk enqueue's
 * (docs/benchmarks.md, "Page faults"). Here each element's text stays small, and the bytes
 * go into one ByteSink that is kept, then are copied out once.
 */
export function encodeJsonBytes(value: unknown): Buffer {
  jsonSink.length = 0;
  pendingText = "";
  writeJsonInto(value);
  flushText();
  const bytes = Buffer.from(jsonSink.buffer.subarray(0, jsonSink.length));
  // A huge page (up to the body cap) must not stay held for the life of the process.
  if (jsonSink.buffer.length > SCRATCH_KEEP) jsonSink = new ByteSink();
  return bytes;
}

/** Whether `value` is, or directly holds, an array encodeJsonBytes writes in pieces. */
function holdsLongArray(value: unknown): boolean {
  if (isLongArray(value)) return true;
  if (!isPlainObject(value)) return false;
  for (const key in value) if (isLongArray(value[key])) return true;
  return false;
}

const isLongArray = (value: unknown): value is unknown[] =>
  Array.isArray(value) && value.length > LONG_ARRAY && !Object.isFrozen(value);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof RawJson)
    && !(value instanceof Float32) && typeof (value as { toJSON?: unknown }).toJSON !== "function";
}

// encodeJsonBytes' output, kept between responses, and the text not yet written into it.
let jsonSink = new ByteSink();
let pendingText = "";

function addText(text: string): void {
  pendingText += text;
  if (pendingText.length >= TEXT_FLUSH) flushText();
}

function flushText(): void {
  jsonSink.reserve(pendingText.length * 3); // a UTF-16 unit is at most 3 UTF-8 bytes
  jsonSink.length += jsonSink.buffer.write(pendingText, jsonSink.length, "utf8");
  pendingText = "";
}

/** writeJson into `jsonSink`, with long arrays (at the top or one level down) element by element. */
function writeJsonInto(value: unknown): void {
  if (isLongArray(value)) {
    addText("[");
    for (let i = 0; i < value.length; i++) {
      if (i > 0) addText(",");
      addText(writeJson(value[i]) ?? "null");
    }
    addText("]");
  } else if (isPlainObject(value)) {
    addText("{");
    let first = true;
    for (const key in value) {
      const member = value[key];
      if (isLongArray(member)) {
        addText(first ? keyPrefix(key) : "," + keyPrefix(key));
        writeJsonInto(member);
      } else {
        const text = writeJson(member);
        if (text === undefined) continue;
        addText(first ? keyPrefix(key) + text : "," + keyPrefix(key) + text);
      }
      first = false;
    }
    addText("}");
  } else {
    addText(writeJson(value) ?? "null");
  }
}

/** `"key":`, cached: job objects repeat the same dozen keys thousands of times. */
function keyPrefix(key: string): string {
  let prefix = keyPrefixes.get(key);
  if (prefix === undefined) {
    prefix = JSON.stringify(key) + ":";
    if (keyPrefixes.size < KEY_CACHE_LIMIT) keyPrefixes.set(key, prefix);
  }
  return prefix;
}

/**
 * Compact JSON text of `value`, as JSON.stringify would produce, except that a RawJson
 * anywhere is spliced verbatim (never parsed). Measured faster than JSON.stringify on a
 * 2000-job page because payloads are not re-serialised (bench/msgpack.ts prints it).
 * Requires: plain objects/arrays (for-in keys = own enumerable keys), no cycles.
 */
export function encodeJson(value: unknown): string {
  return writeJson(value) ?? "null";
}

function writeJson(value: unknown): string | undefined {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "number":
      return Number.isFinite(value) ? "" + value : "null";
    case "boolean":
      return value ? "true" : "false";
    case "bigint":
      throw new TypeError("Do not know how to serialize a BigInt");
    case "object": {
      if (value === null) return "null";
      if (value instanceof RawJson) return value.text;
      if (value instanceof Float32) return floatToJson(value.value);
      if (value instanceof SelfWriting) return value.jsonText();
      if (Array.isArray(value)) {
        const frozen = Object.isFrozen(value);
        if (frozen) {
          const text = frozenArrayText.get(value);
          if (text !== undefined) return text;
        }
        let out = "[";
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ",";
          out += writeJson(value[i]) ?? "null";
        }
        out += "]";
        if (frozen && deeplyFrozen(value)) frozenArrayText.set(value, out);
        return out;
      }
      const withToJson = value as { toJSON?: () => unknown };
      if (typeof withToJson.toJSON === "function") return writeJson(withToJson.toJSON());
      let out = "{";
      let first = true;
      for (const key in value) {
        const text = writeJson((value as Record<string, unknown>)[key]);
        if (text === undefined) continue;
        const prefix = keyPrefix(key);
        out += first ? prefix + text : "," + prefix + text;
        first = false;
      }
      return out + "}";
    }
    default:
      return undefined; // undefined, functions, symbols: omitted like JSON.stringify does
  }
}
