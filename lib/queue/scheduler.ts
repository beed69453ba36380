// Promotes scheduled jobs to ready at their ready_at, with one timer armed for the
// earliest due job (no polling). poke() re-arms it after anything that may have moved
// the earliest due time; promotion itself is memory-only (a restart re-derives it).

import type { JobTable } from "../storage/job-table.ts";
import { DueTimer } from "./_due-timer.ts";
import type { Clock } from "./clock.ts";

export class Scheduler {
  private readonly timer: DueTimer;
  private readonly table: JobTable;
  private readonly clock: Clock;
  private readonly onPromoted: () => void;

  constructor(table: JobTable, clock: Clock, onPromoted: () => void) {
    this.table = table;
    this.clock = clock;
    this.onPromoted = onPromoted;
    this.timer = new DueTimer(clock, () => this.tick());
  }

  /** Promote what is due now and re-arm for the next due job. */
  tick(): number {
    const n = this.table.promoteDue(this.clock.now());
    if (n > 0) this.onPromoted();
    this.poke();
    return n;
  }

  poke(): void {
    this.timer.arm(this.table.nextDueMs());
  }

  stop(): void {
    this.timer.stop();
  }
}
