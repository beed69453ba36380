// Shared setup of the client tests: a real server (in-process, ephemeral port) per file,
// unique queue names per test, and a helper that takes jobs off a live stream.

import { randomBytes } from "node:crypto";
import type { Client, Job } from "../../lib/client/index.ts";

export const uniq = (prefix = "q") => `${prefix}-${randomBytes(4).toString("hex")}`;

/** Logger that keeps lines instead of printing them (the Worker logs every (re)connect). */
export function memoryLogger(): { info: (...a: unknown[]) => void; error: (...a: unknown[]) => void; lines: string[] } {
  const lines: string[] = [];
  const put = (level: string) => (...args: unknown[]) => { lines.push(`${level} ${args.map(String).join(" ")}`); };
  return { info: put("info"), error: put("error"), lines };
}

/**
 * Opens a take stream on `queue`, reads `n` jobs, runs `fn` with them while the stream is
 * still open (acks need it), then closes the stream.
 */
export async function withTaken<T>(client: Client, queue: string, n: number, fn: (jobs: Job[]) => Promise<T>): Promise<T> {
  const stream = await client.take({ queues: [queue], prefetch: n });
  const jobs: Job[] = [];
  try {
    // next() rather than for-await: a `break` would close the stream and requeue the jobs.
    while (jobs.length < n) {
      const r = await stream.next();
      if (r.done) throw new Error(`take stream ended after ${jobs.length} of ${n} jobs`);
      jobs.push(r.value);
    }
    return await fn(jobs);
  } finally {
    await stream.return(undefined);
  }
}
