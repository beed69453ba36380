// The embedded take stream: a queue Taker feeding an async generator, with the client's
// take() contract (CLIENT-API.md §3.3.9): the generator ends when the queue closes,
// breaking out of it (or return()) gives its unacked jobs back to ready, and an aborted
// signal rejects the iteration with an AbortError, as undici's does.

import type { Queue } from "../queue/queue.ts";
import type { JobWithPayload } from "../queue/types.ts";
import { closingOnReturn } from "../client/_take-stream.ts";

/**
 * Jobs buffered before the queue is told to hold off. Prefetch credits bound the buffer
 * already; this bounds `prefetch: 0` (unlimited), where the socket's backpressure would
 * do it over HTTP.
 */
const HIGH_WATER = 1024;

export interface OpenTake {
  /** End the generator as the server ending the stream would. */
  end(): void;
}

const abortError = (signal: AbortSignal): unknown =>
  signal.reason instanceof Error ? signal.reason : new DOMException("This operation was aborted", "AbortError");

export function openTake<T>(
  queue: Queue,
  options: { prefetch: number; queues?: string[]; signal?: AbortSignal },
  toJob: (j: JobWithPayload) => T,
  open: Set<OpenTake>,
): AsyncGenerator<T> {
  const buffer: JobWithPayload[] = [];
  let head = 0;
  let ended = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const handle: OpenTake = {
    end() {
      ended = true;
      notify();
    },
  };
  const onAbort = () => {
    failure = abortError(options.signal!);
    notify();
  };
  let congested = false;
  const taker = queue.take({
    prefetch: options.prefetch,
    queues: options.queues,
    workerId: "embedded",
    deliver(job) {
      buffer.push(job);
      notify();
      congested = buffer.length - head >= HIGH_WATER;
      return !congested;
    },
  });
  open.add(handle);
  options.signal?.addEventListener("abort", onAbort, { once: true });
  // An open HTTP take stream is a socket that keeps the process alive while it waits for
  // jobs; an idle embedded Worker must too, or its process would exit under it.
  const keepAlive = setInterval(() => {}, 1 << 30);

  async function* iterate(): AsyncGenerator<T> {
    try {
      for (;;) {
        if (failure !== undefined) throw failure;
        if (head < buffer.length) {
          const job = buffer[head];
          buffer[head++] = undefined as unknown as JobWithPayload;
          if (head === buffer.length) {
            buffer.length = 0;
            head = 0;
          }
          if (congested && buffer.length - head < HIGH_WATER / 2) {
            congested = false;
            taker.resume();
          }
          yield toJob(job);
          continue;
        }
        if (ended) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    } finally {
      release();
    }
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    open.delete(handle);
    clearInterval(keepAlive);
    options.signal?.removeEventListener("abort", onAbort);
    // Jobs delivered but never yielded are held by this stream: closing requeues them.
    taker.close();
  };
  return closingOnReturn(iterate(), release);
}
