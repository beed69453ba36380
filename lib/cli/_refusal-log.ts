// The log line for writes the storage refuses (disk full: 507; open-file limit: 503).
// Clients are told on every request; the operator must be told too, or a full disk shows
// only as clients' errors. But a full disk refuses every write, thousands a second, so
// each kind is logged at once and then at most every `everyMs`, with the count between.

import type { Logger } from "pino";
import type { QueueError } from "../queue/types.ts";

export function refusalLog(logger: Pick<Logger, "warn">, everyMs = 10_000, now: () => number = Date.now): (err: QueueError) => void {
  const last = new Map<string, { at: number; unlogged: number }>();
  return (err) => {
    const seen = last.get(err.code);
    const t = now();
    if (seen && t - seen.at < everyMs) {
      seen.unlogged++;
      return;
    }
    last.set(err.code, { at: t, unlogged: 0 });
    logger.warn(
      { event: "storage_refused", code: err.code, err: err.cause, ...(seen ? { refused_since_last_line: seen.unlogged } : {}) },
      `a write was refused: ${err.message}`,
    );
  };
}
