// Background work (checkpoint, compaction, bulk delete) runs in slices between
// requests. Why a time budget and not a fixed count per slice: the same count costs
// far more when the code is still interpreted (it runs rarely) or when fresh memory
// is touched for the first time (a page fault cost ~10 µs on one VM here, ~2 µs on
// another), and counts tuned on one machine stalled the loop 28–53 ms on the other.

import { setImmediate } from "node:timers/promises";

/** One turn of the event loop: timers, I/O and requests waiting get to run. */
export const yieldToLoop = (): Promise<void> => setImmediate();

/** Tracks how long the current synchronous run has taken; yields once it is over budget. */
export class TimeSlice {
  #since = performance.now();

  constructor(readonly budgetMs = 4) {}

  /** Has this run used its budget? Cheap enough to ask every few thousand steps. */
  get spent(): boolean {
    return performance.now() - this.#since >= this.budgetMs;
  }

  /** Yield if the run is over budget (a new run starts after). */
  async pace(): Promise<void> {
    if (this.spent) await this.yield();
  }

  /** Yield now; the next run starts after. */
  async yield(): Promise<void> {
    await yieldToLoop();
    this.#since = performance.now();
  }
}
