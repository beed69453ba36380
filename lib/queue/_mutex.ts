// A promise-chain mutex: enqueues that touch unique keys or batches run one at a time,
// so a check-then-write never races another enqueue of the same key.

export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn, fn);
    this.tail = result.catch(() => {});
    return result;
  }
}
