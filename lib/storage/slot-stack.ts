// A stack of slot numbers in fixed 64k-entry blocks. Why not a JS array: the job table's
// lists of freed slots reach millions after a mass delete, and a JS array that grows
// copies its whole backing store in one step (150 ms at 9M entries at 10M jobs, measured
// as a loop stall). Blocks never move; appending another stack adopts its blocks.

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

  /** Move every slot of `other` here (O(blocks)); `other` is left empty. */
  adopt(other: SlotStack): void {
    for (const b of other.blocks) if (b.n > 0) this.blocks.push(b);
    this.length += other.length;
    other.blocks = [];
    other.length = 0;
  }

}
