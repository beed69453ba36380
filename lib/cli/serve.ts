// `zizq serve`: recover the store, build the queue, open the primary and admin
// listeners, and run until SIGTERM/SIGINT. Shutdown order: stop accepting, end take
// streams, stop background loops, flush the commit batch, close the store.
// startServe() is the same server without the signal wait: the in-process `serve()`.

import { X509Certificate, createPrivateKey } from "node:crypto";
import fs from "node:fs";
import type { Logger } from "pino";
import { toNodeHandler } from "h3/node";
import { createAdminApp } from "../http/admin.ts";
import { TokenAuth, TokenFileError, holdUpgrade, upgradeRefusal, withTokens } from "../http/auth.ts";
import { createApp } from "../http/app.ts";
import { attachEvents } from "../http/events.ts";
import { type Listener, listen } from "../http/listen.ts";
import { SERVER_VERSION } from "../http/routes/health.ts";
import { isStorageRefusal } from "../queue/errors.ts";
import { closeJq } from "../queue/jq.ts";
import { createQueue } from "../queue/queue.ts";
import { openStore } from "../storage/store.ts";
import { startLoopDelayProbe } from "./_loop-delay.ts";
import { refusalLog } from "./_refusal-log.ts";
import { warmUp } from "./_warm-up.ts";
import { ConfigError, type ServeConfig } from "./config.ts";

type TlsFiles = ServeConfig["tls"];

/**
 * The PEM files of one listener, read and checked before the store opens, each problem
 * naming its flag (`prefix` is "tls" or "admin-tls"). An empty or non-PEM client CA was
 * accepted, and every client was then refused at its handshake; errors about the others
 * came as raw OpenSSL text, after recovery.
 */
function readTls(files: TlsFiles, prefix: string) {
  if (!files) return undefined;
  const read = (flag: string, file: string): Buffer => {
    try {
      return fs.readFileSync(file);
    } catch (err) {
      throw new ConfigError(`--${flag}: cannot read ${file}: ${(err as Error).message}`);
    }
  };
  const parse = <T>(flag: string, file: string, make: () => T): T => {
    try {
      return make();
    } catch (err) {
      throw new ConfigError(`--${flag}: ${file} is not usable: ${(err as Error).message}`);
    }
  };
  const cert = read(`${prefix}-cert`, files.certPath);
  const key = read(`${prefix}-key`, files.keyPath);
  const x509 = parse(`${prefix}-cert`, files.certPath, () => new X509Certificate(cert));
  const privateKey = parse(`${prefix}-key`, files.keyPath, () => createPrivateKey(key));
  if (!x509.checkPrivateKey(privateKey)) {
    throw new ConfigError(`--${prefix}-key: ${files.keyPath} is not usable: it does not match the certificate in ${files.certPath}`);
  }
  let clientCa: Buffer | undefined;
  if (files.clientCaPath) {
    const caPath = files.clientCaPath;
    clientCa = read(`${prefix}-client-ca`, caPath);
    const blocks = clientCa.toString("latin1").match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
    parse(`${prefix}-client-ca`, caPath, () => {
      if (blocks.length === 0) throw new Error("no PEM certificate in it");
      for (const block of blocks) new X509Certificate(block);
    });
  }
  return { cert, key, clientCa };
}

/** The --auth-tokens file; a bad one stops the server before it starts (the message names the line). */
function readTokens(file: string, current?: TokenAuth): TokenAuth {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(`--auth-tokens: cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    if (!current) return new TokenAuth(text, file);
    current.reload(text, file);
    return current;
  } catch (err) {
    if (err instanceof TokenFileError) throw new ConfigError(`--auth-tokens: ${err.message}`);
    throw err;
  }
}

/** The log line of each kind of damage recovery found (operations.md, "Recovery after a crash"). */
const DAMAGE_MESSAGE = {
  torn: "dropped a torn write at the end of the log",
  corrupt: "skipped a corrupt record",
  missing: "segment files are missing from the log: what they held is lost (restore a backup if you have one)",
} as const;

/** A started server: its listener URLs and the graceful stop. */
export interface RunningServer {
  url: string;
  /** undefined when the admin listener is off. */
  adminUrl: string | undefined;
  /** Graceful stop (the order above); idempotent. */
  close(): Promise<void>;
}

/** Start the listeners on a recovered store; resolves after a graceful stop. */
export async function runServe(config: ServeConfig, logger: Logger): Promise<void> {
  const server = await startServe(config, logger);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      process.off("SIGHUP", onHup);
      logger.info({ signal }, "shutting down");
      resolve();
    };
    const onInt = () => stop("SIGINT");
    const onTerm = () => stop("SIGTERM");
    // Without --auth-tokens there is nothing to reload: SIGHUP (the terminal closing on a
    // foreground server) stops it gracefully, like SIGTERM. Node's default was to exit at
    // once: streams cut, the lock and half-made spare segments left behind.
    const onHup = () => stop("SIGHUP");
    process.on("SIGINT", onInt);
    process.on("SIGTERM", onTerm);
    if (config.authTokensPath === undefined) process.on("SIGHUP", onHup);
  });
  await server.close();
}

/** Recover the store and open the listeners; the caller decides when to close. */
export async function startServe(config: ServeConfig, logger: Logger): Promise<RunningServer> {
  const auth = config.authTokensPath === undefined ? undefined : readTokens(config.authTokensPath);
  const primaryTls = readTls(config.tls, "tls");
  const adminTls = config.adminEnabled ? readTls(config.adminTls, "admin-tls") : undefined;
  const fsync = config.defaultCommitMode === "fsync";
  const enqueueFsync = (config.enqueueCommitMode ?? config.defaultCommitMode) === "fsync";
  const started = Date.now();
  // The opt-in warm-up (--warm-up, lib/cli/_warm-up.ts) runs beside recovery, in its own
  // store: recovery of a big store waits on reads long enough to hide it. It settles
  // before the listener opens, so "ready" means warm; it never fails the start.
  const warming = config.warmUp
    ? warmUp(config.dir).then(
      (warm) => logger.info({ event: "warmed_up", ms: Math.round(warm.ms), jobs: warm.jobs }, "warmed up"),
      (err) => logger.warn({ err }, "warm-up failed; starting cold"),
    )
    : undefined;
  const store = await openStore({
    dir: config.dir,
    segmentBytes: config.segmentBytes,
    cacheBytes: config.cacheBytes,
    syncDirs: fsync || enqueueFsync,
  }).catch(async (err: unknown) => {
    await warming; // its listener and store must be closed before the caller exits
    throw err;
  });
  store.onBackgroundError = (err) => logger.error({ err }, "compaction failed; will retry after the next segment fills");
  for (const d of store.damage) {
    const level = d.kind === "torn" ? "info" : "error";
    logger[level]({ segment: d.segment, offset: d.offset, bytes: d.bytes, reason: d.reason, kind: d.kind }, DAMAGE_MESSAGE[d.kind]);
  }
  logger.info({
    dir: store.dir, jobs: store.table.size, ms: Date.now() - started, from: store.recovery.from, why: store.recovery.reason,
    replayed_bytes: store.recovery.replayedBytes,
  }, "recovered");

  const logRefusal = refusalLog(logger);
  const queue = createQueue(store, {
    defaults: {
      retryLimit: config.defaultRetryLimit,
      backoff: { exponent: config.defaultBackoffExponent, base_ms: config.defaultBackoffBaseMs, jitter_ms: config.defaultBackoffJitterMs },
      completedRetentionMs: config.defaultCompletedRetentionMs,
      deadRetentionMs: config.defaultDeadRetentionMs,
    },
    globalInFlightLimit: config.globalInFlightLimit,
    maxBudgets: config.maxBudgets,
    enqueueSync: enqueueFsync,
    writeSync: fsync,
    reaperIntervalMs: config.reaperCheckIntervalMs,
    defaultLeaseMs: config.defaultLeaseMs,
    maxAbandons: config.maxAbandons,
    // A full disk refuses the cron's retries every second too: one line per kind and 10 s.
    onError: (err, where) => (isStorageRefusal(err) ? logRefusal(err) : logger.error({ err, where }, "background task failed; continuing")),
  });

  // The jq worker starts on first use (a filter the JS fast path cannot answer, or a
  // batched enqueue): warming it here would cost ~16 MB of RSS on every server, and the
  // first such request pays ~140 ms once instead (docs/decisions.md).
  const primary = createApp(queue, {
    maxBodyBytes: config.maxBodyBytes,
    heartbeatMs: config.heartbeatIntervalMs,
    logError: (err) => logger.error({ err }, "request failed"),
    logClientGone: (err) => logger.debug({ err: err.message }, "client went away mid-request"),
    logStorageRefusal: logRefusal,
  });
  await warming;
  const listeners: Listener[] = [];
  const closers: (() => void)[] = [];
  const announce = (api: string, l: Listener) => {
    const addr = l.url.replace(/^https?:\/\//, "");
    logger.info({ event: "listening", api, addr, scheme: l.scheme, url: l.url }, `Listening on ${l.url} (${api})`);
  };
  try {
    const primaryHandler = auth ? withTokens(toNodeHandler(primary.app), auth, "primary") : toNodeHandler(primary.app);
    const l = await listen(primaryHandler, { host: config.host, port: config.port, tls: primaryTls, name: "primary" });
    listeners.push(l);
    announce("primary", l);
    if (config.adminEnabled) {
      const admin = createAdminApp(queue, {
        logError: (err) => logger.error({ err }, "admin request failed"),
        primary: primary.app,
        facts: {
          startedAt: started,
          commitMode: config.defaultCommitMode,
          ...(config.enqueueCommitMode && config.enqueueCommitMode !== config.defaultCommitMode ? { enqueueCommitMode: config.enqueueCommitMode } : {}),
        },
      });
      const adminHandler = auth ? withTokens(toNodeHandler(admin), auth, "admin") : toNodeHandler(admin);
      const a = await listen(adminHandler, { host: config.adminHost, port: config.adminPort, tls: adminTls, name: "admin" });
      listeners.push(a);
      // The sniffer lets WebSocket upgrades through to the server's 'upgrade' event.
      const events = attachEvents(a.server, queue, {
        startedAt: started,
        logError: (err) => logger.error({ err }, "admin event stream failed"),
        ...(auth ? {
          refuseUpgrade: (req: import("node:http").IncomingMessage) => upgradeRefusal(auth, req),
          holdSession: (req: import("node:http").IncomingMessage, close: () => void) => holdUpgrade(auth, req, close),
        } : {}),
      });
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
  if (auth) logger.info({ tokens: auth.size }, "access tokens required (--auth-tokens)");
  // SIGHUP reloads the token file; a bad file keeps the old tokens. Only with --auth-tokens:
  // otherwise runServe stops the server gracefully on SIGHUP.
  const onHup = () => {
    try {
      readTokens(config.authTokensPath!, auth);
      logger.info({ tokens: auth!.size }, "reloaded access tokens");
    } catch (err) {
      logger.error({ reason: (err as Error).message }, "kept the previous access tokens: the file is not usable");
    }
  };
  if (auth) process.on("SIGHUP", onHup);
  logger.info({ version: SERVER_VERSION }, `Zizq ${SERVER_VERSION} ready`);
  // Debug aid for benches, off by default: periodic event-loop delay logs (docs/benchmarks.md).
  const stopLoopProbe = process.env.ZIZQ_DEBUG_LOOP_DELAY === "1" ? startLoopDelayProbe(logger) : undefined;

  let closing: Promise<void> | undefined;
  const close = async () => {
    stopLoopProbe?.();
    process.off("SIGHUP", onHup);
    primary.closeStreams();
    for (const closeExtra of closers) closeExtra();
    await Promise.all(listeners.map((l) => l.close(2000)));
    queue.stop();
    await store.close();
    // Only the last server in a process may stop the shared jq worker pool.
    if (--running === 0) await closeJq();
    logger.info("stopped");
  };
  running++;
  return {
    url: listeners[0].url,
    adminUrl: config.adminEnabled ? listeners[1]?.url : undefined,
    close: () => (closing ??= close()),
  };
}

/** Servers started in this process (in-process `serve()` may start several). */
let running = 0;
