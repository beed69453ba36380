// Turns parsed CLI flags plus the environment into typed, validated settings for each
// subcommand (precedence: flag > ZIZQ_* env twin > default). Pure apart from reading
// process.cwd() for relative paths; invalid input throws ConfigError (the CLI exits 2).
// The flag names, env twins and default strings live in flags.ts.

import path from "node:path";
import { ADMIN_CLIENT_FLAGS, GLOBAL_FLAGS, SERVE_FLAGS, TLS_FLAGS, TOP_FLAGS } from "./flags.ts";
import { MAX_TIMER_MS } from "../queue/clock.ts";
import { ConfigError, createFlagReader, U32_MAX } from "./_read-flags.ts";

/**
 * Longest certificate validity `zizq tls` writes: 100 years. `--days 99999999` wrote a
 * certificate whose end date no X.509 time can hold ("Bad time value"), and exit 0.
 */
const MAX_CERT_DAYS = 36_525;

export { ConfigError } from "./_read-flags.ts";

export const COMMIT_MODES = ["buffered", "fsync"] as const;
export const LOG_FORMATS = ["pretty", "compact", "json"] as const;
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error"] as const;
export const LOG_ROTATIONS = ["daily", "hourly", "never"] as const;
export const TLS_ACTIONS = ["init", "ca", "server-cert", "client-cert"] as const;

export type CommitMode = (typeof COMMIT_MODES)[number];
export type LogFormat = (typeof LOG_FORMATS)[number];
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogRotation = (typeof LOG_ROTATIONS)[number];
export type TlsAction = (typeof TLS_ACTIONS)[number];

const MIB = 2 ** 20;

/** PEM file paths for one TLS listener (absolute). */
export interface TlsFiles {
  certPath: string;
  keyPath: string;
  /** When set, clients must present a certificate signed by this CA (mTLS). */
  clientCaPath: string | undefined;
}

export interface LogConfig {
  /** @default "pretty" when stderr is a TTY and not logging to disk, else "compact" */
  format: LogFormat;
  /** @default "info" */
  level: LogLevel;
  /** Directory holding `zizq.log` (absolute); undefined = log to stderr. `--log-to-disk` → `<dir>/log`. @default undefined */
  dir: string | undefined;
  /** @default "daily" */
  rotation: LogRotation;
  /** Rotate when the live file passes this size; 0 = never by size. @default 100 MB (100_000_000) */
  maxFileBytes: number;
  /** Rotated files kept beside the live `zizq.log`; older ones are deleted. @default 10 */
  maxFiles: number;
}

/** Everything `zizq serve` needs, resolved and validated. */
export interface ServeConfig {
  /** Root directory (absolute). @default "./zizq-root" resolved against the cwd */
  dir: string;
  /** @default "127.0.0.1" */
  host: string;
  /** 0 = let the OS pick a free port. @default 7890 */
  port: number;
  /** @default "127.0.0.1" */
  adminHost: string;
  /** 0 = let the OS pick a free port. @default 8901 */
  adminPort: number;
  /** false with `--no-admin`. @default true */
  adminEnabled: boolean;
  /** true with `--warm-up`: drive the hot paths before `ready` (lib/cli/_warm-up.ts). @default false */
  warmUp: boolean;
  /** Primary listener TLS; undefined = plain TCP (h2c + HTTP/1.1). @default undefined */
  tls: TlsFiles | undefined;
  /** Admin listener TLS. @default undefined */
  adminTls: TlsFiles | undefined;
  /** Idle take streams get an empty frame after this much silence. @default 3000 */
  heartbeatIntervalMs: number;
  /** Max in-flight jobs server-wide; 0 = no limit. @default 1024 */
  globalInFlightLimit: number;
  /** Most budgets that may exist (API-budgets.md §2.12). @default 8192 */
  maxBudgets: number;
  /** @default 25 */
  defaultRetryLimit: number;
  /** @default 4 */
  defaultBackoffExponent: number;
  /** @default 15000 */
  defaultBackoffBaseMs: number;
  /** @default 30000 */
  defaultBackoffJitterMs: number;
  /** 0 = delete completed jobs at ack time. @default 0 */
  defaultCompletedRetentionMs: number;
  /** 0 = delete dead jobs at death. @default 604800000 (7 days) */
  defaultDeadRetentionMs: number;
  /** @default 30000 */
  reaperCheckIntervalMs: number;
  /** @default "buffered" */
  defaultCommitMode: CommitMode;
  /** Enqueue-only override; undefined = use defaultCommitMode. @default undefined */
  enqueueCommitMode: CommitMode | undefined;
  /** Payload cache budget. Not the reference's 256MB: that sized an LSM block cache, and ours must keep 1M jobs under 250 MB RSS. @default 64 MB (64_000_000) */
  cacheBytes: number;
  /** Max enqueues coalesced into one write. @default 1000 */
  enqueueBatchSize: number;
  /** Max acks coalesced into one write. @default 1000 */
  completeBatchSize: number;
  /** Preallocated segment file size, 1 MiB..1 GiB. @default 64 MiB (67_108_864) */
  segmentBytes: number;
  /** Larger request bodies get 413. @default 16 MiB (16_777_216) */
  maxBodyBytes: number;
  /** Lease on jobs taken by streams that do not ask for one; 0 = none. @default 0 */
  defaultLeaseMs: number;
  /** Abandoned deliveries (dropped stream, expired lease) that kill a job; 0 = never. @default 0 */
  maxAbandons: number;
  /** Token file (absolute); undefined = no access tokens required. @default undefined */
  authTokensPath: string | undefined;
  log: LogConfig;
}

export interface ResolveOptions {
  /** Decides the automatic log format. @default process.stderr.isTTY */
  stderrIsTTY?: boolean;
}

/**
 * The root directory from `--dir` / `--root-dir` / `ZIZQ_DIR` / `ZIZQ_ROOT_DIR`, absolute.
 * The two flags (or the two env vars) may both be given only if they agree.
 */
export function resolveRootDir(flags: Record<string, unknown>, env: NodeJS.ProcessEnv): string {
  const read = createFlagReader(flags, env, GLOBAL_FLAGS);
  const alias = read.optionalString("root-dir");
  const primary = flags["dir"] === undefined ? undefined : read.string("dir");
  if (primary !== undefined && alias !== undefined && path.resolve(primary) !== path.resolve(alias)) {
    throw new ConfigError(`--dir and --root-dir disagree (${primary} vs ${alias}); give only one`);
  }
  return path.resolve(primary ?? alias ?? read.string("dir"));
}

export function resolveServeConfig(
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  options: ResolveOptions = {},
): ServeConfig {
  const read = createFlagReader(flags, env, [...GLOBAL_FLAGS, ...SERVE_FLAGS]);
  const dir = resolveRootDir(flags, env);
  const tlsPair = (prefix: string): TlsFiles | undefined => {
    const certPath = read.optionalPath(`${prefix}tls-cert`);
    const keyPath = read.optionalPath(`${prefix}tls-key`);
    const clientCaPath = read.optionalPath(`${prefix}tls-client-ca`);
    if (!certPath !== !keyPath) {
      const [given, missing] = certPath ? ["cert", "key"] : ["key", "cert"];
      throw new ConfigError(`--${prefix}tls-${given} needs --${prefix}tls-${missing} as well (TLS takes a pair)`);
    }
    if (clientCaPath && !certPath) {
      throw new ConfigError(`--${prefix}tls-client-ca needs --${prefix}tls-cert and --${prefix}tls-key`);
    }
    return certPath && keyPath ? { certPath, keyPath, clientCaPath } : undefined;
  };
  const port = (name: string) => read.integer(name, { max: 65_535 });

  return {
    dir,
    host: read.string("host"),
    port: port("port"),
    adminHost: read.string("admin-host"),
    adminPort: port("admin-port"),
    adminEnabled: !(flags["admin"] === false || read.bool("no-admin")),
    warmUp: read.bool("warm-up"),
    tls: tlsPair(""),
    adminTls: tlsPair("admin-"),
    // Timer-driven settings stop at setTimeout's ceiling: `--heartbeat-interval 1y` became a
    // 1 ms timer and sent heartbeats nonstop.
    heartbeatIntervalMs: read.durationMs("heartbeat-interval", { min: 1, max: MAX_TIMER_MS }),
    globalInFlightLimit: read.integer("global-in-flight-limit"),
    maxBudgets: read.integer("max-budgets"),
    defaultRetryLimit: read.integer("default-retry-limit", { max: U32_MAX }),
    defaultBackoffExponent: read.number("default-backoff-exponent", { min: 0, max: 3.4e38 }),
    defaultBackoffBaseMs: read.durationMs("default-backoff-base", { max: U32_MAX }),
    defaultBackoffJitterMs: read.durationMs("default-backoff-jitter", { max: U32_MAX }),
    defaultCompletedRetentionMs: read.durationMs("default-completed-job-retention"),
    defaultDeadRetentionMs: read.durationMs("default-dead-job-retention"),
    reaperCheckIntervalMs: read.durationMs("reaper-check-interval", { min: 1, max: MAX_TIMER_MS }),
    defaultCommitMode: read.choice("default-commit-mode", COMMIT_MODES)!,
    enqueueCommitMode: read.choice("enqueue-commit-mode", COMMIT_MODES),
    cacheBytes: read.bytes("cache-size"),
    enqueueBatchSize: read.integer("enqueue-batch-size", { min: 1 }),
    completeBatchSize: read.integer("complete-batch-size", { min: 1 }),
    // A typo like `64GB` would preallocate 64 GB of zeros per segment; cap it at 1 GiB.
    segmentBytes: read.bytes("segment-size", { min: MIB, max: 1024 * MIB }),
    maxBodyBytes: read.bytes("max-body-size", { min: 1 }),
    defaultLeaseMs: read.durationMs("default-lease", { max: 7 * 24 * 3_600_000 }),
    maxAbandons: read.integer("max-abandons", { max: U32_MAX }),
    authTokensPath: read.optionalPath("auth-tokens"),
    log: resolveLogConfig(read, dir, options),
  };
}

function resolveLogConfig(
  read: ReturnType<typeof createFlagReader>,
  rootDir: string,
  options: ResolveOptions,
): LogConfig {
  const logDir = read.optionalPath("log-dir");
  const dir = logDir ?? (read.bool("log-to-disk") ? path.join(rootDir, "log") : undefined);
  const isTTY = options.stderrIsTTY ?? Boolean(process.stderr.isTTY);
  return {
    // Colours and padding only help a person watching a terminal; files get compact.
    format: read.choice("log-format", LOG_FORMATS) ?? (dir === undefined && isTTY ? "pretty" : "compact"),
    level: read.choice("log-level", LOG_LEVELS)!,
    dir,
    rotation: read.choice("log-rotation", LOG_ROTATIONS)!,
    maxFileBytes: read.bytes("log-max-size"),
    maxFiles: read.integer("log-max-files", { min: 1 }),
  };
}

/** How `top`, `backup` and `compact` reach the admin listener. */
export interface AdminClientConfig {
  /** Base URL without a trailing slash. @default "http://127.0.0.1:8901" */
  url: string;
  /** CA bundle to verify an https:// server (absolute). @default undefined (system CAs) */
  caCertPath: string | undefined;
  /** mTLS client certificate; always paired with clientKeyPath. @default undefined */
  clientCertPath: string | undefined;
  clientKeyPath: string | undefined;
  /** Sent as `Authorization: Bearer <token>` (a server with --auth-tokens). @default undefined */
  token?: string;
}

export function resolveAdminClientConfig(flags: Record<string, unknown>, env: NodeJS.ProcessEnv): AdminClientConfig {
  const read = createFlagReader(flags, env, ADMIN_CLIENT_FLAGS);
  const text = read.string("url");
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`--url: ${JSON.stringify(text)} is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ConfigError(`--url: ${JSON.stringify(text)} must start with http:// or https://`);
  }
  const caCertPath = read.optionalPath("ca-cert");
  const clientCertPath = read.optionalPath("client-cert");
  const clientKeyPath = read.optionalPath("client-key");
  if (!clientCertPath !== !clientKeyPath) {
    throw new ConfigError("--client-cert and --client-key must be given together");
  }
  if (url.protocol === "http:" && (caCertPath || clientCertPath)) {
    throw new ConfigError(`--ca-cert/--client-cert need an https:// --url (got ${text})`);
  }
  const token = read.optionalString("token");
  if (token !== undefined && !/^[\x21-\x7e]+$/.test(token)) throw new ConfigError("--token must be printable ASCII without spaces");
  return { url: url.href.replace(/\/+$/, ""), caCertPath, clientCertPath, clientKeyPath, ...(token === undefined ? {} : { token }) };
}

export interface TopConfig extends AdminClientConfig {
  /** @default 500 */
  refreshRateMs: number;
}

export function resolveTopConfig(flags: Record<string, unknown>, env: NodeJS.ProcessEnv): TopConfig {
  const refreshRateMs = createFlagReader(flags, env, TOP_FLAGS).durationMs("refresh-rate", { min: 1, max: MAX_TIMER_MS });
  return { ...resolveAdminClientConfig(flags, env), refreshRateMs };
}

/** `zizq tls <action>` with every per-action default filled in. */
export interface TlsCommandOptions {
  action: TlsAction;
  /** Where PEM files are written (absolute). @default "<dir>/tls" */
  outDir: string;
  /** Replace existing files instead of skipping them. @default false */
  overwrite: boolean;
  /** Validity of the certificate(s) this action issues. For `init`: server and client certs. @default 3650 for `ca`, else 365 */
  days: number;
  /** `init` only: CA validity. @default 3650 */
  caDays: number;
  /** CA used for signing (read) or written by `init`/`ca`. @default "<outDir>/ca-cert.pem" */
  caCertPath: string;
  /** @default "<outDir>/ca-key.pem" */
  caKeyPath: string;
  /** Subject CN of the certificate the action is about (the CA for `init`). @default "Zizq CA" (init, ca), "Zizq Server" (server-cert), the name (client-cert) */
  cn: string;
  /** Server certificate SANs. @default ["localhost"] */
  sans: string[];
  /** `init`: client certificates to issue too; `client-cert`: exactly `[name]`. @default [] */
  clients: string[];
}

/** Client names become file names (`client-<name>-cert.pem`), so keep them path-safe. */
const CLIENT_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

export function resolveTlsCommandOptions(
  action: string,
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): TlsCommandOptions {
  if (!(TLS_ACTIONS as readonly string[]).includes(action)) {
    throw new ConfigError(`tls: unknown action ${JSON.stringify(action)} (use ${TLS_ACTIONS.join(", ")})`);
  }
  const tlsAction = action as TlsAction;
  const read = createFlagReader(flags, env, TLS_FLAGS);
  const outDir = read.optionalPath("out-dir") ?? path.join(resolveRootDir(flags, env), "tls");
  const name = read.optionalString("name");
  if (tlsAction === "client-cert" && name === undefined) throw new ConfigError("tls client-cert needs --name");
  const clients = tlsAction === "client-cert" ? [name!] : read.list("client");
  for (const client of clients) {
    if (!CLIENT_NAME.test(client)) {
      throw new ConfigError(`client name ${JSON.stringify(client)} may only use letters, digits, '.', '_' and '-'`);
    }
  }
  const sans = read.list("san");
  const defaultCn = { init: "Zizq CA", ca: "Zizq CA", "server-cert": "Zizq Server", "client-cert": name! }[tlsAction];
  return {
    action: tlsAction,
    outDir,
    overwrite: read.bool("overwrite"),
    days: read.optionalInteger("days", { min: 1, max: MAX_CERT_DAYS }) ?? (tlsAction === "ca" ? 3650 : 365),
    caDays: read.integer("ca-days", { min: 1, max: MAX_CERT_DAYS }),
    caCertPath: read.optionalPath("ca-cert") ?? path.join(outDir, "ca-cert.pem"),
    caKeyPath: read.optionalPath("ca-key") ?? path.join(outDir, "ca-key.pem"),
    cn: read.optionalString("cn") ?? defaultCn,
    sans: sans.length > 0 ? sans : ["localhost"],
    clients,
  };
}
