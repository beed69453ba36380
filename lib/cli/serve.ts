// `zizq serve`: recover the store, build the queue, open the primary and admin
// listeners, and run until SIGTERM/SIGINT. Shutdown order: stop accepting, end take
// streams, stop background loops, flush the commit batch, close the store.

import fs from "node:fs";
import type { Logger } from "pino";
import { toNodeHandler } from "h3/node";
import { createAdminApp } from "../http/admin.ts";
import { createApp } from "../http/app.ts";
import { attachEvents } from "../http/events.ts";
import { type Listener, listen } from "../http/listen.ts";
import { SERVER_VERSION } from "../http/routes/health.ts";
import { closeJq } from "../queue/jq.ts";
import { createQueue } from "../queue/queue.ts";
import { openStore } from "../storage/store.ts";
import { startLoopDelayProbe } from "./_loop-delay.ts";
import type { ServeConfig } from "./config.ts";

type TlsFiles = ServeConfig["tls"];

function readTls(files: TlsFiles) {
  if (!files) return undefined;
  return {
    cert: fs.readFileSync(files.certPath),
    key: fs.readFileSync(files.keyPath),
    clientCa: files.clientCaPath ? fs.readFileSync(files.clientCaPath) : undefined,
  };
}

/** Start the listeners on a recovered store; resolves after a graceful stop. */
export async function runServe(config: ServeConfig, logger: Logger): Promise<void> {
  const fsync = config.defaultCommitMode === "fsync";
  const enqueueFsync = (config.enqueueCommitMode ?? config.defaultCommitMode) === "fsync";
  const started = Date.now();
  const store = await openStore({
    dir: config.dir,
    segmentBytes: config.segmentBytes,
    cacheBytes: config.cacheBytes,
    syncDirs: fsync || enqueueFsync,
  });
  store.onBackgroundError = (err) => logger.error({ err }, "compaction failed; will retry after the next segment fills");
  for (const d of store.damage) {
    const level = d.kind === "torn" ? "info" : "error";
    logger[level]({ segment: d.segment, offset: d.offset, bytes: d.bytes, reason: d.reason, kind: d.kind },
      d.kind === "torn" ? "dropped a torn write at the end of the log" : "skipped a corrupt record");
  }
  logger.info({
    dir: store.dir, jobs: store.table.size, ms: Date.now() - started, from: store.recovery.from, why: store.recovery.reason,
  }, "recovered");

  const queue = createQueue(store, {
    defaults: {
      retryLimit: config.defaultRetryLimit,
      backoff: { exponent: config.defaultBackoffExponent, base_ms: config.defaultBackoffBaseMs, jitter_ms: config.defaultBackoffJitterMs },
      completedRetentionMs: config.defaultCompletedRetentionMs,
      deadRetentionMs: config.defaultDeadRetentionMs,
    },
    globalInFlightLimit: config.globalInFlightLimit,
    enqueueSync: enqueueFsync,
    writeSync: fsync,
    reaperIntervalMs: config.reaperCheckIntervalMs,
    onError: (err, where) => logger.error({ err, where }, "background task failed; continuing"),
  });

  // The jq worker starts on first use (a filter the JS fast path cannot answer, or a
  // batched enqueue): warming it here would cost ~16 MB of RSS on every server, and the
  // first such request pays ~140 ms once instead (docs/decisions.md).
  const primary = createApp(queue, {
    maxBodyBytes: config.maxBodyBytes,
    heartbeatMs: config.heartbeatIntervalMs,
    logError: (err) => logger.error({ err }, "request failed"),
  });
  const listeners: Listener[] = [];
  const closers: (() => void)[] = [];
  const announce = (api: string, l: Listener) => {
    const addr = l.url.replace(/^https?:\/\//, "");
    logger.info({ event: "listening", api, addr, scheme: l.scheme, url: l.url }, `Listening on ${l.url} (${api})`);
  };
  try {
    const l = await listen(toNodeHandler(primary.app), { host: config.host, port: config.port, tls: readTls(config.tls), name: "primary" });
    listeners.push(l);
    announce("primary", l);
    if (config.adminEnabled) {
      const admin = createAdminApp(queue, { logError: (err) => logger.error({ err }, "admin request failed") });
      const a = await listen(toNodeHandler(admin), { host: config.adminHost, port: config.adminPort, tls: readTls(config.adminTls), name: "admin" });
      listeners.push(a);
      // The sniffer lets WebSocket upgrades through to the server's 'upgrade' event.
      const events = attachEvents(a.server, queue, { startedAt: started, logError: (err) => logger.error({ err }, "admin event stream failed") });
      closers.push(() => events.close());
      announce("admin", a);
    }
  } catch (err) {
    for (const close of closers) close();
    for (const l of listeners) await l.close(0);
    queue.stop();
    await store.close();
    throw err;
  }
  logger.info({ version: SERVER_VERSION }, `Zizq ${SERVER_VERSION} ready`);
  // Debug aid for benches, off by default: periodic event-loop delay logs (docs/benchmarks.md).
  const stopLoopProbe = process.env.ZIZQ_DEBUG_LOOP_DELAY === "1" ? startLoopDelayProbe(logger) : undefined;

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      logger.info({ signal }, "shutting down");
      resolve();
    };
    const onInt = () => stop("SIGINT");
    const onTerm = () => stop("SIGTERM");
    process.on("SIGINT", onInt);
    process.on("SIGTERM", onTerm);
  });

  stopLoopProbe?.();
  primary.closeStreams();
  for (const close of closers) close();
  await Promise.all(listeners.map((l) => l.close(2000)));
  queue.stop();
  await store.close();
  await closeJq();
  logger.info("stopped");
}
