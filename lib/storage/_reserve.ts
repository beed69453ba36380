// The completion reserve: the bytes kept on the disk per live job so that its end (its
// completion and its delete) is written even when the disk is full. Arithmetic only:
// what a record or a table slot reserves; LogWriter.reservedBytes holds the running sum,
// and the store's write paths move it.

import { jobNameBytes, jobOptionsBytes, packedOptionsBytes } from "./codec.ts";
import { ID_BYTES, META_FIXED_BYTES, RECORD_HEADER_BYTES } from "./format.ts";
import type { JobTable } from "./job-table.ts";

/**
 * Bytes kept per live job (LogWriter.ensureRoom) so that its end is written even on a
 * full disk: its completion META exactly as an ack encodes it (the fixed meta, the UTF-8
 * names, the packed options), the DELETE that later removes it (an ack without
 * retention, or the reap of a job kept as completed or dead) and a TXN header's worth (a
 * bulk ack's group). It used to be 154 bytes + 3 per name character, which left ~64
 * bytes for options: acks of jobs with a long unique_key, budget bindings or batch
 * options overran it on a full disk, and then every write failed, acks included.
 * Invariant: writer.reservedBytes = the sum of reserveOf() over live jobs, plus the
 * reserve of inserts in flight; a change of a job's names or options moves it (applyMeta).
 */
const RESERVE_BASE_BYTES = RECORD_HEADER_BYTES + META_FIXED_BYTES + (RECORD_HEADER_BYTES + ID_BYTES) + RECORD_HEADER_BYTES;

/** The reserve of a job about to be written as `frame` (a framed JOB or META record): read off its header, no packing. */
export function reserveForRecord(frame: Buffer): number {
  return reserveForRecordAt(frame, 0);
}

/** reserveForRecord of the record at buf[start..]. */
export function reserveForRecordAt(buf: Buffer, start: number): number {
  return RESERVE_BASE_BYTES + jobNameBytes(buf, start + RECORD_HEADER_BYTES) + jobOptionsBytes(buf, start + RECORD_HEADER_BYTES);
}

/** A live job's reserve as the table holds it; equals reserveForRecord() of the record that set its state. */
export function reserveOf(t: JobTable, slot: number): number {
  return RESERVE_BASE_BYTES + t.queues.bytes(t.queue[slot]) + t.types.bytes(t.type[slot]) + optionsBytesOf(t, slot);
}

/**
 * Packed bytes of a job's options: known from the record that carried them, else (a
 * table from a checkpoint) packed once and kept with them.
 */
export function optionsBytesOf(t: JobTable, slot: number): number {
  const e = t.extras.get(slot);
  if (e?.options === undefined) return 0;
  return (e.optionsBytes ??= packedOptionsBytes(e.options));
}

/** reserveOf() summed over every live job: names by index (no string per job at 10M), options from the extras (live jobs only). */
export function reserveForAll(t: JobTable): number {
  const qBytes: number[] = [];
  const tBytes: number[] = [];
  let total = 0;
  t.forEachLive((slot) => {
    const q = t.queue[slot];
    const ty = t.type[slot];
    total += RESERVE_BASE_BYTES + (qBytes[q] ??= t.queues.bytes(q)) + (tBytes[ty] ??= t.types.bytes(ty));
  });
  for (const slot of t.extras.keys()) total += optionsBytesOf(t, slot);
  return total;
}

/** What the reserve of `slots` grows by (net) if they are written as `frames` (JOB or META records). */
export function reserveGrowth(t: JobTable, slots: readonly number[], frames: readonly Buffer[]): number {
  let growth = 0;
  for (let i = 0; i < slots.length; i++) growth += reserveForRecord(frames[i]) - reserveOf(t, slots[i]);
  return growth;
}
