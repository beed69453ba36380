// Fires cron entries (API.md §4.5) with one timer armed for the earliest next_enqueue_at
// among unpaused entries (no polling). poke() re-arms it after any cron write; a tick
// fires what is due through the normal enqueue path, then re-arms. Paused entries need
// no timer: cron.ts advancePaused moves them on whenever they are read or written.

import { DueTimer } from "./_due-timer.ts";
import type { Clock } from "./clock.ts";
import type { CronBook } from "./cron-book.ts";
import type { BlobWrite } from "../storage/store.ts";
import type { EnqueueInput } from "./enqueue.ts";

const RETRY_MS = 1000;

export class CronScheduler {
  private readonly timer: DueTimer;
  private stopped = false;
  private readonly book: CronBook;
  private readonly enqueue: (inputs: EnqueueInput[], nowMs: number, alsoWrite: BlobWrite) => Promise<unknown>;
  private readonly onError: (err: unknown, where: string) => void;

  constructor(book: CronBook, clock: Clock, enqueue: (inputs: EnqueueInput[], nowMs: number, alsoWrite: BlobWrite) => Promise<unknown>, onError: (err: unknown, where: string) => void) {
    this.book = book;
    this.timer = new DueTimer(clock, () => void this.tick());
    this.enqueue = enqueue;
    this.onError = onError;
  }

  /** Fire what is due now; the book's onChange re-arms the timer afterwards. */
  async tick(): Promise<number> {
    if (this.stopped) return 0;
    try {
      return await this.book.fireDue(this.enqueue, (err) => this.onError(err, "cron enqueue"));
    } catch (err) {
      // A failed save (full disk) leaves the entry due and the timer unarmed: try again
      // in a second rather than spin or stop firing for good.
      this.onError(err, "cron");
      setTimeout(() => this.poke(), RETRY_MS).unref();
      return 0;
    }
  }

  poke(): void {
    if (this.stopped) return;
    this.timer.arm(this.book.earliestDue());
  }

  stop(): void {
    this.stopped = true;
    this.timer.stop();
  }
}
