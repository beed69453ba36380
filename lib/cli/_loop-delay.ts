// Opt-in event-loop stall probe (ZIZQ_DEBUG_LOOP_DELAY=1), used by bench/manage.ts to
// check that bulk operations never block the loop for long. Every second, and on SIGUSR2,
// logs one `loop_delay` event with the window's max/p99/mean delay in ms, then resets;
// and one `loop_gap` event per stall over 15 ms, with when it began.

import { monitorEventLoopDelay } from "node:perf_hooks";
import type { Logger } from "pino";

/** Starts the probe; returns a function that stops it (timer, signal handler, histogram). */
export function startLoopDelayProbe(logger: Logger, intervalMs = 1000): () => void {
  // 1 ms sampling: the default 10 ms would blur the stalls we want to bound (≤ 20 ms).
  const resolutionMs = 1;
  const histogram = monitorEventLoopDelay({ resolution: resolutionMs });
  histogram.enable();
  const report = (reason: "interval" | "signal") => {
    // The histogram holds whole timer periods (an idle loop reads ~1.07 ms at 1 ms
    // resolution), so the stall is the period minus the resolution.
    const ms = (ns: number) => Math.max(0, Math.round(ns / 1e4) / 100 - resolutionMs);
    const mem = process.memoryUsage();
    const mb = (bytes: number) => Math.round(bytes / 1e5) / 10;
    logger.info({
      event: "loop_delay", reason, max_ms: ms(histogram.max), p99_ms: ms(histogram.percentile(99)),
      mean_ms: ms(histogram.mean), samples: histogram.count,
      // Where RSS goes, for memory work: V8 heap, and array buffers (the job table).
      rss_mb: mb(mem.rss), heap_used_mb: mb(mem.heapUsed), heap_total_mb: mb(mem.heapTotal),
      external_mb: mb(mem.external), array_buffers_mb: mb(mem.arrayBuffers),
    }, "event-loop delay");
    histogram.reset();
  };
  const timer = setInterval(() => report("interval"), intervalMs);
  timer.unref();
  // Each stall over 15 ms on its own, with its start on the monotonic clock in µs: the
  // clock of `node --cpu-prof`, so the profile's samples inside it name what ran.
  let last = process.hrtime.bigint();
  const gaps = setInterval(() => {
    const now = process.hrtime.bigint();
    if (now - last > 15_000_000n) {
      logger.info({ event: "loop_gap", ms: Number((now - last) / 1000n) / 1000, start_mono_us: Number(last / 1000n) }, "event-loop gap");
    }
    last = now;
  }, 1);
  gaps.unref();
  const onSignal = () => report("signal");
  process.on("SIGUSR2", onSignal);
  return () => {
    clearInterval(timer);
    clearInterval(gaps);
    process.off("SIGUSR2", onSignal);
    histogram.disable();
  };
}
