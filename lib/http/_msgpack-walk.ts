// Byte-level walks over one MessagePack value, without building it (internal to codec.ts).
// `checkMsgpack` enforces our input rules before a library decodes anything (API.md §1.4);
// `fixLargeIntegers` rewrites msgpackr's float64 integers as int64/uint64 in place.
// Both walk iteratively, so deep nesting cannot overflow the stack here.

import { isUtf8 } from "node:buffer";

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
 * (ms timestamps) as float64; clients decoding into u64 fields reject floats.
 * Requires: `bytes` from our own encoder, from `start`, well-formed (not re-validated).
 */
export function fixLargeIntegers(bytes: Uint8Array, start = 0): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = start;
  let items = 1; // total items still to visit; containers add their children
  while (items > 0) {
    items--;
    const b = bytes[pos++];
    if (b <= 0x7f || b >= 0xe0) continue;
    if (b <= 0x8f) items += (b & 0x0f) * 2;
    else if (b <= 0x9f) items += b & 0x0f;
    else if (b <= 0xbf) pos += b & 0x1f;
    else if (b === 0xcb) {
      const value = view.getFloat64(pos);
      if (Number.isSafeInteger(value) && (value >= TWO_32 || value < -(2 ** 31))) {
        const high = Math.floor(value / TWO_32);
        bytes[pos - 1] = value >= 0 ? 0xcf : 0xd3;
        view.setInt32(pos, high);
        view.setUint32(pos + 4, value - high * TWO_32);
      }
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
    // 0xc0, 0xc2, 0xc3: no payload
  }
}
