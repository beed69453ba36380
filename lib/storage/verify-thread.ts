// Verifying the log before a checkpoint on a worker thread, while this thread loads the
// checkpoint. Why: both are CPU work on one thread otherwise (the CRC of every record
// was ~1 s of a 10M restart, and its reads another wait), and a server has a second core
// idle at start. Anything that keeps the worker from answering (it cannot start, a read
// fails, it crashes) makes the caller verify here instead, so the result, and the errors
// a read failure reports, are what the in-thread scan would give.

import { Worker } from "node:worker_threads";
import type { FsPort } from "./fs-port.ts";
import { type Damage, type VerifyBefore, verifySegments } from "./recover.ts";

export interface VerifyRequest {
  dir: string;
  numbers: number[];
  maxBytes: number;
}

export type VerifyReply = { damage: Damage[] } | { error: string };

/**
 * Starts the worker. A seam for the single executable (bin/zizq-sea.ts), where no file
 * sits beside the code; from the sources (tests, tsx) a boot file registers the
 * TypeScript loader first, since a worker does not inherit it.
 */
export const verifyWorkerStart = {
  create(request: VerifyRequest): Worker {
    const here = import.meta.url;
    if (here.endsWith(".ts")) {
      return new Worker(new URL("./_verify-boot.mjs", here), { workerData: { request, entry: new URL("./verify-worker.ts", here).href } });
    }
    return new Worker(new URL("./verify-worker.mjs", here), { workerData: { request } });
  },
};

/**
 * A VerifyBefore that checks on a worker thread when the segments hold at least
 * `minBytes`, and declines otherwise (a worker costs ~20 ms and a few MB to start: small
 * stores, most test servers among them, are checked faster by the scan itself).
 */
export function verifyOffThread(fs: FsPort, dir: string, maxBytes: number, minBytes: number): VerifyBefore {
  return (numbers, bytes) => {
    if (bytes < minBytes) return undefined;
    let worker: Worker | undefined;
    let cancelled = false;
    const run = async (): Promise<Damage[]> => {
      const reply = await new Promise<VerifyReply | undefined>((resolve) => {
        try {
          worker = verifyWorkerStart.create({ dir, numbers, maxBytes });
        } catch {
          resolve(undefined);
          return;
        }
        worker.once("message", (msg: VerifyReply) => resolve(msg));
        worker.once("error", () => resolve(undefined));
        worker.once("exit", () => resolve(undefined));
      });
      void worker?.terminate();
      if (cancelled) return [];
      // The worker could not answer: check here, with this thread's reads and errors.
      return reply !== undefined && "damage" in reply ? reply.damage : verifySegments(fs, dir, numbers, maxBytes);
    };
    return Object.assign(run(), {
      cancel: async (): Promise<void> => {
        cancelled = true;
        await worker?.terminate();
      },
    });
  };
}
