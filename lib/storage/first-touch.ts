// First touch of a fresh job table's memory from the thread pool, ahead of a checkpoint
// load. Why: each 4 KiB page written for the first time costs a page fault (~2–10 µs on
// VMs here), ~0.5 s of the main thread at 10M jobs; a read of /dev/zero into the same
// bytes takes those faults in a pool thread, on the other core, while the main thread
// applies the chunks before them.
//
// The one rule: zeros must never land on bytes the load has written. Bands of slots are
// touched strictly in order, the load awaits upTo() before writing a slot, and stop() is
// awaited before the load returns (the log replayed after it writes new slots).

import fs from "node:fs";

export interface TouchColumn {
  /** The column's bytes over the whole capacity. */
  bytes: Uint8Array;
  /** Bytes per slot. */
  width: number;
}

const BAND_SLOTS = 1 << 16;
/**
 * How far ahead of the slots asked for it touches: a band, not the whole capacity, which
 * is sized from an estimate (slack never touched costs no memory).
 */
const LEAD_SLOTS = BAND_SLOTS;

export class FirstTouch {
  private touched = 0;
  private stopped = false;
  private waiters: { slot: number; resolve: () => void }[] = [];
  /** The highest slot asked for so far, and the runner waiting for it to move. */
  private demand = 0;
  private onDemand: (() => void) | undefined;
  private readonly running: Promise<void>;

  /**
   * Starts touching slots [0, slots) of `columns` (zeros: only bytes nobody has written).
   * `zero` writes zeros into a range; by default a read of /dev/zero on the thread pool
   * (tests pass one that lands later, to check the ordering).
   */
  constructor(
    private readonly columns: TouchColumn[], private readonly slots: number,
    private readonly zero?: (bytes: Uint8Array, offset: number, length: number) => Promise<void>,
  ) {
    this.running = this.run().catch(() => {}).finally(() => {
      this.stopped = true;
      this.wake();
    });
  }

  /** Resolves once slots [0, slot) are touched, or the toucher has stopped. */
  upTo(slot: number): Promise<void> {
    if (slot > this.demand) {
      this.demand = slot;
      this.onDemand?.();
    }
    if (this.stopped || slot <= this.touched) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ slot, resolve }));
  }

  /** Stop after the reads in flight; resolves when no read into the columns is left. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.onDemand?.();
    await this.running;
  }

  private wake(): void {
    const still: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (this.stopped || w.slot <= this.touched) w.resolve();
      else still.push(w);
    }
    this.waiters = still;
  }

  private async run(): Promise<void> {
    let fd: number | undefined;
    if (this.zero === undefined) {
      try {
        fd = fs.openSync("/dev/zero", "r");
      } catch {
        return; // not Linux-like: the load takes its own faults, as before
      }
    }
    const zero = this.zero ?? ((bytes: Uint8Array, offset: number, length: number) => readZeros(fd!, bytes, offset, length));
    try {
      for (let from = 0; from < this.slots && !this.stopped; from += BAND_SLOTS) {
        while (from > this.demand + LEAD_SLOTS && !this.stopped) {
          await new Promise<void>((resolve) => (this.onDemand = resolve));
          this.onDemand = undefined;
        }
        if (this.stopped) break;
        const to = Math.min(this.slots, from + BAND_SLOTS);
        // Settled, not all(): after a failed read its siblings may still be writing zeros,
        // and the load must not write this band until every one of them has landed.
        const reads = await Promise.allSettled(this.columns.map((c) => zero(c.bytes, from * c.width, (to - from) * c.width)));
        if (reads.some((r) => r.status === "rejected")) return;
        this.touched = to;
        this.wake();
      }
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }
}

async function readZeros(fd: number, bytes: Uint8Array, offset: number, length: number): Promise<void> {
  for (let done = 0; done < length;) {
    const n = await new Promise<number>((resolve, reject) =>
      fs.read(fd, bytes, offset + done, length - done, null, (err, read) => (err ? reject(err) : resolve(read))));
    if (n === 0) return;
    done += n;
  }
}
