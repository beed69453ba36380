// The store's one compaction at a time (compaction.ts retires a segment): started in the
// background after a segment seals, or for every sealed segment on request, and paused
// while a backup copies segments or a reset is written. close() waits for a run.

import { compactOldest, shouldCompact } from "./compaction.ts";
import type { Store } from "./store.ts";

export class CompactionLoop {
  /** The run in progress, if any. */
  running: Promise<void> | undefined;
  /** Open backups (snapshot.ts): compaction must not delete the segments they copy. */
  private pauses = 0;
  private resumed: (() => void)[] = [];

  /** `retired` runs after each segment a run retires. */
  constructor(private readonly store: Store, private readonly retired: () => void) {}

  /**
   * Compact while disk use exceeds twice the live data (see compaction.ts). Runs in
   * the background after a segment is sealed; one run at a time.
   */
  schedule(): Promise<void> {
    const store = this.store;
    // While a backup copies segments, compaction waits; the next seal tries again.
    if (!this.running && !store.isClosed && this.pauses === 0) {
      const run = async () => {
        // At most one pass over the segments there were: a segment full of live jobs is
        // copied to the head and frees nothing, and must not be copied round and round.
        for (let n = store.segments.numbers().length; n > 0 && !store.isClosed; n--) {
          // A spare still being made counts once it is there: judge with it.
          await store.segments.idle();
          if (store.isClosed || !shouldCompact(store)) break;
          if (!(await compactOldest(store))) break;
          this.retired();
        }
      };
      // Cleared in a .finally callback, which runs after this assignment. (A finally
      // block inside the async function ran first when there was nothing to compact:
      // it cleared `running` synchronously, then the assignment stored the settled
      // promise, and no seal ever started a compaction again.)
      this.running = run().catch((err) => store.onBackgroundError(err)).finally(() => { this.running = undefined; });
    }
    return this.running ?? Promise.resolve();
  }

  /** Compact every sealed segment now (POST /compact, `zizq compact`). */
  async all(): Promise<void> {
    const store = this.store;
    // Run as the store's one compaction: close() waits for it (instead of closing the
    // files under it), and a seal meanwhile does not start a background run that would
    // copy the same oldest segment a second time.
    // Both again after each wait: a background run may start while a pause ends.
    while (this.running || this.pauses > 0) {
      if (this.running) await this.running;
      else await new Promise<void>((resolve) => this.resumed.push(resolve));
    }
    const head = store.writer.head.segment;
    const run = (async () => {
      while (!store.isClosed) {
        const oldest = store.segments.numbers()[0];
        if (oldest === undefined || oldest >= head) break;
        if (!(await compactOldest(store))) break;
        this.retired();
      }
    })();
    this.running = run.catch(() => {}).finally(() => { this.running = undefined; });
    await run;
  }

  /**
   * Stop compaction (a backup is copying segments) until the returned function is
   * called; resolves once any compaction already running has finished.
   */
  async pause(): Promise<() => void> {
    this.pauses++;
    while (this.running) await this.running;
    let resumed = false;
    return () => {
      if (resumed) return;
      resumed = true;
      if (--this.pauses === 0) for (const wake of this.resumed.splice(0)) wake();
    };
  }
}
