// The job table's id order: its slots in ascending id order, freed slots included until
// the next compaction, kept sorted as jobs arrive so that a listing or a checkpoint never
// sorts a million entries. The array is a column of the table's buffer (JobTable.growTo).
//
// Invariant: a slot is listed at most once (the table reuses a freed slot only after
// compact() has dropped it), so the array never outgrows the table.

import { STATUS_FREE } from "./format.ts";
import type { JobTable } from "./job-table.ts";

export class IdOrder {
  /** The column: entries [0, length) are listed slots. */
  slots = new Int32Array(0);
  length = 0;
  sorted = true;
  /** Bumped whenever entries move (JobTable.orderMoves, for a checkpoint's copy). */
  moves = 0;
  /** Bumped whenever compact() drops freed slots. */
  epoch = 0;

  constructor(private readonly table: JobTable) {}

  /**
   * Keep the id-order array sorted as jobs arrive. New ids are the largest and append;
   * one that arrives late (two bulk enqueues finishing in the other order) is placed by
   * binary search, so a later listing never has to sort a million entries. During
   * replay (indexing off) late ids are common (compaction copies): append, sort once.
   */
  add(slot: number): void {
    // Never full: it lists each slot at most once (growTo sizes it with the table). A
    // write past its end would be dropped silently, so a broken invariant throws.
    if (this.length === this.slots.length) throw new Error("job table: id order array full");
    const t = this.table;
    const n = this.length++;
    if (n === 0 || t.compare(this.slots[n - 1], slot) < 0) {
      this.slots[n] = slot;
      return;
    }
    if (!t.indexing || !this.sorted) {
      this.slots[n] = slot;
      this.sorted = false;
      return;
    }
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (t.compare(this.slots[mid], slot) < 0) lo = mid + 1;
      else hi = mid;
    }
    this.slots.copyWithin(lo + 1, lo, n);
    this.slots[lo] = slot;
    this.moves++;
  }

  /** Drop freed slots (status FREE in `status`), sorting if needed. */
  compact(status: Uint8Array): void {
    let n = 0;
    for (let i = 0; i < this.length; i++) {
      const slot = this.slots[i];
      if (status[slot] !== STATUS_FREE) this.slots[n++] = slot;
    }
    this.length = n;
    this.epoch++;
    this.moves++;
    if (!this.sorted) {
      this.slots.subarray(0, n).sort((a, b) => this.table.compare(a, b));
      this.sorted = true;
    }
  }
}
