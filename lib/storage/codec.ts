// Encode and decode one framed record and the record bodies of docs/format.md.
// Pure functions over Buffers: no files, no job rules. The hot path (job meta) is a
// fixed binary layout; only the rare per-job overrides go through MessagePack.

import { crc32 } from "node:zlib";
import { Packr } from "msgpackr";
import {
  FLAG_COMPLETED_AT, FLAG_DEQUEUED_AT, FLAG_FAILED_AT, FLAG_PURGE_AT, ID_BYTES, MAX_RECORD_TYPE,
  META_FIXED_BYTES, RECORD_HEADER_BYTES, RECORD_JOB, RECORD_TXN, RECORD_UNUSED,
} from "./format.ts";

// Records and maps only; `useRecords: false` keeps the bytes plain MessagePack so any
// tool can read them.
const packr = new Packr({ useRecords: false, mapsAsObjects: true });
// Buffer's latin1Slice/utf8Slice skip toString()'s argument juggling; they are stable
// Node internals but missing from @types/node.
interface FastSlices { latin1Slice(start: number, end: number): string; utf8Slice(start: number, end: number): string }
// Their write counterparts, which skip write()'s encoding lookup (the job record, per job).
interface FastWrites { latin1Write(text: string, offset: number, length: number): number; utf8Write(text: string, offset: number): number }
export const latin1 = (buf: Buffer, start: number, end: number): string => (buf as unknown as FastSlices).latin1Slice(start, end);
export const utf8 = (buf: Buffer, start: number, end: number): string => (buf as unknown as FastSlices).utf8Slice(start, end);

export const packValue = (value: unknown): Buffer => packr.pack(value);
export const unpackValue = (bytes: Buffer): unknown => packr.unpack(bytes);

/** A job's state as storage sees it. Options are opaque to storage. */
export interface JobMeta {
  id: string;
  status: number;
  priority: number;
  attempts: number;
  readyAtMs: number;
  dequeuedAtMs?: number;
  failedAtMs?: number;
  completedAtMs?: number;
  purgeAtMs?: number;
  queue: string;
  type: string;
  /** Per-job overrides (retry_limit, backoff, retention, unique_key, unique_while, batch). */
  options?: Record<string, unknown>;
}

/** Frame a record: length, type, CRC-32 over type + body, body. */
export function frameRecord(type: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(RECORD_HEADER_BYTES + body.length);
  body.copy(out, RECORD_HEADER_BYTES);
  return sealRecord(out, type);
}

/**
 * Frame a record whose body was written in place, after RECORD_HEADER_BYTES of room:
 * no second buffer for large bodies (a bulk delete's ids).
 */
export function sealRecord(out: Buffer, type: number): Buffer {
  writeU32(out, 0, out.length - RECORD_HEADER_BYTES);
  out[4] = type;
  writeU32(out, 5, crc32(out.subarray(RECORD_HEADER_BYTES), TYPE_CRC[type]));
  return out;
}

// The CRC of each record type's byte, where the record's CRC starts: one crc32 call and
// one subarray a record, not two of each (every job written goes through here).
const TYPE_CRC = Array.from({ length: 256 }, (_, type) => crc32(Buffer.of(type)));

/** Little-endian u32 as plain byte stores: writeUInt32LE checks its arguments, on every record. */
function writeU32(buf: Buffer, at: number, value: number): void {
  buf[at] = value;
  buf[at + 1] = value >>> 8;
  buf[at + 2] = value >>> 16;
  buf[at + 3] = value >>> 24;
}

export type FrameCheck =
  | { ok: true; type: number; bodyStart: number; end: number }
  | { ok: false; reason: "unused" | "short" | "bad_type" | "bad_length" | "bad_checksum" };

/**
 * Check the record at `pos` in `buf` (valid bytes end at `limit`). `verifyChecksum`
 * false is for records inside a TXN, whose bytes the TXN's own checksum already covered.
 */
export function checkFrame(buf: Buffer, pos: number, limit: number, verifyChecksum = true): FrameCheck {
  if (pos + RECORD_HEADER_BYTES > limit) return { ok: false, reason: "short" };
  const length = buf.readUInt32LE(pos);
  const type = buf[pos + 4];
  if (type === RECORD_UNUSED) return { ok: false, reason: length === 0 ? "unused" : "bad_type" };
  if (type > MAX_RECORD_TYPE) return { ok: false, reason: "bad_type" };
  const bodyStart = pos + RECORD_HEADER_BYTES;
  const end = bodyStart + length;
  if (end > limit) return { ok: false, reason: "bad_length" };
  if (!verifyChecksum) return { ok: true, type, bodyStart, end };
  const expected = buf.readUInt32LE(pos + 5);
  const actual = crc32(buf.subarray(bodyStart, end), TYPE_CRC[type]);
  if (actual !== expected) return { ok: false, reason: "bad_checksum" };
  return { ok: true, type, bodyStart, end };
}

/** Encode job meta, optionally followed by payload bytes (a JOB body when present). */
export function encodeJobBody(meta: JobMeta, payload?: Buffer): Buffer {
  return writeJobBody(meta, payload, 0);
}

/**
 * A framed JOB or META record, encoded in place: one buffer a job, where framing an
 * encoded body allocated and copied it twice (every insert, ack and compaction copy).
 */
export function encodeJobRecord(type: number, meta: JobMeta, payload?: Buffer): Buffer {
  return sealRecord(writeJobBody(meta, payload, RECORD_HEADER_BYTES), type);
}

/** The job body, after `at` bytes of room. */
function writeJobBody(meta: JobMeta, payload: Buffer | undefined, at: number): Buffer {
  const options = packedOptions(meta);
  const buf = Buffer.allocUnsafe(at + jobBodyBytes(meta, options, payload));
  writeJobBodyAt(buf, at, meta, options, payload);
  return buf;
}

/** The options as a job body holds them: packed, or undefined when absent or empty. */
function packedOptions(meta: JobMeta): Buffer | undefined {
  return meta.options && Object.keys(meta.options).length > 0 ? packValue(meta.options) : undefined;
}

/** Bytes of the job body writeJobBodyAt writes. */
function jobBodyBytes(meta: JobMeta, options: Buffer | undefined, payload: Buffer | undefined): number {
  return META_FIXED_BYTES + Buffer.byteLength(meta.queue) + Buffer.byteLength(meta.type) + (options ? options.length : 0) + (payload ? payload.length : 0);
}

/** Writes the job body at buf[at..] (jobBodyBytes long). */
function writeJobBodyAt(buf: Buffer, at: number, meta: JobMeta, options: Buffer | undefined, payload: Buffer | undefined): void {
  const queueLen = Buffer.byteLength(meta.queue);
  const typeLen = Buffer.byteLength(meta.type);
  const optionsLen = options ? options.length : 0;
  // The fields below are plain byte stores, which would truncate what writeUInt16LE and
  // writeUInt32LE refused: no caller passes such values (the queue validates them), but a
  // record must never say something else than its meta.
  if (meta.priority >>> 0 !== meta.priority || meta.priority > 0xffff || meta.attempts >>> 0 !== meta.attempts || queueLen > 0xffff || typeLen > 0xffff) {
    throw new RangeError(`job ${meta.id}: priority, attempts or a name out of the record's range`);
  }
  (buf as unknown as FastWrites).latin1Write(meta.id, at, ID_BYTES);
  buf[at + 25] = meta.status;
  let flags = 0;
  if (meta.dequeuedAtMs !== undefined) flags |= FLAG_DEQUEUED_AT;
  if (meta.failedAtMs !== undefined) flags |= FLAG_FAILED_AT;
  if (meta.completedAtMs !== undefined) flags |= FLAG_COMPLETED_AT;
  if (meta.purgeAtMs !== undefined) flags |= FLAG_PURGE_AT;
  buf[at + 26] = flags;
  buf[at + 27] = meta.priority;
  buf[at + 28] = meta.priority >>> 8;
  writeU32(buf, at + 29, meta.attempts);
  buf.writeDoubleLE(meta.readyAtMs, at + 33);
  buf.writeDoubleLE(meta.dequeuedAtMs ?? 0, at + 41);
  buf.writeDoubleLE(meta.failedAtMs ?? 0, at + 49);
  buf.writeDoubleLE(meta.completedAtMs ?? 0, at + 57);
  buf.writeDoubleLE(meta.purgeAtMs ?? 0, at + 65);
  buf[at + 73] = queueLen;
  buf[at + 74] = queueLen >>> 8;
  buf[at + 75] = typeLen;
  buf[at + 76] = typeLen >>> 8;
  writeU32(buf, at + 77, optionsLen);
  let pos = at + META_FIXED_BYTES;
  pos += (buf as unknown as FastWrites).utf8Write(meta.queue, pos);
  pos += (buf as unknown as FastWrites).utf8Write(meta.type, pos);
  if (options) pos += options.copy(buf, pos);
  if (payload) payload.copy(buf, pos);
}

/**
 * A TXN record holding one framed JOB record per job, byte for byte what framing each
 * with encodeJobRecord and grouping them (Store.appendGroup) gives, but written in place:
 * one buffer a group, where that allocated a buffer per job and then copied it into the
 * group's (a bulk enqueue's 1,000 jobs). `starts[i]` gets where job i's record starts in
 * the result, starts[jobs.length] where the last one ends.
 * Requires: starts.length > jobs.length.
 */
export function encodeJobGroup(jobs: readonly { meta: JobMeta; payload: Buffer }[], starts: Uint32Array): Buffer {
  // Options are packed once, here, and kept for the write (nearly always none).
  let packed: (Buffer | undefined)[] | undefined;
  let bytes = RECORD_HEADER_BYTES;
  for (let i = 0; i < jobs.length; i++) {
    const options = packedOptions(jobs[i].meta);
    if (options) (packed ??= [])[i] = options;
    starts[i] = bytes;
    bytes += RECORD_HEADER_BYTES + jobBodyBytes(jobs[i].meta, options, jobs[i].payload);
  }
  starts[jobs.length] = bytes;
  const txn = Buffer.allocUnsafe(bytes);
  for (let i = 0; i < jobs.length; i++) {
    const start = starts[i];
    writeJobBodyAt(txn, start + RECORD_HEADER_BYTES, jobs[i].meta, packed?.[i], jobs[i].payload);
    sealRecordAt(txn, start, starts[i + 1], RECORD_JOB);
  }
  return sealRecord(txn, RECORD_TXN);
}

/** sealRecord for the record at buf[start, end). */
function sealRecordAt(buf: Buffer, start: number, end: number, type: number): void {
  writeU32(buf, start, end - start - RECORD_HEADER_BYTES);
  buf[start + 4] = type;
  writeU32(buf, start + 5, crc32(buf.subarray(start + RECORD_HEADER_BYTES, end), TYPE_CRC[type]));
}

/** Bytes `options` take in a job record, as writeJobBody packs them (0: absent or empty). */
export function packedOptionsBytes(options: Record<string, unknown> | undefined): number {
  return options && Object.keys(options).length > 0 ? packValue(options).length : 0;
}

// The two readers below run per job on every enqueue (the completion reserve, _reserve.ts):
// plain byte reads, ~5 ns a job where readUInt16LE/readUInt32LE took ~40 (their argument
// checks); the offsets are always in range, the record having been just written or checked.

/** Of the job body (JOB or META) at `start`: the UTF-8 bytes of its queue and type names. */
export function jobNameBytes(buf: Buffer, start: number): number {
  return (buf[start + 73] | (buf[start + 74] << 8)) + (buf[start + 75] | (buf[start + 76] << 8));
}

/** Of the job body (JOB or META) at `start`: the bytes of its packed options. */
export function jobOptionsBytes(buf: Buffer, start: number): number {
  return (buf[start + 77] | (buf[start + 78] << 8) | (buf[start + 79] << 16)) + buf[start + 80] * 0x1000000;
}

/** Decode job meta at `start`; returns the meta and where the payload (if any) starts. */
export function decodeJobBody(buf: Buffer, start: number, end: number): { meta: JobMeta; payloadStart: number } {
  if (end - start < META_FIXED_BYTES) throw new RangeError("job meta too short");
  const flags = buf[start + 26];
  const queueLen = buf.readUInt16LE(start + 73);
  const typeLen = buf.readUInt16LE(start + 75);
  const optionsLen = buf.readUInt32LE(start + 77);
  let pos = start + META_FIXED_BYTES;
  if (pos + queueLen + typeLen + optionsLen > end) throw new RangeError("job meta lengths overrun the record");
  const meta: JobMeta = {
    id: latin1(buf, start, start + ID_BYTES),
    status: buf[start + 25],
    priority: buf.readUInt16LE(start + 27),
    attempts: buf.readUInt32LE(start + 29),
    readyAtMs: buf.readDoubleLE(start + 33),
    queue: utf8(buf, pos, pos + queueLen),
    type: utf8(buf, pos + queueLen, pos + queueLen + typeLen),
  };
  if (flags & FLAG_DEQUEUED_AT) meta.dequeuedAtMs = buf.readDoubleLE(start + 41);
  if (flags & FLAG_FAILED_AT) meta.failedAtMs = buf.readDoubleLE(start + 49);
  if (flags & FLAG_COMPLETED_AT) meta.completedAtMs = buf.readDoubleLE(start + 57);
  if (flags & FLAG_PURGE_AT) meta.purgeAtMs = buf.readDoubleLE(start + 65);
  pos += queueLen + typeLen;
  if (optionsLen > 0) meta.options = unpackValue(buf.subarray(pos, pos + optionsLen)) as Record<string, unknown>;
  return { meta, payloadStart: pos + optionsLen };
}

export function encodeIds(ids: readonly string[]): Buffer {
  const buf = Buffer.allocUnsafe(ids.length * ID_BYTES);
  for (let i = 0; i < ids.length; i++) buf.write(ids[i], i * ID_BYTES, ID_BYTES, "latin1");
  return buf;
}

/** Throws unless [start, end) can hold whole ids (a DELETE body). */
export function checkIdList(start: number, end: number): void {
  if ((end - start) % ID_BYTES !== 0) throw new RangeError("id list length is not a multiple of 25");
}

export function decodeIds(buf: Buffer, start: number, end: number): string[] {
  checkIdList(start, end);
  const ids: string[] = [];
  for (let pos = start; pos < end; pos += ID_BYTES) ids.push(latin1(buf, pos, pos + ID_BYTES));
  return ids;
}

export function encodeErrorBody(id: string, attempt: number, record: unknown): Buffer {
  const packed = packValue(record);
  const buf = Buffer.allocUnsafe(ID_BYTES + 4 + packed.length);
  buf.write(id, 0, ID_BYTES, "latin1");
  buf.writeUInt32LE(attempt, ID_BYTES);
  packed.copy(buf, ID_BYTES + 4);
  return buf;
}

export function decodeErrorHead(buf: Buffer, start: number): { id: string; attempt: number } {
  return { id: latin1(buf, start, start + ID_BYTES), attempt: buf.readUInt32LE(start + ID_BYTES) };
}

export function decodeErrorRecord(buf: Buffer, start: number, end: number): unknown {
  return unpackValue(buf.subarray(start + ID_BYTES + 4, end));
}

export function encodeBlobBody(namespace: number, key: string, value?: Buffer): Buffer {
  const keyLen = Buffer.byteLength(key);
  const buf = Buffer.allocUnsafe(3 + keyLen + (value?.length ?? 0));
  buf[0] = namespace;
  buf.writeUInt16LE(keyLen, 1);
  buf.write(key, 3, "utf8");
  if (value) value.copy(buf, 3 + keyLen);
  return buf;
}

export function decodeBlobBody(buf: Buffer, start: number, end: number): { namespace: number; key: string; valueStart: number } {
  const keyLen = buf.readUInt16LE(start + 1);
  if (start + 3 + keyLen > end) throw new RangeError("blob key overruns the record");
  return { namespace: buf[start], key: utf8(buf, start + 3, start + 3 + keyLen), valueStart: start + 3 + keyLen };
}
