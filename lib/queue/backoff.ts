// Retry delay after a failure (API.md §4.1, the ×1000 form of v0.6.1):
// delay_ms = floor(k^exponent × 1000 + base_ms + r × jitter_ms × k), k = attempts so far.

import type { Backoff } from "./types.ts";

/** The delay, which may be Infinity for a huge exponent: add it with clock.ts `later()`. */
export function backoffDelayMs(attempts: number, backoff: Backoff, random: () => number): number {
  const k = attempts;
  return Math.floor(Math.pow(k, backoff.exponent) * 1000 + backoff.base_ms + random() * backoff.jitter_ms * k);
}
