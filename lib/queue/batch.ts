// Open batches (API.md §4.4): batch key → the id of the ready job that later batched
// enqueues fold into. A batch closes when its job is taken (no longer ready) or when
// `when` says no (sealed: the incoming enqueue becomes the new open batch).

import { STATUS_READY } from "../storage/format.ts";
import type { JobTable } from "../storage/job-table.ts";
import { optionSlotsInIdOrder, optionsOf } from "./job.ts";

export class BatchIndex {
  private readonly open = new Map<string, string>();
  /**
   * Where setOpen's sweep stands in `open`. A key leaves the map when it is next enqueued;
   * keys never used again (one per order, say) stayed for good, ~115 bytes each. So each
   * setOpen looks at the next two keys in turn round the map and drops them if closed:
   * the map stays within about twice the open batches, and no call does more than two
   * lookups (a sweep of the whole map at once held the loop 271 ms at 200k keys).
   */
  private sweeper: Iterator<string> | undefined;

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

  /** Requires: job `id` is in `table`, ready. */
  setOpen(table: JobTable, key: string, id: string): void {
    this.open.set(key, id);
    for (let i = 0; i < 2; i++) {
      this.sweeper ??= this.open.keys(); // a Map iterator survives deletes and sees inserts
      const next = this.sweeper.next();
      if (next.done) {
        this.sweeper = undefined;
        return;
      }
      this.openSlot(table, next.value);
    }
  }

  /** Job `id` is no longer `key`'s open batch (a retried batch job: retry.ts). */
  closeIfOpen(key: string, id: string): void {
    if (this.open.get(key) === id) this.open.delete(key);
  }

  clear(): void {
    this.open.clear();
    this.sweeper = undefined;
  }

  /** After recovery: the newest ready batched job of each key is its open batch, unless it was sealed. */
  rebuild(table: JobTable): void {
    this.clear();
    for (const slot of optionSlotsInIdOrder(table)) {
      if (table.status[slot] !== STATUS_READY) continue;
      const options = optionsOf(table, slot);
      if (options.batch === undefined) continue;
      if (options.batch_sealed) this.open.delete(options.batch.key); // a newer job sealed it
      else this.open.set(options.batch.key, table.idOf(slot));
    }
  }
}
