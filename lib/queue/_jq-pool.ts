// Runs jq-web off the main thread: a small pool of worker threads, one call at a time per
// worker, each call with a deadline. A worker that overruns its deadline or whose wasm
// runtime aborts (out of memory) is terminated and replaced, so the next call works; a
// call that finds its engine broken by an earlier one is retried once on a fresh worker.
// Programs seen to be slow never hold every worker, so cheap filters stay cheap.
// Internal to lib/queue/jq.ts.

import { Worker } from "node:worker_threads";

export type JqRawResult = { ok: true; stdout: string } | { ok: false; exitCode: number; stderr: string };

/** The call was abandoned: deadline passed, or the engine died. The worker was replaced. */
export class JqAbortError extends Error {
  readonly reason: "timeout" | "crash";
  constructor(reason: "timeout" | "crash", message: string) {
    super(message);
    this.name = "JqAbortError";
    this.reason = reason;
  }
}

export interface JqPoolOptions {
  /** Worker threads, each holding one jq instance (~30 MB). @default 2 */
  workers?: number;
  /** Wall-clock budget of one engine call, measured from dispatch to the worker. @default 2000 */
  deadlineMs?: number;
  /** A call at least this long marks its program slow (see pump()). @default 250 */
  slowMs?: number;
  /** @internal Another worker script speaking the same messages (tests: a breakable engine). */
  workerUrl?: URL;
  /** @internal With workerUrl: the engine's heap ceiling (the worker's default: 512 MiB). */
  maxHeapBytes?: number;
}

interface Task {
  input: string;
  program: string;
  flags: string[];
  /** The call already crashed once (on an engine an earlier call may have broken). */
  retried?: boolean;
  startedAt?: number;
  resolve(result: JqRawResult): void;
  reject(err: Error): void;
}

/** How many slow programs are remembered (least recently marked forgotten first). */
const SLOW_PROGRAMS_MAX = 1000;

interface WorkerReply {
  id?: number;
  ready?: true;
  loadError?: string;
  ok?: boolean;
  stdout?: string;
  exitCode?: number;
  stderr?: string;
  fatal?: true;
}

/**
 * Starts one jq worker thread. The seam exists for the single executable
 * (bin/zizq-sea.ts), where no file sits beside the code: it starts the bundled worker
 * source from an embedded asset instead.
 */
export const jqWorkerStart = {
  create: (): Worker => new Worker(new URL("./_jq-worker.cjs", import.meta.url)),
};

/** One worker thread and the single task it is running. */
class Slot {
  readonly worker: Worker;
  ready = false;
  task: Task | undefined;
  taskId = 0;
  timer: NodeJS.Timeout | undefined;
  constructor(private readonly pool: JqPool, workerUrl: URL | undefined, maxHeapBytes?: number) {
    this.worker = workerUrl ? new Worker(workerUrl, { workerData: { maxHeapBytes } }) : jqWorkerStart.create();
    this.worker.on("message", (msg: WorkerReply) => this.onMessage(msg));
    this.worker.on("error", (err) => this.fail(new JqAbortError("crash", `jq worker failed: ${err.message}`)));
    this.worker.on("exit", () => this.fail(new JqAbortError("crash", "jq worker exited")));
  }

  start(task: Task, deadlineMs: number): void {
    this.task = task;
    task.startedAt = performance.now();
    this.taskId++;
    this.timer = setTimeout(() => this.fail(new JqAbortError("timeout", "evaluation timed out")), deadlineMs);
    this.worker.postMessage({ id: this.taskId, input: task.input, program: task.program, flags: task.flags });
  }

  private onMessage(msg: WorkerReply): void {
    if (msg.ready) {
      this.ready = true;
      this.pool.pump();
      return;
    }
    if (msg.loadError !== undefined) {
      this.pool.loadFailed(this, new Error(`jq engine failed to load: ${msg.loadError}`));
      return;
    }
    const task = this.task;
    if (!task || msg.id !== this.taskId) return;
    if (msg.fatal) {
      this.fail(new JqAbortError("crash", msg.stderr ?? "jq engine aborted"));
      return;
    }
    this.pool.observe(task);
    this.finish();
    task.resolve(msg.ok ? { ok: true, stdout: msg.stdout ?? "" } : { ok: false, exitCode: msg.exitCode ?? -1, stderr: msg.stderr ?? "" });
    this.pool.pump();
  }

  private finish(): void {
    clearTimeout(this.timer);
    this.task = undefined;
  }

  /** Abandon the current task (if any) and hand this slot back to the pool for replacement. */
  fail(err: Error): void {
    const task = this.task;
    // Marked before replace(), whose pump() must already know this program is slow.
    if (task && err instanceof JqAbortError) this.pool.observe(task, err.reason === "timeout");
    this.finish();
    this.pool.replace(this);
    if (!task) return;
    // The engine died under this call. It may be the victim of an earlier call that broke
    // the wasm heap (jq 1.7.1 has such bugs), so it gets one more go on a fresh worker; a
    // call that crashes a fresh engine too is the culprit and fails.
    if (err instanceof JqAbortError && err.reason === "crash" && !task.retried) {
      task.retried = true;
      this.pool.requeue(task);
      return;
    }
    task.reject(err);
  }
}

export class JqPool {
  private readonly size: number;
  private readonly deadlineMs: number;
  private readonly slots = new Set<Slot>();
  private readonly urgent: Task[] = [];
  private readonly normal: Task[] = [];
  private readonly slowMs: number;
  private readonly workerUrl: URL | undefined;
  private readonly maxHeapBytes: number | undefined;
  /** Programs whose last call took ≥ slowMs or timed out, in marking order. */
  private readonly slow = new Map<string, true>();
  private closed = false;
  /** Workers replaced after a timeout or crash (for tests and logs). */
  respawns = 0;

  constructor(options: JqPoolOptions = {}) {
    this.size = Math.max(1, options.workers ?? 2);
    this.deadlineMs = options.deadlineMs ?? 2000;
    this.slowMs = options.slowMs ?? 250;
    this.workerUrl = options.workerUrl;
    this.maxHeapBytes = options.maxHeapBytes;
  }

  /** @internal Mark or clear `task`'s program as slow, from how its call went. */
  observe(task: Task, timedOut = false): void {
    const ms = performance.now() - (task.startedAt ?? performance.now());
    this.slow.delete(task.program);
    if (timedOut || ms >= this.slowMs) {
      this.slow.set(task.program, true);
      if (this.slow.size > SLOW_PROGRAMS_MAX) this.slow.delete(this.slow.keys().next().value!);
    }
  }

  /** @internal Put a task back at the head of its lane (a retry after a crash). */
  requeue(task: Task): void {
    this.normal.unshift(task);
    this.pump();
  }

  /**
   * The next task for an idle worker: urgent first, then normal work not known to be slow,
   * then slow work, which may hold at most size-1 workers (the one worker if size is 1).
   * Why: six concurrent CPU-heavy filters made a cheap one wait 12 s behind them.
   */
  private next(): Task | undefined {
    const urgent = this.urgent.shift();
    if (urgent) return urgent;
    const now = performance.now();
    let runningSlow = 0;
    for (const slot of this.slots) {
      const task = slot.task;
      // A call running past slowMs counts as slow already, before it ends.
      if (task && (this.slow.has(task.program) || now - (task.startedAt ?? now) >= this.slowMs)) runningSlow++;
    }
    // Work not known to be slow goes first (with one worker too: a cheap filter queued
    // behind slow ones is served at the next free turn, not after all of them).
    let i = this.normal.findIndex((task) => !this.slow.has(task.program));
    if (i === -1 && (this.size === 1 || runningSlow < this.size - 1)) i = 0;
    return i === -1 ? undefined : this.normal.splice(i, 1)[0];
  }

  /**
   * Runs `jq <flags> <program>` over `input` in a worker. `urgent` calls (enqueue-time batch
   * expressions) jump ahead of queued filter-scan chunks so a long scan cannot stall enqueues.
   */
  run(input: string, program: string, flags: string[], urgent = false): Promise<JqRawResult> {
    if (this.closed) return Promise.reject(new Error("jq pool is closed"));
    return new Promise((resolve, reject) => {
      (urgent ? this.urgent : this.normal).push({ input, program, flags, resolve, reject });
      this.pump();
    });
  }

  /** Start workers now so the first request does not pay the ~150 ms wasm start-up. */
  warm(): void {
    while (!this.closed && this.slots.size < this.size) this.slots.add(new Slot(this, this.workerUrl, this.maxHeapBytes));
  }

  /** @internal Dispatch queued tasks to idle, ready workers. */
  pump(): void {
    if (this.closed) return;
    if (this.urgent.length + this.normal.length > 0) this.warm();
    for (const slot of this.slots) {
      if (!slot.ready || slot.task) continue;
      const task = this.next();
      if (!task) break;
      slot.start(task, this.deadlineMs);
    }
    // Idle workers must not keep the process alive, but pending work must (a worker still
    // loading has no deadline timer yet to do it).
    const pending = this.urgent.length + this.normal.length > 0;
    for (const slot of this.slots) {
      if (pending || slot.task) slot.worker.ref();
      else slot.worker.unref();
    }
  }

  /** @internal Terminate a slot's worker (stuck in wasm or dead) and start a fresh one. */
  replace(slot: Slot): void {
    if (!this.slots.delete(slot)) return;
    slot.worker.removeAllListeners("exit");
    // terminate() interrupts a worker spinning inside wasm; we do not wait for it.
    void slot.worker.terminate();
    this.respawns++;
    this.pump();
  }

  /** @internal jq-web could not be loaded: fail queued work instead of respawning forever. */
  loadFailed(slot: Slot, err: Error): void {
    this.slots.delete(slot);
    void slot.worker.terminate();
    for (const task of [...this.urgent.splice(0), ...this.normal.splice(0)]) task.reject(err);
  }

  async close(): Promise<void> {
    this.closed = true;
    const queued = [...this.urgent.splice(0), ...this.normal.splice(0)];
    for (const task of queued) task.reject(new Error("jq pool is closed"));
    const slots = [...this.slots];
    this.slots.clear();
    for (const slot of slots) {
      slot.worker.removeAllListeners("exit");
      slot.fail(new Error("jq pool is closed"));
    }
    await Promise.all(slots.map((slot) => slot.worker.terminate()));
  }
}
