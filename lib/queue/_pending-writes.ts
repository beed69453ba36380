// The writes of a bulk operation that yields to the loop between its slices (DELETE and
// PATCH /jobs). Each write gets its handler the moment it is added: a write that failed
// while the operation was still slicing, with no handler yet, was an unhandled rejection,
// and that ends a Node process (a DELETE /jobs during a disk error took the server down).
// And the final wait is one promise, not a Promise.all over every chunk's write built in
// one turn (~35k of them at a 9M-job delete: a 15 ms loop stall at the end).

export class PendingWrites {
  #pending = 0;
  #failure: { err: unknown } | undefined;
  #idle: (() => void) | undefined;

  add(write: Promise<unknown>): void {
    this.#pending++;
    write.then(() => this.#settle(), (err: unknown) => {
      this.#failure ??= { err };
      this.#settle();
    });
  }

  /** Has a write failed? The operation stops issuing more. */
  get failed(): boolean {
    return this.#failure !== undefined;
  }

  /** Resolves once every write added has settled; rejects with the first failure. */
  async settled(): Promise<void> {
    if (this.#pending > 0) await new Promise<void>((resolve) => { this.#idle = resolve; });
    if (this.#failure) throw this.#failure.err;
  }

  #settle(): void {
    if (--this.#pending === 0) this.#idle?.();
  }
}
