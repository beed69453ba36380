// Shared bits for the storage tests: deterministic ids, job metas and payloads, a seeded
// PRNG, and a reader that lists the framed records of a segment file.

import fs from "node:fs";
import path from "node:path";
import { type JobMeta, checkFrame } from "../../lib/storage/codec.ts";
import { SEGMENT_HEADER_BYTES } from "../../lib/storage/format.ts";
import type { NewJob, Store } from "../../lib/storage/store.ts";

/** A 25-char id that sorts like `n` (ascending zero-padded number). */
export const makeId = (n: number): string => String(n).padStart(25, "0");

export const T0 = 1_700_000_000_000;

export function readyMeta(n: number, over: Partial<JobMeta> = {}): JobMeta {
  return { id: makeId(n), status: 1, priority: 0, attempts: 0, readyAtMs: T0, queue: "default", type: "work", ...over };
}

export const payloadFor = (n: number, pad = 0): Buffer => Buffer.from(JSON.stringify({ n, pad: "x".repeat(pad) }));

export const newJob = (n: number, over: Partial<JobMeta> = {}, pad = 0): NewJob => ({ meta: readyMeta(n, over), payload: payloadFor(n, pad) });

export { prng } from "./random.ts";

export const segmentPath = (dir: string, no: number): string => path.join(dir, "segments", `${String(no).padStart(8, "0")}.seg`);

export function segmentNumbers(dir: string): number[] {
  return fs.readdirSync(path.join(dir, "segments"))
    .filter((n) => /^\d{8}\.seg$/.test(n)).map((n) => Number(n.slice(0, 8))).sort((a, b) => a - b);
}

export interface RecordSpan {
  offset: number;
  end: number;
  type: number;
}

/** The framed records of a segment file, in order, up to the first invalid frame. */
export function recordsOf(file: string): RecordSpan[] {
  const buf = fs.readFileSync(file);
  const out: RecordSpan[] = [];
  for (let pos = SEGMENT_HEADER_BYTES; ;) {
    const frame = checkFrame(buf, pos, buf.length);
    if (!frame.ok) return out;
    out.push({ offset: pos, end: frame.end, type: frame.type });
    pos = frame.end;
  }
}

/** Live ids of a store, sorted. */
export const liveIds = (store: Store): string[] => [...store.table.slotById.values()].map((s) => idAt(store, s)).sort();

/** The id of the job in a slot (through meta(): the table's id storage is its own business). */
export const idAt = (store: Store, slot: number): string => store.table.meta(slot).id;

/** A slot by id, failing loudly when the job is missing. */
export function slotOf(store: Store, id: string): number {
  const slot = store.table.slotById.get(id);
  if (slot === undefined) throw new Error(`job ${id} is missing`);
  return slot;
}

/** Everything a reopen rebuilds, in a comparable shape. */
export function dumpStore(store: Store): unknown {
  const t = store.table;
  const jobs = liveIds(store).map((id) => {
    const slot = slotOf(store, id);
    return {
      meta: t.meta(slot), location: t.location(slot), payload: store.payload(slot).toString(),
      errors: store.errors(slot), errorAt: t.extras.get(slot)?.errors?.map((e) => ({ ...e })),
    };
  });
  const blobs = [...store.blobs].map(([k, b]) => [k, b.value.toString(), b.segment, b.offset, b.length]).sort();
  const queues = t.queues.sorted().map((q) => [q, t.ready[t.queues.lookup(q)!]?.size ?? 0]);
  return { jobs, blobs, queues, counts: [...t.statusCounts], live: t.liveRecordBytes, size: t.size, scheduled: t.nextDueMs() };
}
