// A stack of slot numbers in fixed 64k-entry blocks. Why not a JS array: the job table's
// lists of freed slots reach millions after a mass delete, and a JS array that grows
// copies its whole backing store in one step (150 ms at 9M entries at 10M jobs, measured
// as a loop stall). Appending another stack adopts its full blocks and copies the rest.
// Invariant: only the last block may be partly filled. Adopting partial blocks as they
// were let them pile up: a busy store adopts its few hundred newly freed slots many times
// a minute, each time in a fresh 256 KB block, and pops drained only the top one. The
// soak grew ~9 MB of such blocks a minute, holding a few thousand slots.

const BLOCK = 1 << 16;

interface Block {
  slots: Int32Array;
  n: number;
}

export class SlotStack {
  private blocks: Block[] = [];
  length = 0;

  push(slot: number): void {
    let last = this.blocks[this.blocks.length - 1];
    if (last === undefined || last.n === BLOCK) {
      last = { slots: new Int32Array(BLOCK), n: 0 };
      this.blocks.push(last);
    }
    last.slots[last.n++] = slot;
    this.length++;
  }

  /** The most recently pushed slot still here; undefined when empty. */
  pop(): number | undefined {
    for (;;) {
      const last = this.blocks[this.blocks.length - 1];
      if (last === undefined) return undefined;
      if (last.n > 0) {
        this.length--;
        return last.slots[--last.n];
      }
      this.blocks.pop();
    }
  }

  /**
   * Move every slot of `other` here; `other` is left empty. Full blocks move (O(blocks));
   * a partial one is copied (at most one, its last: under 64k slots). Slots come out in
   * another order than pushed once full blocks go under a partial last block; free slots
   * are all alike, so nothing depends on it.
   */
  adopt(other: SlotStack): void {
    for (const b of other.blocks) {
      if (b.n === BLOCK) {
        const last = this.blocks[this.blocks.length - 1];
        if (last !== undefined && last.n < BLOCK) this.blocks.splice(this.blocks.length - 1, 0, b);
        else this.blocks.push(b);
        this.length += BLOCK;
      } else {
        for (let i = 0; i < b.n; i++) this.push(b.slots[i]);
      }
    }
    other.blocks = [];
    other.length = 0;
  }

}
