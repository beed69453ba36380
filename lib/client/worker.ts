// `Worker` (CLIENT-API.md §6): streams jobs from `client.take`, runs up to `concurrency`
// handlers at once, acks successes in bulk (one request in flight, the rest batched
// behind it) and reports each failure with its message and stack. Reconnects with
// exponential backoff on any non-4xx error. stop() drains running handlers, flushes acks
// and only then closes the stream, so the server still accepts those acks. A client closed
// under it (the embedded queue's close()) stops it; a shutdownTimeout bounds the whole stop.

import type { Client } from "./client.ts";
import { TIMER_MAX_MS, checkInteger } from "./_options.ts";
import { closedByApp } from "./_transport.ts";
import { ClientError, ConnectionError } from "./errors.ts";
import type { Job } from "./resources.ts";
import type { JobHandler, Logger, RequestRetryOptions } from "./types.ts";

/** What a Worker uses of its client: a Client, or the embedded queue (`open()` from "zizq"). */
export type WorkerClient = Pick<Client, "url" | "take" | "reportSuccessBulk" | "reportFailure">;

export interface WorkerOptions {
  client: WorkerClient;
  handler: JobHandler;
  /** Handlers running at once. @default 1 */
  concurrency?: number;
  /** Unacked jobs the server may push ahead. @default concurrency */
  prefetch?: number;
  /** Queues to take from; empty means all. @default [] */
  queues?: string[];
  /** @default console */
  logger?: Logger;
  /** Backoff of reconnects and of ack/nack retries. */
  requestRetry?: RequestRetryOptions;
  /**
   * Extension (not in the official client): after stop(), handlers still running after
   * this many ms are abandoned; completed acks are flushed and the stream is closed, so
   * the server requeues what is left. Acks and failure reports still not sent
   * SHUTDOWN_GRACE_MS later are given up, so stop() settles within the two whatever the
   * server does. Unset = wait for every handler and every ack, as the official one.
   */
  shutdownTimeout?: number;
}

/**
 * How long past shutdownTimeout acks and failure reports may still be sent. The last flush
 * needs a round trip even when handlers used the whole timeout; a fixed second rather than
 * a share of the timeout, so that `shutdownTimeout: 0` still gets its acks to a live server.
 */
const SHUTDOWN_GRACE_MS = 1000;

/** For tests (STYLE.md §2). */
export const _internals = { SHUTDOWN_GRACE_MS };

/**
 * The client itself was closed by the app (the embedded queue after close(), a Client after
 * close() or destroy(), whose take stream fails with undici's own error, as the official
 * one's does): no retry can succeed, unlike a server that is down and may come back.
 */
const isClientClosed = (err: unknown): boolean => (err instanceof ConnectionError && err.clientClosed) || closedByApp(err);

/** Text of any value, never throwing (an object whose toString throws, a null prototype). */
function textOf(value: unknown): string {
  if (typeof value === "string") return value;
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

function messageOf(err: unknown): string {
  try {
    return textOf(err instanceof Error ? err.message : err);
  } catch {
    return "(an error whose message cannot be read)"; // a throwing `message` getter
  }
}

/**
 * Largest message and backtrace reported, in UTF-16 units. A failure report is one
 * request body: a 32 MB stack got the HTTP/2 session reset, and the server refuses bodies
 * over 16 MiB anyway.
 */
const REPORT_TEXT_MAX = 1 << 20;
const capped = (text: string) => (text.length > REPORT_TEXT_MAX ? `${text.slice(0, REPORT_TEXT_MAX)}… (${text.length - REPORT_TEXT_MAX} more characters)` : text);

/**
 * The failure report for what a handler threw (CLIENT-API.md §6.4: an Error's message,
 * class name and stack; anything else stringified). Never throws: building it used to
 * throw for `Object.create(null)`, a throwing toString, or an Error without a
 * constructor, and that rejection ended the process.
 */
export function failureOf(err: unknown): { message: string; errorType?: string; backtrace?: string } {
  if (!(err instanceof Error)) return { message: capped(textOf(err)) };
  const failure: { message: string; errorType?: string; backtrace?: string } = { message: capped(messageOf(err)) };
  try {
    const name = (err.constructor as { name?: unknown } | undefined)?.name;
    if (typeof name === "string" && name) failure.errorType = name;
    if (typeof err.stack === "string") failure.backtrace = capped(err.stack);
  } catch {
    // A getter that throws: report the message alone.
  }
  return failure;
}

export class Worker {
  readonly #o: WorkerOptions;
  readonly #logger: Logger;
  #running = new Set<Promise<void>>();
  #pending: string[] = [];
  #flushing: Promise<void> | undefined;
  #streamAbort = new AbortController();
  #stopping = false;
  #killing = false;
  #finished = false;
  #shutdown: Promise<void> | undefined;
  #wake: () => void = () => {};
  /** Wakes the take loop waiting for a free handler slot (or for the end of a drain). */
  #slotFree: (() => void) | undefined;
  #killed: Promise<void> = new Promise(() => {});
  /**
   * Set when this run sends no more acks or failure reports: kill(), a closed client, the
   * shutdown deadline, or the end of the shutdown. The waiters are then woken: retry and
   * reconnect sleeps, and requests still waiting for an answer (#untilGivenUp).
   */
  #givenUp = false;
  #giveUpWaiters = new Set<() => void>();
  /** Ack ids in the request in flight, and failure reports being sent (for the give-up log). */
  #acksSending = 0;
  #reportsSending = 0;
  #active = false;
  /** Ids whose handler is running. */
  #handling = new Set<string>();

  constructor(options: WorkerOptions) {
    checkInteger("Worker", "concurrency", options.concurrency, 1);
    checkInteger("Worker", "prefetch", options.prefetch, 0);
    checkInteger("Worker", "shutdownTimeout (ms)", options.shutdownTimeout, 0, TIMER_MAX_MS);
    this.#o = options;
    this.#logger = options.logger ?? console;
  }

  async run(): Promise<void> {
    // A second run() at once took a second stream that nobody drained: its jobs stayed in
    // flight and both run() promises hung after stop().
    if (this.#active) throw new Error("Worker.run(): this worker is already running");
    this.#active = true;
    try {
      await this.#run();
    } finally {
      this.#active = false;
    }
  }

  async #run(): Promise<void> {
    this.#running = new Set();
    this.#handling = new Set();
    this.#pending = [];
    this.#flushing = undefined;
    this.#stopping = false;
    this.#killing = false;
    this.#finished = false;
    this.#shutdown = undefined;
    this.#killed = new Promise((resolve) => { this.#wake = resolve; });
    this.#givenUp = false;
    this.#giveUpWaiters = new Set();
    this.#acksSending = 0;
    this.#reportsSending = 0;
    const { client } = this.#o;
    const concurrency = Math.max(1, this.#o.concurrency ?? 1);
    const prefetch = this.#o.prefetch ?? concurrency;
    let attempt = 0;
    let connectedBefore = false;
    let emptyEnds = 0;
    while (!this.#stopping) {
      this.#streamAbort = new AbortController();
      try {
        const jobs = await client.take({ prefetch, queues: this.#o.queues ?? [], signal: this.#streamAbort.signal });
        this.#logger.info(`[zizq] ${connectedBefore && attempt > 0 ? "reconnected" : "connected"} to ${client.url}`);
        connectedBefore = true;
        attempt = 0;
        const opened = Date.now();
        let delivered = 0;
        for await (const job of jobs) {
          delivered++;
          if (this.#stopping) continue; // the server requeues skipped jobs when the stream closes
          // Delivered again while its handler still runs: the server requeued it when the
          // stream dropped (a restart). A second handler would run it twice at once; the
          // running one's ack or failure report answers this delivery too.
          if (this.#handling.has(job.id)) {
            this.#logger.info(`[zizq] job ${job.id} delivered again while its handler runs; its result answers both`);
            continue;
          }
          const task = this.#process(job).catch((err: unknown) => {
            // #process handles what a handler throws; this is a defect of our own, and
            // must not become an unhandled rejection that ends the user's process.
            this.#logger.error(`[zizq] job ${job.id}: ${messageOf(err)}`);
          });
          this.#running.add(task);
          void task.finally(() => {
            this.#running.delete(task);
            this.#wakeSlot();
          });
          // One waiter, woken by a finished handler or by the end of a drain (a full set of
          // stuck handlers must not keep the loop from seeing the shutdown). Not a
          // Promise.race over a promise that settles only at shutdown: every race left a reaction on it,
          // ~300 bytes a job for as long as the Worker ran (62 MB after 200k jobs).
          if (this.#running.size >= concurrency) await new Promise<void>((resolve) => { this.#slotFree = resolve; });
        }
        // A clean end reconnects at once (CLIENT-API.md §6.3). But a stream that ends at
        // once with nothing in it, again and again (a proxy answering 200 with an empty
        // body), made 1,400-3,800 take requests in 3 s: such ends back off as failures do.
        emptyEnds = delivered === 0 && Date.now() - opened < 1000 ? emptyEnds + 1 : 0;
        if (emptyEnds > 1 && !this.#stopping) {
          const delay = this.#delay(emptyEnds - 1);
          this.#logger.error(`[zizq] the take stream from ${client.url} ended at once ${emptyEnds} times; reconnecting in ${delay}ms`);
          await this.#sleep(delay);
        }
      } catch (err) {
        if (this.#stopping || this.#killing) break;
        if (err instanceof ClientError) {
          this.#finished = true;
          throw err;
        }
        if (isClientClosed(err)) {
          this.#clientClosed(err);
          break;
        }
        attempt++;
        const delay = this.#delay(attempt);
        this.#logger.error(`[zizq] disconnected from ${client.url} (attempt ${attempt}, reconnecting in ${delay}ms):`, messageOf(err));
        await this.#sleep(delay);
      }
    }
    await this.#startShutdown();
    this.#finished = true;
    this.#logger.info("[zizq] worker stopped");
  }

  /**
   * Graceful shutdown, idempotent; run() resolves when handlers, acks and the stream are
   * done. With a shutdownTimeout that is within it plus SHUTDOWN_GRACE_MS, whatever the
   * server does; without one, acks to a server that is down are retried until kill().
   */
  stop(): void {
    if (this.#stopping) return;
    this.#logger.info("[zizq] stopping");
    // Before run(), no effect (§6.2): run() resets the state. A shutdown begun here used to
    // run on into the next run() and abort its first take stream (an error log, ~500 ms).
    if (!this.#active) return;
    void this.#startShutdown();
  }

  /** Immediate shutdown: no drain, no ack flush; running handlers are left behind. */
  kill(): void {
    this.#logger.info("[zizq] killing worker...");
    if (!this.#active) return; // as stop(): nothing runs yet
    this.#killing = true;
    this.#wake();
    this.#giveUp();
    this.#streamAbort.abort();
    void this.#startShutdown();
  }

  /** No more acks or failure reports in this run; whatever waits to send them wakes and drops them. */
  #giveUp(): void {
    this.#givenUp = true;
    for (const wake of this.#giveUpWaiters) wake();
    this.#giveUpWaiters.clear();
  }

  /**
   * `work`, or less: resolves as soon as the worker gives up. Why not a Promise.race with a
   * promise that settles at the give-up: every race would leave a reaction on it, one per
   * ack request for as long as the run lasts (see the slot wait in #run); a waiter here
   * is removed when `work` settles.
   */
  #untilGivenUp<T>(work: Promise<T>): Promise<T | undefined> {
    if (this.#givenUp) return Promise.resolve(undefined);
    return new Promise<T | undefined>((resolve, reject) => {
      const wake = () => resolve(undefined);
      this.#giveUpWaiters.add(wake);
      work.then(
        (value) => { this.#giveUpWaiters.delete(wake); resolve(value); },
        (err: unknown) => { this.#giveUpWaiters.delete(wake); reject(err); },
      );
    });
  }

  /**
   * The client was closed under the worker (the app closed the embedded queue, or the
   * Client, before stopping the worker). Terminal, unlike a server that is down: stop
   * taking, drop what cannot be sent, and shut down as stop() does, so run() resolves.
   * Logged once. The dropped jobs stay in flight: reopening the embedded queue makes them
   * ready, and a server requeues them when it sees the stream close.
   */
  #clientClosed(err: unknown): void {
    if (this.#givenUp) return;
    this.#logger.error(`[zizq] ${messageOf(err)}: stopping the worker (stop it before closing its client). `
      + "Jobs it has not acked or failed yet are not reported; they go back to ready when the server sees "
      + "the stream close, or when the embedded queue is next opened");
    this.#giveUp();
    void this.#startShutdown();
  }

  #startShutdown(): Promise<void> {
    this.#stopping = true;
    this.#shutdown ??= this.#drain();
    return this.#shutdown;
  }

  async #drain(): Promise<void> {
    const waits: Promise<unknown>[] = [Promise.allSettled([...this.#running]), this.#killed];
    const timeout = this.#o.shutdownTimeout;
    let timer: NodeJS.Timeout | undefined;
    let deadline: NodeJS.Timeout | undefined;
    if (timeout !== undefined) {
      waits.push(new Promise<void>((resolve) => { timer = setTimeout(resolve, timeout); }));
      // Invariant: with a shutdownTimeout, stop() settles within it plus the grace, whatever
      // the server does. The flush below retried for ever against a server gone for good.
      // Node clamps a longer timer to 1 ms, not to its maximum.
      deadline = setTimeout(() => this.#giveUpAtDeadline(timeout), Math.min(timeout + SHUTDOWN_GRACE_MS, TIMER_MAX_MS));
    }
    // Tasks started while the drain waits (none: stopping skips new jobs) cannot extend it.
    await Promise.race(waits);
    clearTimeout(timer);
    if (!this.#killing) {
      await this.#flushing;
      await this.#flush();
    }
    clearTimeout(deadline);
    this.#streamAbort.abort();
    // Results of handlers abandoned by the timeout are dropped (docs/client.md decision 8);
    // this also ends a reconnect sleep, so run() resolves now rather than when it ends.
    // Without a shutdownTimeout nothing was abandoned, and a stop() during a reconnect
    // sleep takes effect when that sleep ends, as §6.5 of the official Worker says.
    if (timeout !== undefined) this.#giveUp();
    this.#wakeSlot();
  }

  #giveUpAtDeadline(timeout: number): void {
    const acks = this.#pending.length + this.#acksSending;
    if (acks > 0 || this.#reportsSending > 0) {
      this.#logger.error(`[zizq] stop(): ${acks} ack(s) and ${this.#reportsSending} failure report(s) still not sent `
        + `${timeout + SHUTDOWN_GRACE_MS}ms after stop() (shutdownTimeout + ${SHUTDOWN_GRACE_MS}ms); giving them up. `
        + "Their jobs go back to ready when the server sees the stream close, or when it restarts");
    }
    this.#giveUp();
  }

  #wakeSlot(): void {
    const wake = this.#slotFree;
    this.#slotFree = undefined;
    wake?.();
  }

  async #process(job: Job): Promise<void> {
    this.#handling.add(job.id);
    let thrown: { err: unknown } | undefined;
    try {
      await this.#o.handler(job);
    } catch (err) {
      thrown = { err };
    } finally {
      this.#handling.delete(job.id);
    }
    if (this.#finished || this.#givenUp) return;
    if (thrown) {
      const failure = failureOf(thrown.err);
      this.#reportsSending++;
      try {
        await this.#withRetry(() => this.#o.client.reportFailure(job.id, failure));
      } finally {
        this.#reportsSending--;
      }
      return;
    }
    this.#pending.push(job.id);
    if (!this.#flushing) {
      this.#flushing = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#flush());
    }
  }

  /** Sends the pending ids in batches, one request at a time, until none are left. */
  async #flush(): Promise<void> {
    try {
      while (this.#pending.length > 0 && !this.#givenUp) {
        const ids = this.#pending;
        this.#pending = [];
        this.#acksSending = ids.length;
        await this.#withRetry(() => this.#o.client.reportSuccessBulk(ids));
        this.#acksSending = 0;
      }
    } finally {
      this.#flushing = undefined;
    }
  }

  /**
   * Sends until it lands, a 4xx refuses it, or the worker gives up (#giveUp): then it
   * returns at once, even with a request still waiting for an answer (one to a server that
   * is gone can wait for readTimeout), and that request's outcome is ignored.
   */
  async #withRetry(send: () => Promise<unknown>): Promise<void> {
    for (let attempt = 1; !this.#givenUp; attempt++) {
      try {
        // A rejection after the give-up is handled there and ignored: none goes unhandled.
        await this.#untilGivenUp(send());
        return;
      } catch (err) {
        if (err instanceof ClientError) {
          this.#logger.error(`[zizq] ack/nack rejected: ${err.message}`);
          return;
        }
        if (isClientClosed(err)) {
          this.#clientClosed(err);
          return;
        }
        if (this.#givenUp) return;
        const delay = this.#delay(attempt);
        this.#logger.error(`[zizq] ack/nack failed (attempt ${attempt}, retrying in ${delay}ms): ${messageOf(err)}`);
        await this.#sleep(delay);
      }
    }
  }

  /** Sleeps `ms`, or less when the worker gives up first (its timer is cleared, not left to hold the process). */
  async #sleep(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await this.#untilGivenUp(new Promise<void>((resolve) => { timer = setTimeout(resolve, ms); }));
    clearTimeout(timer);
  }

  #delay(attempt: number): number {
    const { initialDelay = 500, maxDelay = 30_000, multiplier = 2 } = this.#o.requestRetry ?? {};
    return Math.min(initialDelay * multiplier ** (attempt - 1), maxDelay);
  }
}
