// One timer armed for the earliest due time of something (scheduled jobs, cron entries):
// re-arming for the same time is free, and a time beyond setTimeout's ceiling just
// re-arms when the ceiling fires. Unref'd: a due time never keeps the process alive.

import { type Clock, MAX_TIMER_MS } from "./clock.ts";

export class DueTimer {
  private timer: NodeJS.Timeout | undefined;
  private armedFor: number | undefined;
  private stopped = false;
  private readonly clock: Clock;
  private readonly fire: () => void;

  constructor(clock: Clock, fire: () => void) {
    this.clock = clock;
    this.fire = fire;
  }

  /** Fire at `dueMs` (ms since epoch); undefined disarms. */
  arm(dueMs: number | undefined): void {
    if (this.stopped || (dueMs === this.armedFor && this.timer)) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = dueMs;
    if (dueMs === undefined) return;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, dueMs - this.clock.now()));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.armedFor = undefined;
      this.fire();
    }, delay);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
