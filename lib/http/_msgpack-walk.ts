// Byte-level walks over one MessagePack value, without building it (internal to codec.ts).
// `checkMsgpack` enforces our input rules before a library decodes anything (API.md §1.4);
// `fixLargeIntegers` rewrites msgpackr's float64 integers as int64/uint64 in place;
// `msgpackMemberSpans` finds request payloads (_msgpack-json.ts turns them into text).
// All walk iteratively (collect only recurses along a short path), so deep nesting is safe.

import { isUtf8 } from "node:buffer";
import { EACH, type MemberPath, type Span } from "./_json-scan.ts";

/** Thrown by checkMsgpack; `message` is the detail after "invalid MessagePack: ". */
export class MsgpackShapeError extends Error {}

/**
 * Deepest nesting a MessagePack body may have. msgpackr decodes recursively, and a body
 * nested ~10,000 levels overflowed its stack (a 400 that read "Maximum call stack size
 * exceeded"). A payload may nest 256 levels (lib/queue/json-text.ts), inside a body's few.
 */
export const MSGPACK_MAX_DEPTH = 512;

/**
 * Throws MsgpackShapeError unless `bytes` is exactly one MessagePack value of the JSON
 * model: no bin/ext, map keys are strings, every string is valid UTF-8, nothing truncated,
 * no trailing bytes. A "__proto__" key is allowed, as in JSON: msgpackr decodes it as
 * `__proto_` (never touching a prototype), which no field reads, so outside payloads it is
 * ignored like any unknown field; payloads are transcoded from these bytes, so it is kept.
 * Container counts are checked against the bytes left, so a hostile length cannot make a
 * decoder preallocate a huge array.
 */
export function checkMsgpack(bytes: Uint8Array): void {
  // No closures in here: under tsx each arrow function created per call costs a __name()
  // (esbuild keepNames), which measured as most of this function on small bodies.
  const end = bytes.length;
  const leftStack: number[] = [];
  const mapStack: boolean[] = [];
  let left = 1; // items still to read in the current container (a map counts keys and values)
  let inMap = false;
  let pos = 0;

  while (true) {
    if (left === 0) {
      if (leftStack.length === 0) break;
      left = leftStack.pop()!;
      inMap = mapStack.pop()!;
      continue;
    }
    const isKey = inMap && (left & 1) === 0;
    left--;
    need(pos, 1, end);
    const at = pos;
    const b = bytes[pos++];
    if (isKey && !(b >= 0xa0 && b <= 0xbf) && b !== 0xd9 && b !== 0xda && b !== 0xdb) {
      throw new MsgpackShapeError(`map keys must be strings (type 0x${b.toString(16)} at byte ${at})`);
    }
    let count = -1; // ≥ 0: a container with this many entries opens here
    let isMap = false;
    let length = -1; // ≥ 0: a string of this many bytes starts at pos
    if (b <= 0x7f || b >= 0xe0) continue; // fixint
    if (b <= 0x8f) (count = b & 0x0f, (isMap = true));
    else if (b <= 0x9f) count = b & 0x0f;
    else if (b <= 0xbf) length = b & 0x1f;
    else if (b === 0xc0 || b === 0xc2 || b === 0xc3) continue;
    else if (b >= 0xc4 && b <= 0xc6) throw new MsgpackShapeError(`bin values are not supported (byte ${at})`);
    else if ((b >= 0xc7 && b <= 0xc9) || (b >= 0xd4 && b <= 0xd8)) {
      throw new MsgpackShapeError(`ext values are not supported (byte ${at})`);
    } else if (b === 0xca || b === 0xce || b === 0xd2) (need(pos, 4, end), (pos += 4));
    else if (b === 0xcb || b === 0xcf || b === 0xd3) (need(pos, 8, end), (pos += 8));
    else if (b === 0xcc || b === 0xd0) (need(pos, 1, end), (pos += 1));
    else if (b === 0xcd || b === 0xd1) (need(pos, 2, end), (pos += 2));
    else if (b === 0xd9) (need(pos, 1, end), (length = bytes[pos++]));
    else if (b === 0xda) (need(pos, 2, end), (length = u16(bytes, pos)), (pos += 2));
    else if (b === 0xdb) (need(pos, 4, end), (length = u32(bytes, pos)), (pos += 4));
    else if (b === 0xdc || b === 0xde) (need(pos, 2, end), (count = u16(bytes, pos)), (isMap = b === 0xde), (pos += 2));
    else if (b === 0xdd || b === 0xdf) (need(pos, 4, end), (count = u32(bytes, pos)), (isMap = b === 0xdf), (pos += 4));
    else throw new MsgpackShapeError(`reserved type 0xc1 at byte ${at}`);
    if (length >= 0) {
      checkString(bytes, pos, length);
      pos += length;
    } else if (count > 0) {
      const items = isMap ? count * 2 : count;
      if (items > end - pos) throw new MsgpackShapeError(`unexpected end of input: container of ${count} at byte ${pos}`);
      if (leftStack.length >= MSGPACK_MAX_DEPTH) throw new MsgpackShapeError(`nested deeper than ${MSGPACK_MAX_DEPTH} levels (byte ${at})`);
      leftStack.push(left);
      mapStack.push(inMap);
      left = items;
      inMap = isMap;
    }
  }
  if (pos !== end) throw new MsgpackShapeError(`${end - pos} trailing byte(s) after the value`);
}

function need(pos: number, n: number, end: number): void {
  if (pos + n > end) throw new MsgpackShapeError(`unexpected end of input at byte ${end}`);
}

function checkString(bytes: Uint8Array, pos: number, length: number): void {
  need(pos, length, bytes.length);
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
}

const TWO_32 = 2 ** 32;

/**
 * Rewrites, in place, every float64 (0xcb) that holds a safe integer outside the 32-bit
 * range as uint64 (0xcf) or int64 (0xd3): same 9 bytes. msgpackr writes such integers
 * (ms timestamps) as float64; clients decoding into u64 fields reject floats. With `holes`,
 * records the offset of every reserved byte 0xc1: codec.ts writes one where a payload with
 * such a float goes and splices it in afterwards, so payload floats stay floats.
 * Requires: `bytes` from our own encoder, from `start`, well-formed (not re-validated).
 */
export function fixLargeIntegers(bytes: Uint8Array, start = 0, holes?: number[]): void {
  walk(bytes, start, true, holes);
}

/** Index just past the value at `pos`. Requires: a well-formed value (checkMsgpack ran). */
export function skipMsgpack(bytes: Uint8Array, pos: number): number {
  return walk(bytes, pos, false, undefined);
}

/** Would fixLargeIntegers rewrite a float64 holding `value` as an integer? */
export function fixesFloat(value: number): boolean {
  return Number.isSafeInteger(value) && (value >= TWO_32 || value < -(2 ** 31));
}

function fixFloat64(bytes: Uint8Array, view: DataView, pos: number): void {
  const value = view.getFloat64(pos);
  if (fixesFloat(value)) {
    const high = Math.floor(value / TWO_32);
    bytes[pos - 1] = value >= 0 ? 0xcf : 0xd3;
    view.setInt32(pos, high);
    view.setUint32(pos + 4, value - high * TWO_32);
  }
}

export const u16 = (bytes: Uint8Array, pos: number) => (bytes[pos] << 8) | bytes[pos + 1];
export const u32 = (bytes: Uint8Array, pos: number) => bytes[pos] * 0x1000000 + ((bytes[pos + 1] << 16) | (bytes[pos + 2] << 8) | bytes[pos + 3]);

function walk(bytes: Uint8Array, pos: number, fix: boolean, holes: number[] | undefined): number {
  // Lengths are read from the bytes: a DataView per call cost more than the walk itself
  // when collect() skips a short member. Only a float64 to fix needs one.
  let view: DataView | undefined;
  let items = 1; // total items still to visit; containers add their children
  while (items > 0) {
    items--;
    const b = bytes[pos++];
    if (b <= 0x7f || b >= 0xe0) continue;
    if (b <= 0x8f) items += (b & 0x0f) * 2;
    else if (b <= 0x9f) items += b & 0x0f;
    else if (b <= 0xbf) pos += b & 0x1f;
    else if (b === 0xcb) {
      if (fix) fixFloat64(bytes, (view ??= new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)), pos);
      pos += 8;
    } else if (b === 0xca || b === 0xce || b === 0xd2) pos += 4;
    else if (b === 0xcf || b === 0xd3) pos += 8;
    else if (b === 0xcc || b === 0xd0) pos += 1;
    else if (b === 0xcd || b === 0xd1) pos += 2;
    else if (b === 0xd9) pos += 1 + bytes[pos];
    else if (b === 0xda) pos += 2 + u16(bytes, pos);
    else if (b === 0xdb) pos += 4 + u32(bytes, pos);
    else if (b === 0xdc) (items += u16(bytes, pos), (pos += 2));
    else if (b === 0xdd) (items += u32(bytes, pos), (pos += 4));
    else if (b === 0xde) (items += u16(bytes, pos) * 2, (pos += 2));
    else if (b === 0xdf) (items += u32(bytes, pos) * 2, (pos += 4));
    else if (b >= 0xc4 && b <= 0xc6) pos += b === 0xc4 ? 1 + bytes[pos] : b === 0xc5 ? 2 + u16(bytes, pos) : 4 + u32(bytes, pos);
    else if (b >= 0xd4 && b <= 0xd8) pos += 1 + (1 << (b - 0xd4));
    else if (b === 0xc7) pos += 2 + bytes[pos];
    else if (b === 0xc8) pos += 3 + u16(bytes, pos);
    else if (b === 0xc9) pos += 5 + u32(bytes, pos);
    else if (b === 0xc1) holes?.push(pos - 1);
    // 0xc0, 0xc2, 0xc3: no payload
  }
  return pos;
}

// ---- payloads: where they sit in a body -------------------------------------------------

/**
 * The spans of every value at `path`, like jsonMemberSpans (lib/http/_json-scan.ts): a
 * later duplicate key wins, as it does in msgpackr's decode. Requires: checkMsgpack passed.
 */
export function msgpackMemberSpans(bytes: Uint8Array, path: MemberPath): Span[] {
  const out: Span[] = [];
  let keys = utf8Keys.get(path);
  if (!keys) utf8Keys.set(path, (keys = path.map((segment) => (segment === EACH ? undefined : Buffer.from(segment)))));
  collect(bytes, 0, keys, 0, [], out);
  return out;
}

/** Why not Buffer#compare: for keys this short, its argument checks cost more than the loop. */
function sameBytes(key: Buffer, bytes: Uint8Array, start: number): boolean {
  for (let i = 0; i < key.length; i++) if (bytes[start + i] !== key[i]) return false;
  return true;
}

/** Each path's keys as UTF-8 bytes (paths are module constants, so this stays tiny). */
const utf8Keys = new WeakMap<MemberPath, (Buffer | undefined)[]>();

function collect(bytes: Uint8Array, pos: number, keys: (Buffer | undefined)[], depth: number, indices: number[], out: Span[]): number {
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
  const count = b <= 0x9f ? b & 0x0f : b === 0xdc || b === 0xde ? u16(bytes, pos + 1) : u32(bytes, pos + 1);
  pos += b <= 0x9f ? 1 : b === 0xdc || b === 0xde ? 3 : 5;
  const mark = out.length;
  for (let i = 0; i < count; i++) {
    if (key === undefined) {
      indices.push(i);
      pos = collect(bytes, pos, keys, depth + 1, indices, out);
      indices.pop();
      continue;
    }
    // Keys are strings (checkMsgpack): fixstr, str8, str16 or str32.
    const k = bytes[pos];
    const length = k <= 0xbf ? k & 0x1f : k === 0xd9 ? bytes[pos + 1] : k === 0xda ? u16(bytes, pos + 1) : u32(bytes, pos + 1);
    const start = pos + (k <= 0xbf ? 1 : k === 0xd9 ? 2 : k === 0xda ? 3 : 5);
    pos = start + length;
    if (length === key.length && sameBytes(key, bytes, start)) {
      if (out.length !== mark) out.length = mark; // an earlier duplicate's spans lose
      pos = collect(bytes, pos, keys, depth + 1, indices, out);
    } else {
      pos = skipMsgpack(bytes, pos);
    }
  }
  return pos;
}
