// The job table's memory layout: every column (ids, states, payload places, links, the id
// order) a view into one ArrayBuffer, moved into a larger one when the table grows.
// Runs only on growth (JobTable.grow, JobTable.reserve).

import { STATUS_FREE } from "./format.ts";
import type { IdOrder } from "./id-order.ts";
import type { JobTable } from "./job-table.ts";

/** Bytes a slot takes over all columns (layOutColumns checks the sum). */
const SLOT_BYTES = 8 + 8 + 16 + 4 * 12 + 2 + 1;

/**
 * Every column is a view into one ArrayBuffer, widest first (for alignment). Why one:
 * from ~400k slots it is above glibc's largest mmap threshold (32 MiB), so it is
 * mmapped and goes back to the OS when a grow frees it. Sixteen separate columns of
 * 1–32 MiB came from malloc's heap instead, whose holes stayed resident
 * (bench/table-memory.ts; docs/decisions.md, "Job table").
 */
export function layOutColumns(t: JobTable, order: IdOrder, cap: number): void {
  const buffer = new ArrayBuffer(cap * SLOT_BYTES);
  let at = 0;
  type Column = Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array;
  const moved = <T extends Column>(old: T, perSlot = 1, fill?: number): T => {
    const b = new (old.constructor as new (buf: ArrayBuffer, offset: number, length: number) => T)(buffer, at, cap * perSlot);
    at += b.byteLength;
    b.set(old);
    if (fill !== undefined) b.fill(fill, old.length);
    return b;
  };
  t.readyAt = moved(t.readyAt);
  t.dequeuedAt = moved(t.dequeuedAt);
  t.idw = moved(t.idw, 4);
  t.attempts = moved(t.attempts);
  t.queue = moved(t.queue);
  t.type = moved(t.type);
  t.paySeg = moved(t.paySeg);
  t.payOff = moved(t.payOff);
  t.payLen = moved(t.payLen);
  t.recOff = moved(t.recOff);
  t.next = moved(t.next, 1, -1);
  t.prev = moved(t.prev, 1, -1);
  // Not filled with -1: ScheduledHeap.remove checks that the heap holds the slot at the
  // position it reads, so a slot never pushed may read 0. Filling it touched 4 bytes a
  // slot of capacity that only scheduled jobs use (42 MB resident at a 10M load).
  t.heapPos = moved(t.heapPos);
  t.gen = moved(t.gen);
  order.slots = moved(order.slots);
  t.priority = moved(t.priority);
  t.status = moved(t.status, 1, STATUS_FREE);
  if (at !== buffer.byteLength) throw new Error(`job table layout: ${at} of ${buffer.byteLength} bytes`);
  t.capacity = cap;
}
