// The queues that hold ready jobs, in a min-heap on their head job (priority, then id):
// taking from "every queue" reads the root instead of asking each queue for its head.
// With a queue per tenant that was O(queues) per job taken: 22k queues with one ready
// job each took 30 s to drain. The job table re-sifts a queue only when its head changes.

export class ReadyHeads {
  private readonly heap: number[] = [];
  /** Position of each queue index in `heap`, or -1. */
  private pos: Int32Array = new Int32Array(64).fill(-1);
  private readonly less: (a: number, b: number) => boolean;

  /** `less(a, b)`: queue a's head job is taken before queue b's. */
  constructor(less: (a: number, b: number) => boolean) {
    this.less = less;
  }

  get size(): number {
    return this.heap.length;
  }

  /** The queue whose head is taken first, or -1. */
  peek(): number {
    return this.heap.length > 0 ? this.heap[0] : -1;
  }

  /** Add queue `q`, or re-sift it after its head changed. */
  update(q: number): void {
    if (q >= this.pos.length) {
      const grown = new Int32Array(Math.max(q + 1, this.pos.length * 2)).fill(-1);
      grown.set(this.pos);
      this.pos = grown;
    }
    const i = this.pos[q];
    if (i === -1) {
      this.heap.push(q);
      this.pos[q] = this.heap.length - 1;
      this.up(this.heap.length - 1);
    } else {
      this.down(this.up(i));
    }
  }

  remove(q: number): void {
    const i = q < this.pos.length ? this.pos[q] : -1;
    if (i === -1) return;
    const last = this.heap.pop()!;
    this.pos[q] = -1;
    if (i < this.heap.length) {
      this.heap[i] = last;
      this.pos[last] = i;
      this.down(this.up(i));
    }
  }

  private up(i: number): number {
    const { heap, pos } = this;
    const q = heap[i];
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(q, heap[parent])) break;
      heap[i] = heap[parent];
      pos[heap[i]] = i;
      i = parent;
    }
    heap[i] = q;
    pos[q] = i;
    return i;
  }

  private down(i: number): void {
    const { heap, pos } = this;
    const q = heap[i];
    for (;;) {
      const l = 2 * i + 1;
      if (l >= heap.length) break;
      const r = l + 1;
      const c = r < heap.length && this.less(heap[r], heap[l]) ? r : l;
      if (!this.less(heap[c], q)) break;
      heap[i] = heap[c];
      pos[heap[i]] = i;
      i = c;
    }
    heap[i] = q;
    pos[q] = i;
  }
}
