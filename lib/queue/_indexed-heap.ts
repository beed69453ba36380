// A binary min-heap that knows where each item sits, so any item can be removed or
// re-sifted in O(log n). Used by the budget gate for parked jobs per group (items are
// slots) and for the groups whose head may be dispatchable (items are groups).

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

  private swap(i: number, j: number): void {
    const a = this.items[i];
    const b = this.items[j];
    this.items[i] = b;
    this.items[j] = a;
    this.pos.set(b, i);
    this.pos.set(a, j);
  }

  private up(i: number): number {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(this.items[i], this.items[parent])) break;
      this.swap(i, parent);
      i = parent;
    }
    return i;
  }

  private down(i: number): void {
    const n = this.items.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.less(this.items[l], this.items[m])) m = l;
      if (r < n && this.less(this.items[r], this.items[m])) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }
}
