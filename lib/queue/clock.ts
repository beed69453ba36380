// Time for the queue layer. Transitions take `nowMs` as an argument; only the Queue
// facade and its timers read a Clock, so tests drive time with a ManualClock.

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** setTimeout's ceiling (~24.8 days): Node runs a longer timer after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * `nowMs + ms` as a stored time: at most 2^53 − 1 (year 287,396), the largest time a
 * request may give. A backoff exponent of 64 made a retry time of 1.8e22 (sent as a
 * float), 1024 made it Infinity (JSON `null`), and such a job left every range filter.
 */
export function later(nowMs: number, ms: number): number {
  return Math.min(Number.MAX_SAFE_INTEGER, nowMs + ms);
}

export class ManualClock implements Clock {
  private ms: number;
  constructor(startMs = 1_700_000_000_000) {
    this.ms = startMs;
  }
  now(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
  set(ms: number): void {
    this.ms = ms;
  }
}
