// MessagePack → JSON text for request payloads (internal to codec.ts): integers exact over
// u64/i64, floats always with "." or "e", strings escaped as JSON.stringify does, written
// as bytes and decoded once (docs/format.md, payload convention). Runs once per payload of
// every MessagePack enqueue; the input was checked by checkMsgpack first.

import { MsgpackShapeError, u16, u32 } from "./_msgpack-walk.ts";

const TWO_32 = 2 ** 32;
const TWO_21 = 2 ** 21; // a 64-bit integer whose high word is below this is a safe JS number

/**
 * The value at `pos` as compact JSON text (docs/format.md, payload convention): integers
 * exact over the whole u64/i64 range, floats always with "." or "e" (float32 widened to
 * f64, as serde_json does), strings escaped as JSON.stringify does. Throws
 * MsgpackShapeError for NaN and ±Infinity, which JSON cannot hold.
 * Requires: checkMsgpack(bytes) passed (no bin/ext, string keys, valid UTF-8).
 */
export function msgpackToJson(bytes: Uint8Array, pos: number): string {
  // Why bytes and not string concatenation: one decode per payload instead of one per
  // string measured 3× faster. No closures in here either: under tsx every arrow function
  // created per call costs a __name() (esbuild keepNames).
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: number[] = []; // [left, total, inMap] of each enclosing container
  let left = 1; // items still to write in the current container (a map counts keys and values)
  let total = 1;
  let inMap = false;
  let out = jsonOut;
  let len = 0;
  for (;;) {
    // Invariant: 32 bytes of room at the top of each item (a separator and the longest
    // number); a string makes room for its own worst case below.
    if (len + 32 > out.length) out = grow(len + 32);
    if (left === 0) {
      if (stack.length === 0) break;
      out[len++] = inMap ? 0x7d : 0x5d;
      inMap = stack.pop() === 1;
      total = stack.pop()!;
      left = stack.pop()!;
      continue;
    }
    // Separators: a key after the first gets ",", a value ":"; array elements ",".
    if (inMap) {
      if ((left & 1) === 1) out[len++] = 0x3a;
      else if (left !== total) out[len++] = 0x2c;
    } else if (left !== total) out[len++] = 0x2c;
    left--;
    const at = pos;
    const b = bytes[pos++];
    let count = -1; // ≥ 0: a container with this many entries opens here
    let isMap = false;
    let length = -1; // ≥ 0: a string of this many bytes starts at pos
    let text = ""; // a number's text
    if (b <= 0x7f) text = "" + b;
    else if (b >= 0xe0) text = "" + (b - 0x100);
    else if (b <= 0x8f) (count = b & 0x0f, (isMap = true));
    else if (b <= 0x9f) count = b & 0x0f;
    else if (b <= 0xbf) length = b & 0x1f;
    else if (b === 0xc0) text = "null";
    else if (b === 0xc2) text = "false";
    else if (b === 0xc3) text = "true";
    else if (b === 0xca) (text = floatText(view.getFloat32(pos), at), (pos += 4));
    else if (b === 0xcb) (text = floatText(view.getFloat64(pos), at), (pos += 8));
    else if (b === 0xcc) text = "" + bytes[pos++];
    else if (b === 0xcd) (text = "" + u16(bytes, pos), (pos += 2));
    else if (b === 0xce) (text = "" + u32(bytes, pos), (pos += 4));
    else if (b === 0xcf) {
      const high = u32(bytes, pos);
      text = high < TWO_21 ? "" + (high * TWO_32 + u32(bytes, pos + 4)) : view.getBigUint64(pos).toString();
      pos += 8;
    } else if (b === 0xd0) text = "" + view.getInt8(pos++);
    else if (b === 0xd1) (text = "" + view.getInt16(pos), (pos += 2));
    else if (b === 0xd2) (text = "" + view.getInt32(pos), (pos += 4));
    else if (b === 0xd3) {
      const high = view.getInt32(pos);
      text = high >= -TWO_21 && high < TWO_21 ? "" + (high * TWO_32 + u32(bytes, pos + 4)) : view.getBigInt64(pos).toString();
      pos += 8;
    } else if (b === 0xd9) length = bytes[pos++];
    else if (b === 0xda) (length = u16(bytes, pos), (pos += 2));
    else if (b === 0xdb) (length = u32(bytes, pos), (pos += 4));
    else if (b === 0xdc || b === 0xde) (count = u16(bytes, pos), (isMap = b === 0xde), (pos += 2));
    else if (b === 0xdd || b === 0xdf) (count = u32(bytes, pos), (isMap = b === 0xdf), (pos += 4));
    else throw new MsgpackShapeError(`type 0x${b.toString(16)} is outside the JSON model (byte ${at})`);
    if (length >= 0) {
      if (len + 6 * length + 2 > out.length) out = grow(len + 6 * length + 2);
      len = writeStringJson(bytes, pos, length, out, len);
      pos += length;
    } else if (count === 0) {
      out[len++] = isMap ? 0x7b : 0x5b;
      out[len++] = isMap ? 0x7d : 0x5d;
    } else if (count > 0) {
      out[len++] = isMap ? 0x7b : 0x5b;
      stack.push(left, total, inMap ? 1 : 0);
      left = total = isMap ? count * 2 : count;
      inMap = isMap;
    } else {
      for (let i = 0; i < text.length; i++) out[len++] = text.charCodeAt(i);
    }
  }
  return out.toString("utf8", 0, len);
}

/** msgpackToJson's output buffer, reused (the text is decoded out of it before returning). */
let jsonOut: Buffer = Buffer.allocUnsafeSlow(16 * 1024);

function grow(needed: number): Buffer {
  const next = Buffer.allocUnsafeSlow(Math.max(jsonOut.length * 2, needed));
  jsonOut.copy(next);
  return (jsonOut = next);
}

const HEX = "0123456789abcdef";
const SHORT_ESCAPES: Record<number, number> = { 0x08: 0x62, 0x09: 0x74, 0x0a: 0x6e, 0x0c: 0x66, 0x0d: 0x72 };

/**
 * A str value as a JSON string literal, escaped exactly as JSON.stringify escapes: `"`,
 * `\`, and control characters (\b \t \n \f \r, else \u00xx). Bytes ≥ 0x80 are copied: the
 * UTF-8 is valid (checkMsgpack), and JSON.stringify leaves such characters (even U+2028) as they are.
 * Requires: room for 6 × length + 2 bytes at `len`.
 */
function writeStringJson(bytes: Uint8Array, start: number, length: number, out: Buffer, len: number): number {
  out[len++] = 0x22;
  for (let i = start, end = start + length; i < end; i++) {
    const c = bytes[i];
    if (c >= 0x20 && c !== 0x22 && c !== 0x5c) {
      out[len++] = c;
      continue;
    }
    out[len++] = 0x5c;
    if (c === 0x22 || c === 0x5c) out[len++] = c;
    else if (SHORT_ESCAPES[c] !== undefined) out[len++] = SHORT_ESCAPES[c];
    else {
      out[len++] = 0x75; // u00xx
      out[len++] = 0x30;
      out[len++] = 0x30;
      out[len++] = HEX.charCodeAt(c >> 4);
      out[len++] = HEX.charCodeAt(c & 0x0f);
    }
  }
  out[len++] = 0x22;
  return len;
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
