// Byte-level walks over one MessagePack value, without building it (internal to codec.ts).
// `checkMsgpack` enforces our input rules before a library decodes anything (API.md §1.4);
// `fixLargeIntegers` rewrites msgpackr's float64 integers as int64/uint64 in place;
// `msgpackMemberSpans` + `msgpackToJson` turn request payloads into stored JSON text.
// All walk iteratively (collect only recurses along a short path), so deep nesting is safe.

import { isUtf8 } from "node:buffer";
import { EACH, type MemberPath, type Span } from "./_json-scan.ts";

/** Thrown by checkMsgpack; `message` is the detail after "invalid MessagePack: ". */
export class MsgpackShapeError extends Error {}

const PROTO_KEY = [0x5f, 0x5f, 0x70, 0x72, 0x6f, 0x74, 0x6f, 0x5f, 0x5f]; // "__proto__"

/**
 * Throws MsgpackShapeError unless `bytes` is exactly one MessagePack value of the JSON
 * model: no bin/ext, map keys are strings, every string is valid UTF-8, nothing truncated,
 * no trailing bytes. Also refuses the key "__proto__": msgpackr would silently rename it.
 * Container counts are checked against the bytes left, so a hostile length cannot make a
 * decoder preallocate a huge array.
 */
export function checkMsgpack(bytes: Uint8Array): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.length;
  const leftStack: number[] = [];
  const mapStack: boolean[] = [];
  let left = 1; // items still to read in the current container (a map counts keys and values)
  let inMap = false;
  let pos = 0;
  const need = (n: number): void => {
    if (pos + n > end) throw new MsgpackShapeError(`unexpected end of input at byte ${end}`);
  };
  const open = (count: number, isMap: boolean): void => {
    const items = isMap ? count * 2 : count;
    if (items > end - pos) throw new MsgpackShapeError(`unexpected end of input: container of ${count} at byte ${pos}`);
    if (items === 0) return;
    leftStack.push(left);
    mapStack.push(inMap);
    left = items;
    inMap = isMap;
  };
  const string = (length: number, isKey: boolean): void => {
    need(length);
    let ascii = true;
    for (let i = pos; i < pos + length; i++) {
      if (bytes[i] > 0x7f) {
        ascii = false;
        break;
      }
    }
    if (!ascii && !isUtf8(bytes.subarray(pos, pos + length))) {
      throw new MsgpackShapeError(`invalid UTF-8 in string at byte ${pos}`);
    }
    if (isKey && length === 9 && PROTO_KEY.every((c, i) => bytes[pos + i] === c)) {
      throw new MsgpackShapeError(`map key "__proto__" is not supported at byte ${pos}`);
    }
    pos += length;
  };

  while (true) {
    if (left === 0) {
      if (leftStack.length === 0) break;
      left = leftStack.pop()!;
      inMap = mapStack.pop()!;
      continue;
    }
    const isKey = inMap && (left & 1) === 0;
    left--;
    need(1);
    const at = pos;
    const b = bytes[pos++];
    if (isKey && !(b >= 0xa0 && b <= 0xbf) && b !== 0xd9 && b !== 0xda && b !== 0xdb) {
      throw new MsgpackShapeError(`map keys must be strings (type 0x${b.toString(16)} at byte ${at})`);
    }
    if (b <= 0x7f || b >= 0xe0) continue; // fixint
    if (b <= 0x8f) open(b & 0x0f, true);
    else if (b <= 0x9f) open(b & 0x0f, false);
    else if (b <= 0xbf) string(b & 0x1f, isKey);
    else if (b === 0xc0 || b === 0xc2 || b === 0xc3) continue;
    else if (b >= 0xc4 && b <= 0xc6) throw new MsgpackShapeError(`bin values are not supported (byte ${at})`);
    else if ((b >= 0xc7 && b <= 0xc9) || (b >= 0xd4 && b <= 0xd8)) {
      throw new MsgpackShapeError(`ext values are not supported (byte ${at})`);
    } else if (b === 0xca || b === 0xce || b === 0xd2) (need(4), (pos += 4));
    else if (b === 0xcb || b === 0xcf || b === 0xd3) (need(8), (pos += 8));
    else if (b === 0xcc || b === 0xd0) (need(1), (pos += 1));
    else if (b === 0xcd || b === 0xd1) (need(2), (pos += 2));
    else if (b === 0xd9) (need(1), string(bytes[pos++], isKey));
    else if (b === 0xda) (need(2), string(view.getUint16((pos += 2) - 2), isKey));
    else if (b === 0xdb) (need(4), string(view.getUint32((pos += 4) - 4), isKey));
    else if (b === 0xdc) (need(2), open(view.getUint16((pos += 2) - 2), false));
    else if (b === 0xdd) (need(4), open(view.getUint32((pos += 4) - 4), false));
    else if (b === 0xde) (need(2), open(view.getUint16((pos += 2) - 2), true));
    else if (b === 0xdf) (need(4), open(view.getUint32((pos += 4) - 4), true));
    else throw new MsgpackShapeError(`reserved type 0xc1 at byte ${at}`);
  }
  if (pos !== end) throw new MsgpackShapeError(`${end - pos} trailing byte(s) after the value`);
}

const TWO_32 = 2 ** 32;

/**
 * Rewrites, in place, every float64 (0xcb) that holds a safe integer outside the 32-bit
 * range as uint64 (0xcf) or int64 (0xd3): same 9 bytes. msgpackr writes such integers
 * (ms timestamps) as float64; clients decoding into u64 fields reject floats. With `holes`,
 * records the offset of every reserved byte 0xc1: codec.ts writes one where a RawJson goes
 * and splices the payload in afterwards, so payload floats never pass through this rewrite.
 * Requires: `bytes` from our own encoder, from `start`, well-formed (not re-validated).
 */
export function fixLargeIntegers(bytes: Uint8Array, start = 0, holes?: number[]): void {
  walk(bytes, start, true, holes);
}

/** Index just past the value at `pos`. Requires: a well-formed value (checkMsgpack ran). */
export function skipMsgpack(bytes: Uint8Array, pos: number): number {
  return walk(bytes, pos, false, undefined);
}

function fixFloat64(bytes: Uint8Array, view: DataView, pos: number): void {
  const value = view.getFloat64(pos);
  if (Number.isSafeInteger(value) && (value >= TWO_32 || value < -(2 ** 31))) {
    const high = Math.floor(value / TWO_32);
    bytes[pos - 1] = value >= 0 ? 0xcf : 0xd3;
    view.setInt32(pos, high);
    view.setUint32(pos + 4, value - high * TWO_32);
  }
}

function walk(bytes: Uint8Array, pos: number, fix: boolean, holes: number[] | undefined): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let items = 1; // total items still to visit; containers add their children
  while (items > 0) {
    items--;
    const b = bytes[pos++];
    if (b <= 0x7f || b >= 0xe0) continue;
    if (b <= 0x8f) items += (b & 0x0f) * 2;
    else if (b <= 0x9f) items += b & 0x0f;
    else if (b <= 0xbf) pos += b & 0x1f;
    else if (b === 0xcb) {
      if (fix) fixFloat64(bytes, view, pos);
      pos += 8;
    } else if (b === 0xca || b === 0xce || b === 0xd2) pos += 4;
    else if (b === 0xcf || b === 0xd3) pos += 8;
    else if (b === 0xcc || b === 0xd0) pos += 1;
    else if (b === 0xcd || b === 0xd1) pos += 2;
    else if (b === 0xd9) pos += 1 + bytes[pos];
    else if (b === 0xda) pos += 2 + view.getUint16(pos);
    else if (b === 0xdb) pos += 4 + view.getUint32(pos);
    else if (b === 0xdc) (items += view.getUint16(pos), (pos += 2));
    else if (b === 0xdd) (items += view.getUint32(pos), (pos += 4));
    else if (b === 0xde) (items += view.getUint16(pos) * 2, (pos += 2));
    else if (b === 0xdf) (items += view.getUint32(pos) * 2, (pos += 4));
    else if (b >= 0xc4 && b <= 0xc6) pos += b === 0xc4 ? 1 + bytes[pos] : b === 0xc5 ? 2 + view.getUint16(pos) : 4 + view.getUint32(pos);
    else if (b >= 0xd4 && b <= 0xd8) pos += 1 + (1 << (b - 0xd4));
    else if (b === 0xc7) pos += 2 + bytes[pos];
    else if (b === 0xc8) pos += 3 + view.getUint16(pos);
    else if (b === 0xc9) pos += 5 + view.getUint32(pos);
    else if (b === 0xc1) holes?.push(pos - 1);
    // 0xc0, 0xc2, 0xc3: no payload
  }
  return pos;
}

// ---- payloads: where they sit in a body, and their JSON text ----------------------------

/**
 * The spans of every value at `path`, like jsonMemberSpans (lib/http/_json-scan.ts): a
 * later duplicate key wins, as it does in msgpackr's decode. Requires: checkMsgpack passed.
 */
export function msgpackMemberSpans(bytes: Uint8Array, path: MemberPath): Span[] {
  const out: Span[] = [];
  const keys = path.map((segment) => (segment === EACH ? undefined : Buffer.from(segment)));
  collect(bytes, new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), 0, keys, 0, [], out);
  return out;
}

function collect(
  bytes: Uint8Array, view: DataView, pos: number, keys: (Buffer | undefined)[], depth: number, indices: number[], out: Span[],
): number {
  if (depth === keys.length) {
    const end = skipMsgpack(bytes, pos);
    out.push({ start: pos, end, indices: indices.slice(), loose: false });
    return end;
  }
  const b = bytes[pos];
  const isMap = (b >= 0x80 && b <= 0x8f) || b === 0xde || b === 0xdf;
  const key = keys[depth];
  if (!isMap && !((b >= 0x90 && b <= 0x9f) || b === 0xdc || b === 0xdd)) return skipMsgpack(bytes, pos);
  if (isMap !== (key !== undefined)) return skipMsgpack(bytes, pos);
  const count = b <= 0x9f ? b & 0x0f : b === 0xdc || b === 0xde ? view.getUint16(pos + 1) : view.getUint32(pos + 1);
  pos += b <= 0x9f ? 1 : b === 0xdc || b === 0xde ? 3 : 5;
  const mark = out.length;
  for (let i = 0; i < count; i++) {
    if (key === undefined) {
      indices.push(i);
      pos = collect(bytes, view, pos, keys, depth + 1, indices, out);
      indices.pop();
      continue;
    }
    // Keys are strings (checkMsgpack): fixstr, str8, str16 or str32.
    const k = bytes[pos];
    const length = k <= 0xbf ? k & 0x1f : k === 0xd9 ? bytes[pos + 1] : k === 0xda ? view.getUint16(pos + 1) : view.getUint32(pos + 1);
    const start = pos + (k <= 0xbf ? 1 : k === 0xd9 ? 2 : k === 0xda ? 3 : 5);
    pos = start + length;
    if (length === key.length && key.compare(bytes, start, pos) === 0) {
      out.length = mark; // an earlier duplicate's spans lose
      pos = collect(bytes, view, pos, keys, depth + 1, indices, out);
    } else {
      pos = skipMsgpack(bytes, pos);
    }
  }
  return pos;
}

const TWO_21 = 2 ** 21; // a 64-bit integer whose high word is below this is a safe JS number

/**
 * The value at `pos` as compact JSON text (docs/format.md, payload convention): integers
 * exact over the whole u64/i64 range, floats always with "." or "e" (float32 widened to
 * f64, as serde_json does), strings escaped as JSON.stringify does. Throws
 * MsgpackShapeError for NaN and ±Infinity, which JSON cannot hold.
 * Requires: checkMsgpack(bytes) passed (no bin/ext, string keys, valid UTF-8).
 */
export function msgpackToJson(bytes: Uint8Array, pos: number): string {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: number[] = []; // [left, total, inMap] of each enclosing container
  let left = 1; // items still to write in the current container (a map counts keys and values)
  let total = 1;
  let inMap = false;
  let out = "";
  const open = (count: number, isMap: boolean): void => {
    if (count === 0) {
      out += isMap ? "{}" : "[]";
      return;
    }
    out += isMap ? "{" : "[";
    stack.push(left, total, inMap ? 1 : 0);
    left = total = isMap ? count * 2 : count;
    inMap = isMap;
  };
  const string = (start: number, length: number): string => {
    const end = start + length;
    for (let i = start; i < end; i++) {
      const c = bytes[i];
      if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return JSON.stringify(buffer.toString("utf8", start, end));
    }
    return '"' + buffer.toString("latin1", start, end) + '"';
  };

  for (;;) {
    if (left === 0) {
      if (stack.length === 0) return out;
      out += inMap ? "}" : "]";
      inMap = stack.pop() === 1;
      total = stack.pop()!;
      left = stack.pop()!;
      continue;
    }
    // Separators: a key after the first gets ",", a value ":"; array elements ",".
    if (inMap) out += (left & 1) === 1 ? ":" : left === total ? "" : ",";
    else if (left !== total) out += ",";
    left--;
    const at = pos;
    const b = bytes[pos++];
    if (b <= 0x7f) out += b;
    else if (b >= 0xe0) out += b - 0x100;
    else if (b <= 0x8f) open(b & 0x0f, true);
    else if (b <= 0x9f) open(b & 0x0f, false);
    else if (b <= 0xbf) (out += string(pos, b & 0x1f), (pos += b & 0x1f));
    else if (b === 0xc0) out += "null";
    else if (b === 0xc2) out += "false";
    else if (b === 0xc3) out += "true";
    else if (b === 0xca) (out += floatText(view.getFloat32(pos), at), (pos += 4));
    else if (b === 0xcb) (out += floatText(view.getFloat64(pos), at), (pos += 8));
    else if (b === 0xcc) out += bytes[pos++];
    else if (b === 0xcd) (out += view.getUint16(pos), (pos += 2));
    else if (b === 0xce) (out += view.getUint32(pos), (pos += 4));
    else if (b === 0xcf) {
      const high = view.getUint32(pos);
      out += high < TWO_21 ? high * TWO_32 + view.getUint32(pos + 4) : view.getBigUint64(pos).toString();
      pos += 8;
    } else if (b === 0xd0) out += view.getInt8(pos++);
    else if (b === 0xd1) (out += view.getInt16(pos), (pos += 2));
    else if (b === 0xd2) (out += view.getInt32(pos), (pos += 4));
    else if (b === 0xd3) {
      const high = view.getInt32(pos);
      out += high >= -TWO_21 && high < TWO_21 ? high * TWO_32 + view.getUint32(pos + 4) : view.getBigInt64(pos).toString();
      pos += 8;
    } else if (b === 0xd9) (out += string(pos + 1, bytes[pos]), (pos += 1 + bytes[pos]));
    else if (b === 0xda) (out += string(pos + 2, view.getUint16(pos)), (pos += 2 + view.getUint16(pos)));
    else if (b === 0xdb) (out += string(pos + 4, view.getUint32(pos)), (pos += 4 + view.getUint32(pos)));
    else if (b === 0xdc) (open(view.getUint16(pos), false), (pos += 2));
    else if (b === 0xdd) (open(view.getUint32(pos), false), (pos += 4));
    else if (b === 0xde) (open(view.getUint16(pos), true), (pos += 2));
    else if (b === 0xdf) (open(view.getUint32(pos), true), (pos += 4));
    else throw new MsgpackShapeError(`type 0x${b.toString(16)} is outside the JSON model (byte ${at})`);
  }
}

function floatText(value: number, at: number): string {
  if (!Number.isFinite(value)) throw new MsgpackShapeError(`${value} is not a JSON number (byte ${at})`);
  return floatToJson(value);
}

/** A finite float as JSON text that reads back as a float: 10 → "10.0", -0 → "-0.0". */
export function floatToJson(value: number): string {
  if (!Number.isInteger(value) || Math.abs(value) >= 1e21) return "" + value; // has "." or "e"
  return Object.is(value, -0) ? "-0.0" : value + ".0";
}
