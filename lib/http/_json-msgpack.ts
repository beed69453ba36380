// Stored payload text → MessagePack bytes, without building the value (internal to codec.ts).
// Number tokens keep their kind: one with "." or an exponent is a float64, any other is an
// integer in its smallest encoding, exact over u64/i64 (docs/format.md, payload convention).
// Runs once per payload in every MessagePack response and take-stream frame.

import { stringEnd } from "../queue/json-text.ts";
import { fixesFloat } from "./_msgpack-walk.ts";

/** A growable byte buffer; the first `length` bytes are the output so far. */
export class ByteSink {
  buffer = Buffer.allocUnsafeSlow(16 * 1024);
  view = new DataView(this.buffer.buffer, this.buffer.byteOffset, this.buffer.length);
  length = 0;

  /** Makes room for `bytes` more bytes (copying what is written so far). */
  reserve(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    const next = Buffer.allocUnsafeSlow(Math.max(this.buffer.length * 2, this.length + bytes));
    this.buffer.copy(next, 0, 0, this.length);
    this.buffer = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.length);
  }
}

const TWO_32 = 2 ** 32;
const U64_MAX = 2n ** 64n - 1n;
const I64_MIN = -(2n ** 63n);

/**
 * Appends the MessagePack encoding of the JSON value in `text` to `sink`. Containers and
 * strings use their smallest headers. An integer token beyond 64 bits becomes a float64,
 * which is how the reference (serde_json) reads it. Returns true when a float64 written
 * holds a value fixLargeIntegers would take for a mis-encoded integer (1e10, 4294967296.0).
 * Requires: `text` is valid JSON.
 */
export function writeJsonAsMsgpack(text: string, sink: ByteSink): boolean {
  const n = text.length;
  // Invariant: the output is at most 3 bytes per input char (a 3-char "1.0" is a 9-byte
  // float64; a BMP char is ≤ 3 UTF-8 bytes; every header fits in the brackets, quotes or
  // separators it stands for), so one reservation covers the whole value: no bounds checks.
  sink.reserve(3 * n + 16);
  const buf = sink.buffer;
  const view = sink.view;
  const startLength = sink.length;
  let len = startLength;
  // The open containers: header offset, element count, and object-or-array, per level.
  const stack: number[] = [];
  let headerAt = -1;
  let count = 0;
  let inObject = false;
  let nextBackslash = -1; // cached indexOf("\\"), so strings without escapes are not rescanned
  let integralFloat = false;

  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c <= 0x20 || c === 0x2c) {
      i++; // whitespace, ","
      continue;
    }
    if (c === 0x3a) {
      count++; // ":" — exactly one per object member
      i++;
      continue;
    }
    if (c === 0x7d || c === 0x5d) {
      // "}" "]": now the count is known. Why not count first: a second pass over the text
      // costs more than moving the (rare) containers of 16+ elements 2 or 4 bytes right.
      if (count < 16) {
        buf[headerAt] = (inObject ? 0x80 : 0x90) | count;
      } else {
        const extra = count < 0x10000 ? 2 : 4;
        buf.copyWithin(headerAt + 1 + extra, headerAt + 1, len);
        len += extra;
        buf[headerAt] = extra === 2 ? (inObject ? 0xde : 0xdc) : inObject ? 0xdf : 0xdd;
        if (extra === 2) view.setUint16(headerAt + 1, count);
        else view.setUint32(headerAt + 1, count);
      }
      inObject = stack.pop() === 1;
      count = stack.pop()!;
      headerAt = stack.pop()!;
      i++;
      continue;
    }
    if (headerAt >= 0 && !inObject) count++; // an array element
    if (c === 0x7b || c === 0x5b) {
      stack.push(headerAt, count, inObject ? 1 : 0);
      headerAt = len++;
      count = 0;
      inObject = c === 0x7b;
      i++;
    } else if (c === 0x22) {
      const end = stringEnd(text, i);
      if (nextBackslash < i && nextBackslash !== n) {
        nextBackslash = text.indexOf("\\", i);
        if (nextBackslash === -1) nextBackslash = n;
      }
      len = nextBackslash < end ? writeString(JSON.parse(text.slice(i, end)) as string, 0, -1, buf, len) : writeString(text, i + 1, end - 1, buf, len);
      i = end;
    } else if (c === 0x74) {
      buf[len++] = 0xc3; // true
      i += 4;
    } else if (c === 0x66) {
      buf[len++] = 0xc2; // false
      i += 5;
    } else if (c === 0x6e) {
      buf[len++] = 0xc0; // null
      i += 4;
    } else {
      let j = c === 0x2d ? i + 1 : i;
      const digitsFrom = j;
      let value = 0;
      for (let d = text.charCodeAt(j) - 48; d >= 0 && d <= 9; d = text.charCodeAt(++j) - 48) value = value * 10 + d;
      const after = text.charCodeAt(j);
      if (after === 0x2e || after === 0x65 || after === 0x45) {
        for (let d = text.charCodeAt(j); (d >= 0x30 && d <= 0x39) || d === 0x2e || d === 0x65 || d === 0x45 || d === 0x2b || d === 0x2d; d = text.charCodeAt(++j));
        const value = Number(text.slice(i, j));
        if (fixesFloat(value)) integralFloat = true;
        buf[len] = 0xcb;
        view.setFloat64(len + 1, value);
        len += 9;
      } else if (j - digitsFrom <= 15) {
        len = writeInteger(c === 0x2d ? -value : value, buf, view, len); // ≤ 15 digits: exact as a double
      } else {
        // 16+ digits (no leading zeros in JSON) is ≥ 10^15 > 2^32: 64 bits is the smallest.
        const big = BigInt(text.slice(i, j));
        if (big >= 0n && big <= U64_MAX) (buf[len] = 0xcf, view.setBigUint64(len + 1, big));
        else if (big < 0n && big >= I64_MIN) (buf[len] = 0xd3, view.setBigInt64(len + 1, big));
        else (buf[len] = 0xcb, view.setFloat64(len + 1, Number(big))); // never integral below 2^53
        len += 9;
      }
      i = j;
    }
  }
  if (len === startLength) buf[len++] = 0xc0; // no value at all (an empty payload): nil
  sink.length = len;
  return integralFloat;
}

/** A safe integer in its smallest encoding (msgpackr's and rmp's choice). */
function writeInteger(v: number, buf: Buffer, view: DataView, len: number): number {
  if (v >= 0) {
    if (v < 0x80) buf[len++] = v;
    else if (v < 0x100) (buf[len++] = 0xcc, (buf[len++] = v));
    else if (v < 0x10000) (buf[len++] = 0xcd, view.setUint16(len, v), (len += 2));
    else if (v < TWO_32) (buf[len++] = 0xce, view.setUint32(len, v), (len += 4));
    else {
      const high = Math.floor(v / TWO_32);
      buf[len++] = 0xcf;
      view.setUint32(len, high);
      view.setUint32(len + 4, v - high * TWO_32);
      len += 8;
    }
  } else if (v >= -32) buf[len++] = v & 0xff;
  else if (v >= -0x80) (buf[len++] = 0xd0, view.setInt8(len, v), (len += 1));
  else if (v >= -0x8000) (buf[len++] = 0xd1, view.setInt16(len, v), (len += 2));
  else if (v >= -0x80000000) (buf[len++] = 0xd2, view.setInt32(len, v), (len += 4));
  else {
    const high = Math.floor(v / TWO_32);
    buf[len++] = 0xd3;
    view.setInt32(len, high);
    view.setUint32(len + 4, v - high * TWO_32);
    len += 8;
  }
  return len;
}

const strHeaderBytes = (n: number) => (n < 32 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5);

/**
 * Writes s[from, to) (to = -1: all of s) as a str at `len`; returns the new length. The
 * header is first sized for one byte per char (exact for ASCII) and the bytes are moved
 * right in the rare case the UTF-8 length needs a bigger one.
 */
function writeString(s: string, from: number, to: number, buf: Buffer, len: number): number {
  if (to < 0) to = s.length;
  const guess = strHeaderBytes(to - from);
  let p = len + guess;
  if (to - from < 64) {
    // Short strings: a JS loop beats the native call's overhead (msgpackr does the same).
    for (let j = from; j < to; j++) {
      let ch = s.charCodeAt(j);
      if (ch < 0x80) buf[p++] = ch;
      else if (ch < 0x800) (buf[p++] = 0xc0 | (ch >> 6), (buf[p++] = 0x80 | (ch & 0x3f)));
      else {
        const low = s.charCodeAt(j + 1);
        if (ch >= 0xd800 && ch <= 0xdbff && j + 1 < to && low >= 0xdc00 && low <= 0xdfff) {
          const cp = 0x10000 + ((ch - 0xd800) << 10) + (low - 0xdc00);
          buf[p++] = 0xf0 | (cp >> 18);
          buf[p++] = 0x80 | ((cp >> 12) & 0x3f);
          buf[p++] = 0x80 | ((cp >> 6) & 0x3f);
          buf[p++] = 0x80 | (cp & 0x3f);
          j++;
          continue;
        }
        if (ch >= 0xd800 && ch <= 0xdfff) ch = 0xfffd; // lone surrogate: U+FFFD, as Buffer.write does
        buf[p++] = 0xe0 | (ch >> 12);
        buf[p++] = 0x80 | ((ch >> 6) & 0x3f);
        buf[p++] = 0x80 | (ch & 0x3f);
      }
    }
  } else {
    p += buf.write(from === 0 && to === s.length ? s : s.slice(from, to), p, "utf8");
  }
  const bytes = p - len - guess;
  const header = strHeaderBytes(bytes);
  if (header !== guess) buf.copyWithin(len + header, len + guess, p);
  if (header === 1) buf[len] = 0xa0 | bytes;
  else if (header === 2) (buf[len] = 0xd9, (buf[len + 1] = bytes));
  else if (header === 3) (buf[len] = 0xda, buf.writeUInt16BE(bytes, len + 1));
  else (buf[len] = 0xdb, buf.writeUInt32BE(bytes, len + 1));
  return len + header + bytes;
}
