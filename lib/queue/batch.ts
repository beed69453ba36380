// Open batches (API.md §4.4): batch key → the id of the ready job that later batched
// enqueues fold into. A batch closes when its job is taken (no longer ready) or when
// `when` says no (sealed: the incoming enqueue becomes the new open batch).

import { STATUS_READY } from "../storage/format.ts";
import type { JobTable } from "../storage/job-table.ts";
import { optionSlotsInIdOrder, optionsOf } from "./job.ts";

export class BatchIndex {
  private readonly open = new Map<string, string>();
  /**
   * Size at which setOpen sweeps out closed batches. A key leaves the map when it is next
   * enqueued; keys never used again (one per order, say) stayed for good, ~115 bytes each.
   * Sweeping when the map doubles keeps it within twice the open batches, at O(1) a call.
   */
  private sweepAt = 1024;

  /** The open batch job's slot for `key`, or -1. */
  openSlot(table: JobTable, key: string): number {
    const id = this.open.get(key);
    const slot = id === undefined ? undefined : table.slotById.get(id);
    if (slot === undefined || table.status[slot] !== STATUS_READY) {
      if (id !== undefined) this.open.delete(key);
      return -1;
    }
    return slot;
  }

  setOpen(table: JobTable, key: string, id: string): void {
    this.open.set(key, id);
    if (this.open.size < this.sweepAt) return;
    for (const [k, openId] of this.open) {
      const slot = table.slotById.get(openId);
      if (slot === undefined || table.status[slot] !== STATUS_READY) this.open.delete(k);
    }
    this.sweepAt = Math.max(1024, 2 * this.open.size);
  }

  clear(): void {
    this.open.clear();
  }

  /** After recovery: the newest ready batched job of each key is its open batch. */
  rebuild(table: JobTable): void {
    this.open.clear();
    for (const slot of optionSlotsInIdOrder(table)) {
      if (table.status[slot] !== STATUS_READY) continue;
      const batch = optionsOf(table, slot).batch;
      if (batch) this.open.set(batch.key, table.idOf(slot));
    }
  }
}
