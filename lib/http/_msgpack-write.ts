// MessagePack writers for the fixed shape of a job on the wire (job-wire.ts msgpackInto),
// each writing exactly what msgpackr writes for the same value with codec.ts's Packr
// options: the smallest header for a map, string or integer, and an integer beyond 32
// bits as the uint64 that fixLargeIntegers leaves in place of msgpackr's float64.
// msgpackr stays the encoder of everything else and the oracle: test/http/job-wire.test.ts
// compares the bytes of both for every optional field. Why: packing a take frame through
// the generic path (an object built per job, packed key by key, then walked again for
// large integers) cost ~12% of a MessagePack take-and-ack cycle's server time, and made
// MessagePack W3 slower than JSON W3.

import type { ByteSink } from "./_json-msgpack.ts";

const TWO_32 = 2 ** 32;

/** A map key (or any short ASCII string), encoded once: fixstr header and bytes. */
export function keyBytes(key: string): Buffer {
  if (key.length >= 32 || !/^[\x20-\x7e]*$/.test(key)) throw new RangeError(`not a short ASCII key: ${key}`);
  return Buffer.from([0xa0 | key.length, ...Buffer.from(key, "latin1")]);
}

/** Appends a few bytes (a key): a loop, as Buffer.copy's checks cost more than a short copy. */
export function writeRaw(sink: ByteSink, bytes: Buffer): void {
  sink.reserve(bytes.length);
  const b = sink.buffer;
  let at = sink.length;
  for (let i = 0; i < bytes.length; i++) b[at++] = bytes[i];
  sink.length = at;
}

export function writeMapHeader(sink: ByteSink, entries: number): void {
  sink.reserve(3);
  const b = sink.buffer;
  if (entries < 16) {
    b[sink.length++] = 0x80 | entries;
  } else {
    b[sink.length] = 0xde;
    b[sink.length + 1] = entries >>> 8;
    b[sink.length + 2] = entries & 0xff;
    sink.length += 3;
  }
}

/**
 * A non-negative integer up to 2^53 − 1, as msgpackr + fixLargeIntegers encode it.
 * Returns false (nothing written) for any other number: the caller takes the generic path.
 */
export function writeUint(sink: ByteSink, v: number): boolean {
  sink.reserve(9);
  const b = sink.buffer;
  let at = sink.length;
  if (v >>> 0 === v) {
    if (v < 0x80) {
      b[at++] = v;
    } else if (v < 0x100) {
      b[at++] = 0xcc;
      b[at++] = v;
    } else if (v < 0x10000) {
      b[at++] = 0xcd;
      b[at++] = v >>> 8;
      b[at++] = v & 0xff;
    } else {
      b[at++] = 0xce;
      sink.view.setUint32(at, v);
      at += 4;
    }
  } else if (Number.isSafeInteger(v) && v > 0) {
    const high = Math.floor(v / TWO_32);
    b[at++] = 0xcf;
    sink.view.setUint32(at, high);
    sink.view.setUint32(at + 4, v - high * TWO_32);
    at += 8;
  } else {
    return false;
  }
  sink.length = at;
  return true;
}

export function writeString(sink: ByteSink, s: string): void {
  const bytes = Buffer.byteLength(s);
  sink.reserve(bytes + 5);
  const b = sink.buffer;
  let at = sink.length;
  if (bytes < 32) {
    b[at++] = 0xa0 | bytes;
  } else if (bytes < 0x100) {
    b[at++] = 0xd9;
    b[at++] = bytes;
  } else if (bytes < 0x10000) {
    b[at++] = 0xda;
    b[at++] = bytes >>> 8;
    b[at++] = bytes & 0xff;
  } else {
    b[at++] = 0xdb;
    sink.view.setUint32(at, bytes);
    at += 4;
  }
  sink.length = at + (b as unknown as { utf8Write(s: string, at: number): number }).utf8Write(s, at);
}

export function writeBool(sink: ByteSink, v: boolean): void {
  sink.reserve(1);
  sink.buffer[sink.length++] = v ? 0xc3 : 0xc2;
}

/** A contract f32 (codec.ts Float32's extension writes the same). */
export function writeFloat32(sink: ByteSink, v: number): void {
  sink.reserve(5);
  sink.buffer[sink.length] = 0xca;
  sink.view.setFloat32(sink.length + 1, v);
  sink.length += 5;
}
