// A binary min-heap that knows where each item sits, so any item can be removed or
// re-sifted in O(log n). Used by the budget gate for parked jobs per group (items are
// slots) and for the groups whose head may be dispatchable (items are groups), and by
// the job table for the queues holding ready jobs, ordered by their head job.

export class IndexedHeap<T> {
  private readonly items: T[] = [];
  private readonly pos = new Map<T, number>();
  private readonly less: (a: T, b: T) => boolean;

  constructor(less: (a: T, b: T) => boolean) {
    this.less = less;
  }

  get size(): number {
    return this.items.length;
  }

  has(item: T): boolean {
    return this.pos.has(item);
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    if (this.pos.has(item)) return;
    this.items.push(item);
    this.pos.set(item, this.items.length - 1);
    this.up(this.items.length - 1);
  }

  remove(item: T): boolean {
    const i = this.pos.get(item);
    if (i === undefined) return false;
    const last = this.items.pop()!;
    this.pos.delete(item);
    if (i < this.items.length) {
      this.items[i] = last;
      this.pos.set(last, i);
      this.update(last);
    }
    return true;
  }

  /** The item's key changed: restore heap order. */
  update(item: T): void {
    const i = this.pos.get(item);
    if (i === undefined) return;
    this.down(this.up(i));
  }

  values(): readonly T[] {
    return this.items;
  }

  // Sift with a hole: the moving item is written once, at the end, so each level costs
  // one position update instead of a swap's two (the job table re-sifts on every take).
  private up(i: number): number {
    const { items, pos } = this;
    const item = items[i];
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(item, items[parent])) break;
      items[i] = items[parent];
      pos.set(items[i], i);
      i = parent;
    }
    items[i] = item;
    pos.set(item, i);
    return i;
  }

  private down(i: number): void {
    const { items, pos } = this;
    const n = items.length;
    const item = items[i];
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.less(items[r], items[l]) ? r : l;
      if (!this.less(items[c], item)) break;
      items[i] = items[c];
      pos.set(items[i], i);
      i = c;
    }
    items[i] = item;
    pos.set(item, i);
  }
}
