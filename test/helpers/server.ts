// Real servers for tests and benches: startServer() runs the app in-process on an
// ephemeral port (fast, debuggable); spawnServer() runs `bin/zizq.ts serve` as a child
// process and waits for its `listening` log event (for kill -9 crash tests).

import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { toNodeHandler } from "h3/node";
import { createApp } from "../../lib/http/app.ts";
import { type Listener, listen } from "../../lib/http/listen.ts";
import { type Queue, type QueueOptions, createQueue } from "../../lib/queue/queue.ts";
import { type Store, type StoreOptions, openStore } from "../../lib/storage/store.ts";
import { tmpDir } from "./tmp.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

// Servers spawned and not yet exited. A test file whose `before` failed half-way (a
// Promise.all of a server and a browser, say) never got the server's handle to stop it,
// and the child's pipes then kept the file, and `npm test`, from ever exiting. Under the
// test runner (NODE_TEST_CONTEXT), whatever is left when the file's tests end is killed.
const running = new Set<ChildProcess>();
if (process.env.NODE_TEST_CONTEXT) {
  const { after } = await import("node:test");
  after(() => {
    for (const child of running) child.kill("SIGKILL");
  });
}

export interface TestServer {
  url: string;
  dir: string;
  store: Store;
  queue: Queue;
  close(): Promise<void>;
}

export interface StartOptions {
  dir?: string;
  store?: Partial<StoreOptions>;
  queue?: QueueOptions;
  heartbeatMs?: number;
  maxBodyBytes?: number;
  /** Default 0 (ephemeral); a fixed port restarts a server where its clients expect it. */
  port?: number;
  /** PEM server cert and key, plus a client CA for mTLS (lib/http/listen.ts). */
  tls?: { cert: string; key: string; clientCa?: string };
}

/** The real app over a real store in a temp dir, listening on 127.0.0.1:<ephemeral>. */
export async function startServer(options: StartOptions = {}): Promise<TestServer> {
  const dir = options.dir ?? tmpDir();
  const store = await openStore({ dir, segmentBytes: 4 * 1024 * 1024, ...options.store });
  const queue = createQueue(store, { reaperIntervalMs: 0, ...options.queue });
  const app = createApp(queue, {
    heartbeatMs: options.heartbeatMs ?? 3000,
    maxBodyBytes: options.maxBodyBytes,
    logError: (err) => { throw err; },
  });
  const listener: Listener = await listen(toNodeHandler(app.app), { host: "127.0.0.1", port: options.port ?? 0, tls: options.tls });
  let closed = false;
  return {
    url: listener.url,
    dir,
    store,
    queue,
    close: async () => {
      if (closed) return;
      closed = true;
      app.closeStreams();
      await listener.close(500);
      queue.stop();
      await store.close();
    },
  };
}

export interface SpawnedServer {
  url: string;
  adminUrl?: string;
  child: ChildProcess;
  /** Everything the server wrote to stderr so far. */
  logs(): string;
  /** SIGKILL, and wait for the process to be gone. */
  kill9(): Promise<void>;
  /** SIGTERM, and wait for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/**
 * `node ...nodeArgs --import tsx bin/zizq.ts serve --dir <dir> --port 0 ...extraArgs`, ready
 * to use. `nodeArgs` are Node's own flags, e.g. `--cpu-prof` (bench/ profiles servers).
 */
export async function spawnServer(
  dir: string, extraArgs: string[] = [], timeoutMs = 20_000, nodeArgs: string[] = [],
  /** Another `zizq` to run instead of node + the sources, e.g. the single executable. */
  executable?: { path: string; cwd: string },
): Promise<SpawnedServer> {
  // ZIZQ_SPAWN_BUILT=1 runs the production bundle (dist/bin/zizq.mjs, `npm run build`)
  // with plain node, as `npm start` does; the benches use it so RSS is what users see.
  const entry = process.env.ZIZQ_SPAWN_BUILT === "1"
    ? [path.join(ROOT, "dist/bin/zizq.mjs")]
    : ["--import", "tsx", path.join(ROOT, "bin/zizq.ts")];
  const serveArgs = ["serve", "--dir", dir, "--port", "0", "--admin-port", "0", "--log-format", "json", ...extraArgs];
  const child = spawn(executable?.path ?? process.execPath, executable ? serveArgs : [...nodeArgs, ...entry, ...serveArgs], {
    cwd: executable?.cwd ?? ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ZIZQ_LOG_LEVEL: "info" },
  });
  running.add(child);
  let logs = "";
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => {
    running.delete(child);
    resolve(code);
  }));
  const urls = await new Promise<{ url: string; adminUrl?: string }>((resolve, reject) => {
    const found: Record<string, string> = {};
    // A server that missed its deadline is killed: left running, its pipes kept the test
    // file (and so `npm test`) from ever exiting.
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`server did not start within ${timeoutMs} ms:\n${logs}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      logs += chunk.toString();
      for (const line of logs.split("\n")) {
        if (!line.startsWith("{")) continue;
        try {
          const event = JSON.parse(line) as { event?: string; api?: string; url?: string; msg?: string };
          if (event.event === "listening" && event.api && event.url) found[event.api] = event.url;
          if (event.msg?.includes("ready") && found.primary) {
            clearTimeout(timer);
            resolve({ url: found.primary, adminUrl: found.admin });
          }
        } catch { /* a partial line */ }
      }
    };
    child.stderr!.on("data", onData);
    child.stdout!.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${logs}`));
    });
  });
  return {
    ...urls,
    child,
    logs: () => logs,
    kill9: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      return exited;
    },
  };
}

/** Poll `check` until it returns a truthy value or the deadline passes. */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 5000, what = "condition"): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Whether `work` settles (either way) within `ms`: a deadline, it returns as soon as it does. */
export async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), ms); });
  const settled = await Promise.race([work.then(() => true, () => true), late]);
  clearTimeout(timer);
  return settled;
}

/** `work`, or a rejection naming `what` after `ms` (a deadline, not a wait). */
export function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
