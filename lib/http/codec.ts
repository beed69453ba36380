// Request/response body codec for the two wire formats (API.md §1.2, §1.4).
// Promises: JSON out is compact; MessagePack out uses string-keyed maps, smallest integer
// encodings and int64/uint64 (never float64) for integers beyond 32 bits; a RawJson value
// (stored payload text) is spliced verbatim into JSON. Input outside the JSON model → 400.

import { isUtf8 } from "node:buffer";
import { addExtension, type Options, Packr, Unpackr } from "msgpackr";
import { checkMsgpack, fixLargeIntegers, MsgpackShapeError } from "./_msgpack-walk.ts";
import type { BodyFormat } from "./negotiate.ts";

/** Already-encoded compact JSON text (a job payload as stored), placed anywhere in a value. */
export class RawJson {
  constructor(readonly text: string) {}
}

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
// RawJson → its parsed value, written inline (no ext wrapper because no `type` is given).
// Why global: msgpackr keeps extensions per process, not per Packr; only we use msgpackr.
addExtension({ Class: RawJson, write: (raw: RawJson) => JSON.parse(raw.text) } as never);

/** Size of the length prefix reserved by encodeMsgpack({reserve}) for stream frames. */
export const FRAME_PREFIX_BYTES = 4;

/**
 * Decodes a request body. Throws BodyDecodeError (status 400, `invalid JSON: …` /
 * `invalid MessagePack: …`) for empty input, syntax errors, invalid UTF-8, and for
 * MessagePack bin/ext values or non-string map keys.
 */
export function decodeBody(bytes: Uint8Array, format: BodyFormat): unknown {
  if (format === "json") {
    if (bytes.length === 0) throw new BodyDecodeError("invalid JSON: empty body");
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    // Why not TextDecoder: it would replace bad sequences with U+FFFD instead of failing.
    if (!isUtf8(buffer)) throw new BodyDecodeError("invalid JSON: invalid UTF-8");
    try {
      return JSON.parse(buffer.toString("utf8"));
    } catch (err) {
      throw new BodyDecodeError(`invalid JSON: ${(err as Error).message}`);
    }
  }
  if (bytes.length === 0) throw new BodyDecodeError("invalid MessagePack: empty body");
  try {
    checkMsgpack(bytes);
    return unpackr.unpack(bytes);
  } catch (err) {
    const detail = err instanceof MsgpackShapeError ? err.message : `malformed input (${(err as Error).message})`;
    throw new BodyDecodeError(`invalid MessagePack: ${detail}`);
  }
}

/** Encodes a response body: compact JSON text, or MessagePack bytes. */
export function encodeBody(value: unknown, format: BodyFormat): Uint8Array | string {
  return format === "json" ? encodeJson(value) : encodeMsgpack(value);
}

/**
 * MessagePack bytes of `value`. With `reservePrefix`, the first FRAME_PREFIX_BYTES bytes
 * are left for the caller (a stream frame's length) and excluded from the encoding.
 * The result is a view into msgpackr's buffer: valid indefinitely (it never rewrites
 * bytes it returned), but do not retain huge numbers of them.
 */
export function encodeMsgpack(value: unknown, reservePrefix = false): Uint8Array {
  // RESERVE_START_SPACE (2048) | n: msgpackr leaves n bytes before the value.
  const bytes: Uint8Array = reservePrefix ? packr.pack(value, 2048 | FRAME_PREFIX_BYTES) : packr.pack(value);
  fixLargeIntegers(bytes, reservePrefix ? FRAME_PREFIX_BYTES : 0);
  return bytes;
}

// `"key":` prefixes, cached: job objects repeat the same dozen keys thousands of times.
const keyPrefixes = new Map<string, string>();
const KEY_CACHE_LIMIT = 4096;

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
      if (Array.isArray(value)) {
        let out = "[";
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ",";
          out += writeJson(value[i]) ?? "null";
        }
        return out + "]";
      }
      const withToJson = value as { toJSON?: () => unknown };
      if (typeof withToJson.toJSON === "function") return writeJson(withToJson.toJSON());
      let out = "{";
      let first = true;
      for (const key in value) {
        const text = writeJson((value as Record<string, unknown>)[key]);
        if (text === undefined) continue;
        let prefix = keyPrefixes.get(key);
        if (prefix === undefined) {
          prefix = JSON.stringify(key) + ":";
          if (keyPrefixes.size < KEY_CACHE_LIMIT) keyPrefixes.set(key, prefix);
        }
        out += first ? prefix + text : "," + prefix + text;
        first = false;
      }
      return out + "}";
    }
    default:
      return undefined; // undefined, functions, symbols: omitted like JSON.stringify does
  }
}
