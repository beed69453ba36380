// Promotes scheduled jobs to ready at their ready_at, with one timer armed for the
// earliest due job (no polling). poke() re-arms it after anything that may have moved
// the earliest due time; promotion itself is memory-only (a restart re-derives it).

import type { JobTable } from "../storage/job-table.ts";
import type { Clock } from "./clock.ts";

/** setTimeout's ceiling; a later due time just re-arms when this fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class Scheduler {
  private timer: NodeJS.Timeout | undefined;
  private armedFor: number | undefined;
  private stopped = false;
  private readonly table: JobTable;
  private readonly clock: Clock;
  private readonly onPromoted: () => void;

  constructor(table: JobTable, clock: Clock, onPromoted: () => void) {
    this.table = table;
    this.clock = clock;
    this.onPromoted = onPromoted;
  }

  /** Promote what is due now and re-arm for the next due job. */
  tick(): number {
    const n = this.table.promoteDue(this.clock.now());
    if (n > 0) this.onPromoted();
    this.poke();
    return n;
  }

  poke(): void {
    if (this.stopped) return;
    const due = this.table.nextDueMs();
    if (due === this.armedFor) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = due;
    if (due === undefined) return;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, due - this.clock.now()));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.armedFor = undefined;
      this.tick();
    }, delay);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
