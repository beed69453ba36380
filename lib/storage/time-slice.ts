// Background work (checkpoint, compaction, bulk delete) runs in slices between
// requests. Why a time budget and not a fixed count per slice: the same count costs
// far more when the code is still interpreted (it runs rarely) or when fresh memory
// is touched for the first time (a page fault cost ~10 µs on one VM here, ~2 µs on
// another), and counts tuned on one machine stalled the loop 28–53 ms on the other.
//
// Why one slice per turn of the loop, taken in turns: each task that yielded with a
// plain setImmediate resumed in the same check phase as every other, so a checkpoint,
// a compaction and a bulk delete running together each spent their budget back to back
// in one turn (4 ms × 3, plus a GC pause: 45 ms stalls at 10M jobs, bench SCALE row).

/** Resumes of tasks that yielded, first in first out; one per turn. */
const waiting: Array<() => void> = [];
let pumping = false;

function resumeNext(): void {
  const next = waiting.shift();
  // Scheduled from inside the check phase, so it runs in the next turn's, after timers
  // and I/O have had theirs.
  if (waiting.length > 0) setImmediate(resumeNext);
  else pumping = false;
  next?.();
}

/**
 * Give the loop a turn: timers, I/O and requests waiting get to run. Tasks that yield
 * here resume one per turn, in the order they yielded.
 */
export function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    if (!pumping) {
      pumping = true;
      setImmediate(resumeNext);
    }
  });
}

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

  /** Start a new run now (after an await that was not a yield, such as a write). */
  restart(): void {
    this.#since = performance.now();
  }
}
