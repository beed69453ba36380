// When the store writes a checkpoint (checkpoint.ts does the writing): in the background
// after a segment seals, or, checked on a timer every few seconds, once enough log was
// appended or a compaction left the last one stale; at most one at a time, spaced so
// that checkpoints take at most a tenth of the time. Runs from open() until close().

import { writeCheckpoint } from "./checkpoint.ts";
import type { Store } from "./store.ts";

/** Appended bytes that make the timer write a checkpoint without a seal. */
const CHECKPOINT_AFTER_BYTES = 1024 * 1024;

export class CheckpointPacer {
  /** The checkpoint being written, if any (close() waits for it). */
  running: Promise<unknown> | undefined;
  /** When the last background checkpoint finished, and how long it took (spacing them out). */
  private lastCheckpoint = { at: 0, ms: 0, appended: 0 };
  private timer: NodeJS.Timeout | undefined;
  /**
   * Compaction moved jobs out of a segment and deleted it: the last checkpoint points
   * into it, so a restart would scan every segment (format.md) until the next one is
   * written. Without this flag a quiet store wrote none for as long as it stayed quiet:
   * a crash test saw 19 of 21 restarts after compaction fall back to the full scan (at
   * 10M jobs that is ~40 s instead of ~4).
   */
  private stale = false;

  /** `enabled`: StoreOptions.checkpoint; `everyMs`: StoreOptions.checkpointEveryMs. */
  constructor(private readonly store: Store, readonly enabled: boolean, private readonly everyMs: number) {}

  /** Compaction retired a segment the last checkpoint may point into. */
  markStale(): void {
    this.stale = true;
  }

  /**
   * Write a checkpoint in the background after a segment sealed, or (checked every few
   * seconds) once a MiB, or a sixteenth of the last checkpoint's size, was appended since
   * the last one: a restart then replays at most that much log. Spaced out so that
   * checkpoints take at most a tenth of the time, never more than one at a time.
   */
  schedule(): void {
    const store = this.store;
    if (!this.enabled || this.running || store.isClosed) return;
    if (store.writer.appendedBytes === this.lastCheckpoint.appended) return;
    const since = Date.now() - this.lastCheckpoint.at;
    if (since < Math.max(this.everyMs, 10 * this.lastCheckpoint.ms)) return;
    const started = Date.now();
    const appended = store.writer.appendedBytes;
    // Until a checkpoint is in place, the log it would cover stays owed, and a stale one
    // (after a compaction) stays stale: an attempt given up or failed must not leave the
    // next check thinking the old one is still good. Attempts are spaced all the same.
    const stale = this.stale;
    this.stale = false;
    let covered = this.lastCheckpoint.appended;
    this.running = writeCheckpoint(store)
      .then((written) => {
        if (written) covered = appended;
        else this.stale ||= stale;
      }, (err) => {
        this.stale ||= stale;
        store.onBackgroundError(err);
      })
      .finally(() => {
        this.lastCheckpoint = { at: Date.now(), ms: Date.now() - started, appended: covered };
        this.running = undefined;
      });
  }

  /** Start the timer that calls ifDue() (none when checkpoints are off). */
  start(): void {
    if (!this.enabled) return;
    this.timer = setInterval(() => this.store.checkpointIfDue(), this.everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** The timer's check: start a background checkpoint once enough log was appended. */
  ifDue(): void {
    // A sixteenth of the checkpoint's size: each one costs O(jobs) of CPU (a 10M-job
    // checkpoint every few seconds took a fifth of a core from the workload), while a
    // restart replays at most that much log after it (~0.3 s at 10M jobs).
    const after = Math.max(CHECKPOINT_AFTER_BYTES, this.store.checkpointBytes / 16);
    if (this.stale || this.store.writer.appendedBytes - this.lastCheckpoint.appended >= after) this.schedule();
  }

  /**
   * Count the log this open replayed as appended since the last checkpoint. Without it a
   * process only counts its own appends: a server killed again and again before it
   * appended enough never wrote a checkpoint, and each restart replayed more log than
   * the one before (a 10M-job dir restarted 1.6M acks after its checkpoint).
   */
  creditReplayed(bytes: number): void {
    this.lastCheckpoint = { ...this.lastCheckpoint, appended: this.lastCheckpoint.appended - bytes };
  }

  /** Write a checkpoint now (tests, benches); false if this attempt was given up. */
  async now(): Promise<boolean> {
    while (this.running) await this.running;
    // Closed while it waited: close() writes the last checkpoint itself, and a second one
    // beside it would write the same checkpoint.tmp (seen by the queue power-loss harness).
    if (this.store.isClosed) return false;
    const run = writeCheckpoint(this.store);
    this.running = run.catch(() => {});
    try {
      return await run;
    } finally {
      this.running = undefined;
    }
  }
}
