// Min-heap of scheduled slots on (ready_at, id). The scheduler sets one timer for the
// root instead of polling. heapPos (in the job table) makes removal O(log n), which
// patch and delete need.

export interface HeapKeys {
  readyAt: Float64Array;
  heapPos: Int32Array;
}

export class ScheduledHeap {
  private readonly heap: number[] = [];
  private readonly keys: () => HeapKeys;
  private readonly compareIds: (a: number, b: number) => number;

  constructor(keys: () => HeapKeys, compareIds: (a: number, b: number) => number) {
    this.keys = keys;
    this.compareIds = compareIds;
  }

  get size(): number {
    return this.heap.length;
  }

  peek(): number {
    return this.heap.length > 0 ? this.heap[0] : -1;
  }

  push(slot: number): void {
    this.heap.push(slot);
    this.keys().heapPos[slot] = this.heap.length - 1;
    this.up(this.heap.length - 1);
  }

  remove(slot: number): void {
    const k = this.keys();
    const i = k.heapPos[slot];
    // Invariant: heapPos is right only for slots in the heap; others may hold anything
    // (-1 after a removal, 0 for a slot never pushed: the table does not fill it).
    if (i < 0 || this.heap[i] !== slot) return;
    const last = this.heap.pop()!;
    k.heapPos[slot] = -1;
    if (i === this.heap.length) return;
    this.heap[i] = last;
    k.heapPos[last] = i;
    this.down(i);
    this.up(k.heapPos[last]);
  }

  /** All slots, unordered. */
  slots(): readonly number[] {
    return this.heap;
  }

  private less(a: number, b: number): boolean {
    const { readyAt } = this.keys();
    const ra = readyAt[a];
    const rb = readyAt[b];
    return ra < rb || (ra === rb && this.compareIds(a, b) < 0);
  }

  private up(i: number): void {
    const h = this.heap;
    const pos = this.keys().heapPos;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(h[i], h[parent])) break;
      [h[i], h[parent]] = [h[parent], h[i]];
      pos[h[i]] = i;
      pos[h[parent]] = parent;
      i = parent;
    }
  }

  private down(i: number): void {
    const h = this.heap;
    const pos = this.keys().heapPos;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l], h[m])) m = l;
      if (r < h.length && this.less(h[r], h[m])) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m], h[i]];
      pos[h[i]] = i;
      pos[h[m]] = m;
      i = m;
    }
  }
}
