// A growable list of unsigned 32-bit integers (slots, id words) in fixed 64k-entry blocks. Why not a JS array or
// one typed array: at 10M jobs a bulk delete lists 9M slots (and 36M id words), and
// growing one contiguous store copies all of it in a single step: a 150–180 ms loop
// stall each time, measured. Blocks never move.

const SHIFT = 16;
const BLOCK = 1 << SHIFT;
const MASK = BLOCK - 1;

export class U32List {
  private readonly blocks: Uint32Array[] = [];
  length = 0;

  push(value: number): void {
    if ((this.length & MASK) === 0) this.blocks.push(new Uint32Array(BLOCK));
    this.blocks[this.length >>> SHIFT][this.length & MASK] = value;
    this.length++;
  }

  get(i: number): number {
    return this.blocks[i >>> SHIFT][i & MASK];
  }
}
