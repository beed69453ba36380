// The checkpoint file's bytes (docs/format.md, "Checkpoint"): a header naming the log
// position it covers, then chunks of job-table columns, a blob chunk and an end chunk,
// each framed like a log record (length, kind, CRC-32). Pure functions over Buffers.
//
// Why columns: the loader copies each column into the table's typed arrays with one
// memcpy per chunk; a row format would cost a decode per field per job (10M jobs).

import { crc32 } from "node:zlib";
import { frameRecord, packValue, sealRecord, unpackValue } from "./codec.ts";
import { RECORD_HEADER_BYTES } from "./format.ts";
import type { ErrorLocation, JobTable, SlotExtras } from "./job-table.ts";
import type { BlobEntry } from "./replay.ts";

export const CHECKPOINT_MAGIC = Buffer.from("ZIZQCKP1", "latin1");
export const CHECKPOINT_VERSION = 1;
export const CHECKPOINT_HEADER_BYTES = 64;
export const CHUNK_JOBS = 1;
export const CHUNK_BLOBS = 2;
export const CHUNK_END = 3;

/** Where the checkpoint stands in the log, and how to recognise that log again. */
export interface CheckpointHeader {
  /** Every record before (segment, offset) is in the checkpoint; replay starts here. */
  segment: number;
  offset: number;
  /** The CRC field of that segment's header (it covers the segment number and creation time). */
  segmentCrc: number;
  /** CRC-32 of the `tailBytes` bytes of that segment just before `offset`. */
  tailCrc: number;
  tailBytes: number;
  createdAtMs: number;
}

export function encodeHeader(h: CheckpointHeader): Buffer {
  const b = Buffer.alloc(CHECKPOINT_HEADER_BYTES);
  CHECKPOINT_MAGIC.copy(b, 0);
  b.writeUInt16LE(CHECKPOINT_VERSION, 8);
  b.writeUInt32LE(h.segment, 12);
  b.writeUInt32LE(h.offset, 16);
  b.writeUInt32LE(h.segmentCrc, 20);
  b.writeUInt32LE(h.tailCrc, 24);
  b.writeUInt32LE(h.tailBytes, 28);
  b.writeDoubleLE(h.createdAtMs, 32);
  b.writeUInt32LE(crc32(b.subarray(0, 60)), 60);
  return b;
}

export function decodeHeader(b: Buffer): CheckpointHeader | string {
  if (b.length < CHECKPOINT_HEADER_BYTES || !b.subarray(0, 8).equals(CHECKPOINT_MAGIC)) return "no checkpoint header";
  if (b.readUInt32LE(60) !== crc32(b.subarray(0, 60))) return "bad header checksum";
  if (b.readUInt16LE(8) !== CHECKPOINT_VERSION) return `unknown checkpoint version ${b.readUInt16LE(8)}`;
  return {
    segment: b.readUInt32LE(12), offset: b.readUInt32LE(16), segmentCrc: b.readUInt32LE(20),
    tailCrc: b.readUInt32LE(24), tailBytes: b.readUInt32LE(28), createdAtMs: b.readDoubleLE(32),
  };
}

/** Verify the chunk framed at `pos`: its kind, body range and end, or undefined when damaged. */
export function checkChunk(buf: Buffer, pos: number): { kind: number; body: Buffer; end: number } | undefined {
  if (pos + RECORD_HEADER_BYTES > buf.length) return undefined;
  const end = pos + RECORD_HEADER_BYTES + buf.readUInt32LE(pos);
  if (end > buf.length) return undefined;
  const crc = crc32(buf.subarray(pos + RECORD_HEADER_BYTES, end), crc32(buf.subarray(pos + 4, pos + 5)));
  if (crc !== buf.readUInt32LE(pos + 5)) return undefined;
  return { kind: buf[pos + 4], body: buf.subarray(pos + RECORD_HEADER_BYTES, end), end };
}

/** Bytes of one job in a chunk: id words, status, priority, attempts, queue, type, two stamps, location. */
const JOB_BYTES = 16 + 1 + 2 + 4 + 4 + 4 + 8 + 8 + 4 + 4 + 4 + 4;

/** Column views of a typed array's bytes. */
const bytesOf = (a: ArrayBufferView, from: number, count: number, width: number): Buffer =>
  Buffer.from(a.buffer, a.byteOffset + from * width, count * width);

type Extra = [number, Record<string, unknown> | undefined, number | undefined, number | undefined, number | undefined, number[] | undefined];

/**
 * One chunk of live jobs from `slots` (any order; freed slots are skipped). Built
 * synchronously from the table as it is now: the caller yields between chunks.
 */
export function encodeJobsChunk(t: JobTable, slots: Int32Array): Buffer {
  const live: number[] = [];
  for (const s of slots) if (t.status[s] !== 255) live.push(s);
  const n = live.length;
  const names = { queue: new Map<number, number>(), type: new Map<number, number>() };
  const local = (m: Map<number, number>, i: number): number => {
    let l = m.get(i);
    if (l === undefined) m.set(i, (l = m.size));
    return l;
  };
  // Each column is gathered into a typed array and copied in whole: ~5× less CPU than
  // a Buffer write per field (a 10M-job checkpoint was ~2 s of CPU). Typed arrays are in
  // the machine's byte order and the format is little-endian: like applyJobsChunk, which
  // copies columns straight into the table, this assumes a little-endian machine.
  const { idw, status, priority, attempts, queue, type, readyAt, dequeuedAt, paySeg, payOff, payLen, recOff } = scratch.columns(n);
  // Runs of one queue or type are the rule: look the name up only when it changes.
  let lastQ = -1;
  let localQ = 0;
  let lastT = -1;
  let localT = 0;
  for (let i = 0; i < n; i++) {
    const s = live[i];
    idw[i * 4] = t.idw[s * 4];
    idw[i * 4 + 1] = t.idw[s * 4 + 1];
    idw[i * 4 + 2] = t.idw[s * 4 + 2];
    idw[i * 4 + 3] = t.idw[s * 4 + 3];
    status[i] = t.status[s];
    priority[i] = t.priority[s];
    attempts[i] = t.attempts[s];
    if (t.queue[s] !== lastQ) localQ = local(names.queue, (lastQ = t.queue[s]));
    queue[i] = localQ;
    if (t.type[s] !== lastT) localT = local(names.type, (lastT = t.type[s]));
    type[i] = localT;
    readyAt[i] = t.readyAt[s];
    dequeuedAt[i] = t.dequeuedAt[s];
    paySeg[i] = t.paySeg[s];
    payOff[i] = t.payOff[s];
    payLen[i] = t.payLen[s];
    recOff[i] = t.recOff[s];
  }
  const extras: Extra[] = [];
  if (t.extras.size > 0) {
    for (let i = 0; i < n; i++) {
      const x = t.extras.get(live[i]);
      if (x) {
        const errors = x.errors?.flatMap((e) => [e.attempt, e.segment, e.offset, e.length]);
        extras.push([i, x.options, x.failedAtMs, x.completedAtMs, x.purgeAtMs, errors]);
      }
    }
  }
  const tail = packValue([
    [...names.queue.keys()].map((i) => t.queues.name(i)),
    [...names.type.keys()].map((i) => t.types.name(i)),
    extras,
  ]);
  // The framed chunk in one buffer: columns, then the tail. (Framing a concat of a body
  // and the tail allocated ~15 buffers a chunk, ~70k per 10M-job checkpoint, and each
  // one fed the GC: loop stalls while a checkpoint ran beside a bulk delete.)
  const frame = Buffer.allocUnsafe(RECORD_HEADER_BYTES + 4 + n * JOB_BYTES + tail.length);
  let at = RECORD_HEADER_BYTES;
  frame.writeUInt32LE(n, at);
  at += 4;
  for (const a of [idw, status, priority, attempts, queue, type, readyAt, dequeuedAt, paySeg, payOff, payLen, recOff]) {
    frame.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
    at += a.byteLength;
  }
  tail.copy(frame, at);
  return sealRecord(frame, CHUNK_JOBS);
}

/**
 * Column arrays reused from chunk to chunk (encodeJobsChunk is synchronous, so one set
 * serves every checkpoint), grown to the largest chunk seen.
 */
class ChunkColumns {
  private capacity = 0;
  private cols = this.make(0);

  columns(n: number): ReturnType<ChunkColumns["make"]> {
    if (n > this.capacity) {
      this.capacity = Math.max(n, this.capacity * 2);
      this.cols = this.make(this.capacity);
    }
    const c = this.cols;
    return {
      idw: c.idw.subarray(0, n * 4), status: c.status.subarray(0, n), priority: c.priority.subarray(0, n),
      attempts: c.attempts.subarray(0, n), queue: c.queue.subarray(0, n), type: c.type.subarray(0, n),
      readyAt: c.readyAt.subarray(0, n), dequeuedAt: c.dequeuedAt.subarray(0, n), paySeg: c.paySeg.subarray(0, n),
      payOff: c.payOff.subarray(0, n), payLen: c.payLen.subarray(0, n), recOff: c.recOff.subarray(0, n),
    };
  }

  private make(n: number) {
    return {
      idw: new Uint32Array(n * 4), status: new Uint8Array(n), priority: new Uint16Array(n), attempts: new Uint32Array(n),
      queue: new Uint32Array(n), type: new Uint32Array(n), readyAt: new Float64Array(n), dequeuedAt: new Float64Array(n),
      paySeg: new Uint32Array(n), payOff: new Uint32Array(n), payLen: new Uint32Array(n), recOff: new Uint32Array(n),
    };
  }
}

const scratch = new ChunkColumns();

/** Apply a jobs chunk to a table being rebuilt (indexes off). False if it does not decode. */
export function applyJobsChunk(t: JobTable, body: Buffer): boolean {
  if (body.length < 4) return false;
  const n = body.readUInt32LE(0);
  if (4 + n * JOB_BYTES > body.length) return false;
  let at = 4;
  const col = (width: number): number => { const c = at; at += n * width; return c; };
  const c = {
    idw: col(16), status: col(1), priority: col(2), attempts: col(4), queue: col(4), type: col(4),
    readyAt: col(8), dequeuedAt: col(8), paySeg: col(4), payOff: col(4), payLen: col(4), recOff: col(4),
  };
  const [queueNames, typeNames, extras] = unpackValue(body.subarray(at)) as [string[], string[], Extra[]];
  if (!Array.isArray(queueNames) || !Array.isArray(typeNames) || !Array.isArray(extras)) return false;
  const base = t.reserveSlots(n);
  if (base < 0) return false;
  body.copy(bytesOf(t.idw, base * 4, n * 4, 4), 0, c.idw, c.idw + n * 16);
  body.copy(bytesOf(t.status, base, n, 1), 0, c.status, c.status + n);
  body.copy(bytesOf(t.priority, base, n, 2), 0, c.priority, c.priority + n * 2);
  body.copy(bytesOf(t.attempts, base, n, 4), 0, c.attempts, c.attempts + n * 4);
  body.copy(bytesOf(t.readyAt, base, n, 8), 0, c.readyAt, c.readyAt + n * 8);
  body.copy(bytesOf(t.dequeuedAt, base, n, 8), 0, c.dequeuedAt, c.dequeuedAt + n * 8);
  body.copy(bytesOf(t.paySeg, base, n, 4), 0, c.paySeg, c.paySeg + n * 4);
  body.copy(bytesOf(t.payOff, base, n, 4), 0, c.payOff, c.payOff + n * 4);
  body.copy(bytesOf(t.payLen, base, n, 4), 0, c.payLen, c.payLen + n * 4);
  body.copy(bytesOf(t.recOff, base, n, 4), 0, c.recOff, c.recOff + n * 4);
  const queues = new Uint32Array(n);
  const types = new Uint32Array(n);
  bytesOf(queues, 0, n, 4).set(body.subarray(c.queue, c.queue + n * 4));
  bytesOf(types, 0, n, 4).set(body.subarray(c.type, c.type + n * 4));
  for (let i = 0; i < n; i++) if (queues[i] >= queueNames.length || types[i] >= typeNames.length) return false;
  t.restoreSlots(base, n, queueNames, queues, typeNames, types);
  for (const [i, options, failedAtMs, completedAtMs, purgeAtMs, errors] of extras) {
    const x: SlotExtras = {};
    if (options != null) x.options = options;
    if (failedAtMs != null) x.failedAtMs = failedAtMs;
    if (completedAtMs != null) x.completedAtMs = completedAtMs;
    if (purgeAtMs != null) x.purgeAtMs = purgeAtMs;
    if (errors) {
      const list: ErrorLocation[] = [];
      for (let k = 0; k + 3 < errors.length; k += 4) {
        list.push({ attempt: errors[k], segment: errors[k + 1], offset: errors[k + 2], length: errors[k + 3] });
      }
      x.errors = list;
    }
    t.extras.set(base + i, x);
  }
  return true;
}

export function encodeBlobsChunk(blobs: Map<string, BlobEntry>): Buffer {
  const list = [...blobs].map(([key, b]) => [key, b.value, b.segment, b.offset, b.length]);
  return frameRecord(CHUNK_BLOBS, packValue(list));
}

export function applyBlobsChunk(blobs: Map<string, BlobEntry>, body: Buffer): boolean {
  const list = unpackValue(body) as [string, Uint8Array, number, number, number][];
  if (!Array.isArray(list)) return false;
  for (const [key, value, segment, offset, length] of list) {
    blobs.set(key, { value: Buffer.from(value), segment, offset, length });
  }
  return true;
}

/** The last chunk: how many jobs and chunks came before it (a cut file lacks it). */
export function encodeEnd(jobs: number, chunks: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeDoubleLE(jobs, 0);
  b.writeUInt32LE(chunks, 8);
  return frameRecord(CHUNK_END, b);
}
