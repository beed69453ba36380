// Config resolution: defaults, flag > env > default for every serve flag (table-driven,
// and the table must cover every env twin in flags.ts), and the validation errors.

import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import {
  ConfigError,
  resolveAdminClientConfig,
  resolveServeConfig,
  resolveTlsCommandOptions,
  type ServeConfig,
} from "../../lib/cli/config.ts";
import { GLOBAL_FLAGS, SERVE_FLAGS } from "../../lib/cli/flags.ts";

const serve = (flags: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = {}) =>
  resolveServeConfig(flags, env, { stderrIsTTY: false });

const MIB = 2 ** 20;

describe("resolveServeConfig defaults", () => {
  it("matches the documented defaults", () => {
    const dir = path.resolve("zizq-root");
    assert.deepEqual(serve(), {
      dir,
      host: "127.0.0.1",
      port: 7890,
      adminHost: "127.0.0.1",
      adminPort: 8901,
      adminEnabled: true,
      warmUp: false,
      tls: undefined,
      adminTls: undefined,
      heartbeatIntervalMs: 3000,
      globalInFlightLimit: 1024,
      maxBudgets: 8192,
      defaultRetryLimit: 25,
      defaultBackoffExponent: 4,
      defaultBackoffBaseMs: 15_000,
      defaultBackoffJitterMs: 30_000,
      defaultCompletedRetentionMs: 0,
      defaultDeadRetentionMs: 604_800_000,
      reaperCheckIntervalMs: 30_000,
      defaultCommitMode: "buffered",
      enqueueCommitMode: undefined,
      cacheBytes: 64_000_000,
      enqueueBatchSize: 1000,
      completeBatchSize: 1000,
      segmentBytes: 64 * MIB,
      maxBodyBytes: 16 * MIB,
      defaultLeaseMs: 0,
      maxAbandons: 0,
      authTokensPath: undefined,
      log: { format: "compact", level: "info", dir: undefined, rotation: "daily", maxFileBytes: 100_000_000, maxFiles: 10 },
    } satisfies ServeConfig);
  });

  it("picks pretty logs on a TTY, compact otherwise and whenever logging to disk", () => {
    assert.equal(resolveServeConfig({}, {}, { stderrIsTTY: true }).log.format, "pretty");
    assert.equal(resolveServeConfig({}, {}, { stderrIsTTY: false }).log.format, "compact");
    assert.equal(resolveServeConfig({ "log-to-disk": true }, {}, { stderrIsTTY: true }).log.format, "compact");
    assert.equal(resolveServeConfig({ "log-format": "pretty", "log-to-disk": true }, {}, {}).log.format, "pretty");
  });
});

/** [flag, env value, expected from env, flag value, expected from flag, field]. */
type Row = [string, string, unknown, unknown, unknown, (config: ServeConfig) => unknown];
const tmp = (name: string) => path.resolve("/tmp/zizq-config-test", name);

const ROWS: Row[] = [
  ["dir", tmp("a"), tmp("a"), tmp("b"), tmp("b"), (c) => c.dir],
  ["host", "0.0.0.0", "0.0.0.0", "::1", "::1", (c) => c.host],
  ["port", "7000", 7000, "0", 0, (c) => c.port],
  ["admin-host", "0.0.0.0", "0.0.0.0", "::1", "::1", (c) => c.adminHost],
  ["admin-port", "9000", 9000, "0", 0, (c) => c.adminPort],
  ["no-admin", "true", false, true, false, (c) => c.adminEnabled],
  ["warm-up", "1", true, true, true, (c) => c.warmUp],
  ["tls-cert", tmp("c.pem"), tmp("c.pem"), tmp("d.pem"), tmp("d.pem"), (c) => c.tls?.certPath],
  ["tls-key", tmp("k.pem"), tmp("k.pem"), tmp("l.pem"), tmp("l.pem"), (c) => c.tls?.keyPath],
  ["tls-client-ca", tmp("ca.pem"), tmp("ca.pem"), tmp("cb.pem"), tmp("cb.pem"), (c) => c.tls?.clientCaPath],
  ["admin-tls-cert", tmp("c.pem"), tmp("c.pem"), tmp("d.pem"), tmp("d.pem"), (c) => c.adminTls?.certPath],
  ["admin-tls-key", tmp("k.pem"), tmp("k.pem"), tmp("l.pem"), tmp("l.pem"), (c) => c.adminTls?.keyPath],
  ["admin-tls-client-ca", tmp("ca.pem"), tmp("ca.pem"), tmp("cb.pem"), tmp("cb.pem"), (c) => c.adminTls?.clientCaPath],
  ["heartbeat-interval", "500ms", 500, "1s", 1000, (c) => c.heartbeatIntervalMs],
  ["global-in-flight-limit", "0", 0, "50", 50, (c) => c.globalInFlightLimit],
  ["max-budgets", "1", 1, "20000", 20_000, (c) => c.maxBudgets],
  ["default-retry-limit", "3", 3, "0", 0, (c) => c.defaultRetryLimit],
  ["default-backoff-exponent", "2.5", 2.5, "1", 1, (c) => c.defaultBackoffExponent],
  ["default-backoff-base", "1m", 60_000, "250", 250, (c) => c.defaultBackoffBaseMs],
  ["default-backoff-jitter", "0", 0, "2s", 2000, (c) => c.defaultBackoffJitterMs],
  ["default-completed-job-retention", "1h", 3_600_000, "1d", 86_400_000, (c) => c.defaultCompletedRetentionMs],
  ["default-dead-job-retention", "0", 0, "2w", 1_209_600_000, (c) => c.defaultDeadRetentionMs],
  ["reaper-check-interval", "5s", 5000, "10ms", 10, (c) => c.reaperCheckIntervalMs],
  ["default-commit-mode", "fsync", "fsync", "buffered", "buffered", (c) => c.defaultCommitMode],
  ["enqueue-commit-mode", "fsync", "fsync", "buffered", "buffered", (c) => c.enqueueCommitMode],
  ["cache-size", "1GiB", 2 ** 30, "10MB", 10_000_000, (c) => c.cacheBytes],
  ["enqueue-batch-size", "10", 10, "1", 1, (c) => c.enqueueBatchSize],
  ["complete-batch-size", "20", 20, "2", 2, (c) => c.completeBatchSize],
  ["segment-size", "1MiB", MIB, "8MiB", 8 * MIB, (c) => c.segmentBytes],
  ["max-body-size", "1MB", 1_000_000, "100", 100, (c) => c.maxBodyBytes],
  ["log-format", "json", "json", "pretty", "pretty", (c) => c.log.format],
  ["log-level", "debug", "debug", "error", "error", (c) => c.log.level],
  ["log-to-disk", "1", path.join(tmp("a"), "log"), true, path.join(tmp("a"), "log"), (c) => c.log.dir],
  ["log-dir", tmp("logs"), tmp("logs"), tmp("logs2"), tmp("logs2"), (c) => c.log.dir],
  ["log-rotation", "hourly", "hourly", "never", "never", (c) => c.log.rotation],
  ["log-max-size", "1KiB", 1024, "0", 0, (c) => c.log.maxFileBytes],
  ["log-max-files", "3", 3, "1", 1, (c) => c.log.maxFiles],
  ["default-lease", "30s", 30_000, "5m", 300_000, (c) => c.defaultLeaseMs],
  ["max-abandons", "5", 5, "0", 0, (c) => c.maxAbandons],
  ["auth-tokens", tmp("tokens"), tmp("tokens"), tmp("tokens2"), tmp("tokens2"), (c) => c.authTokensPath],
];

/** Companions a row needs to be valid on its own (a TLS key needs its cert, ...). */
function companions(flag: string): { flags: Record<string, unknown>; env: NodeJS.ProcessEnv } {
  const prefix = flag.startsWith("admin-tls") ? "admin-" : "";
  const flags: Record<string, unknown> = { dir: tmp("a") };
  if (flag.includes("tls-")) {
    if (!flag.endsWith("tls-cert")) flags[`${prefix}tls-cert`] = tmp("x-cert.pem");
    if (!flag.endsWith("tls-key")) flags[`${prefix}tls-key`] = tmp("x-key.pem");
  }
  if (flag === "dir") delete flags["dir"];
  return { flags, env: {} };
}

const envOf = (flag: string) => {
  const spec = [...GLOBAL_FLAGS, ...SERVE_FLAGS].find((candidate) => candidate.name === flag)!;
  return spec.env[0]!;
};

describe("every serve flag has a working env twin, and the flag beats it", () => {
  for (const [flag, envValue, fromEnv, flagValue, fromFlag, pick] of ROWS) {
    it(`--${flag} / ${envOf(flag)}`, () => {
      const base = companions(flag);
      const env = { [envOf(flag)]: envValue };
      assert.deepEqual(pick(serve(base.flags, env)), fromEnv, "env twin");
      // mri reports --no-admin as admin: false; everything else under its own name.
      const negated = flag.startsWith("no-");
      const flagEntry = negated ? { [flag.slice(3)]: false } : { [flag]: flagValue };
      const wrongEnv = negated ? { [envOf(flag)]: "false" } : env;
      assert.deepEqual(pick(serve({ ...base.flags, ...flagEntry }, wrongEnv)), fromFlag, "flag over env");
    });
  }

  it("the table covers every serve flag that has an env twin", () => {
    const ignored = new Set(["license-key", "license-key-check-interval", "root-dir"]);
    const covered = new Set(ROWS.map((row) => row[0]));
    const missing = [...GLOBAL_FLAGS, ...SERVE_FLAGS]
      .filter((spec) => spec.env.length > 0 && !ignored.has(spec.name) && !covered.has(spec.name))
      .map((spec) => spec.name);
    assert.deepEqual(missing, []);
  });

  it("accepts the root-dir alias and ZIZQ_ROOT_DIR", () => {
    assert.equal(serve({ "root-dir": tmp("r") }).dir, tmp("r"));
    assert.equal(serve({}, { ZIZQ_ROOT_DIR: tmp("r") }).dir, tmp("r"));
    assert.equal(serve({ "root-dir": tmp("r") }, { ZIZQ_DIR: tmp("e") }).dir, tmp("r"));
  });

  it("accepts and ignores the license key flags", () => {
    const config = serve({ "license-key": "abc", k: "abc" }, { ZIZQ_LICENSE_KEY_CHECK_INTERVAL: "bogus" });
    assert.deepEqual(config, serve());
  });

  it("falls back to the default when neither flag nor env is given, and treats empty env as unset", () => {
    assert.equal(serve({}, { ZIZQ_PORT: "" }).port, 7890);
  });

  it("takes the last of repeated flags", () => {
    assert.equal(serve({ port: ["1", "2"] }).port, 2);
  });
});

describe("resolveServeConfig validation", () => {
  const rejects = (flags: Record<string, unknown>, env: NodeJS.ProcessEnv, message: RegExp) =>
    assert.throws(() => serve(flags, env), (error: Error) => error instanceof ConfigError && message.test(error.message));

  it("refuses a partial TLS pair, for either listener", () => {
    rejects({ "tls-cert": "c.pem" }, {}, /^--tls-cert needs --tls-key/);
    rejects({}, { ZIZQ_TLS_KEY: "k.pem" }, /^--tls-key needs --tls-cert/);
    rejects({ "admin-tls-key": "k.pem" }, {}, /^--admin-tls-key needs --admin-tls-cert/);
  });

  it("refuses a client CA without cert and key", () => {
    rejects({ "tls-client-ca": "ca.pem" }, {}, /--tls-client-ca needs --tls-cert and --tls-key/);
    rejects({}, { ZIZQ_ADMIN_TLS_CLIENT_CA: "ca.pem" }, /--admin-tls-client-ca needs/);
  });

  it("refuses a bad commit mode and names the source", () => {
    rejects({ "default-commit-mode": "sync" }, {}, /^--default-commit-mode: "sync" is not one of buffered, fsync$/);
    rejects({}, { ZIZQ_ENQUEUE_COMMIT_MODE: "always" }, /^ZIZQ_ENQUEUE_COMMIT_MODE: "always"/);
  });

  it("refuses malformed and out-of-range values with the flag or env name", () => {
    rejects({}, { ZIZQ_HEARTBEAT_INTERVAL: "soon" }, /^ZIZQ_HEARTBEAT_INTERVAL: invalid duration "soon"/);
    rejects({ "default-lease": "30 parsecs" }, {}, /^--default-lease: invalid duration "30 parsecs"/);
    rejects({ "default-lease": "8d" }, {}, /^--default-lease: /);
    rejects({}, { ZIZQ_MAX_ABANDONS: "-1" }, /^ZIZQ_MAX_ABANDONS: /);
    rejects({ "cache-size": "lots" }, {}, /^--cache-size: invalid size "lots"/);
    rejects({ port: "70000" }, {}, /^--port: "70000" is above the maximum 65535/);
    rejects({ port: "-1" }, {}, /^--port: "-1" is not a non-negative integer/);
    rejects({ "segment-size": "512KiB" }, {}, /^--segment-size: "512KiB" is below the minimum 1048576 bytes/);
    rejects({ "segment-size": "2GiB" }, {}, /above the maximum/);
    rejects({ "heartbeat-interval": "0" }, {}, /below the minimum 1ms/);
    // Timer-driven: Node runs a timer over 2^31 - 1 ms after 1 ms (heartbeats nonstop).
    rejects({ "heartbeat-interval": "25d" }, {}, /^--heartbeat-interval: "25d" is above the maximum 2147483647ms/);
    rejects({}, { ZIZQ_REAPER_CHECK_INTERVAL: "1y" }, /^ZIZQ_REAPER_CHECK_INTERVAL: "1y" is above the maximum 2147483647ms/);
    rejects({ "default-backoff-base": "60d" }, {}, /above the maximum/);
    rejects({ "default-backoff-exponent": "fast" }, {}, /is not a number/);
    rejects({ "log-max-files": "0" }, {}, /below the minimum/);
    rejects({ "log-level": "verbose" }, {}, /trace, debug, info, warn, error/);
    rejects({}, { ZIZQ_NO_ADMIN: "maybe" }, /^ZIZQ_NO_ADMIN: "maybe" is not a boolean/);
  });

  it("refuses a value flag given without a value", () => {
    rejects({ port: true }, {}, /^--port needs a value$/);
    rejects({ dir: "" }, {}, /^--dir needs a value$/);
  });

  it("refuses --dir and --root-dir (or their env vars) that disagree", () => {
    rejects({ dir: "a", "root-dir": "b" }, {}, /--dir and --root-dir disagree/);
    rejects({}, { ZIZQ_DIR: "a", ZIZQ_ROOT_DIR: "b" }, /ZIZQ_DIR and ZIZQ_ROOT_DIR disagree/);
    assert.equal(serve({ dir: tmp("a"), "root-dir": tmp("a") }).dir, tmp("a"));
  });
});

describe("resolveAdminClientConfig", () => {
  it("defaults to the local admin listener", () => {
    assert.deepEqual(resolveAdminClientConfig({}, {}), {
      url: "http://127.0.0.1:8901",
      caCertPath: undefined,
      clientCertPath: undefined,
      clientKeyPath: undefined,
    });
  });

  it("reads the env twins, lets flags win, and strips a trailing slash", () => {
    const env = {
      ZIZQ_ADMIN_URL: "https://queue.internal:8901/",
      ZIZQ_ADMIN_TLS_CA: "/etc/zizq/ca.pem",
      ZIZQ_ADMIN_TLS_CLIENT_CERT: "/etc/zizq/c.pem",
      ZIZQ_ADMIN_TLS_CLIENT_KEY: "/etc/zizq/k.pem",
    };
    assert.deepEqual(resolveAdminClientConfig({}, env), {
      url: "https://queue.internal:8901",
      caCertPath: "/etc/zizq/ca.pem",
      clientCertPath: "/etc/zizq/c.pem",
      clientKeyPath: "/etc/zizq/k.pem",
    });
    assert.equal(resolveAdminClientConfig({ url: "https://other:1" }, env).url, "https://other:1");
  });

  it("refuses an unpaired client cert, a non-http URL, and TLS files with http://", () => {
    assert.throws(() => resolveAdminClientConfig({ "client-cert": "c.pem", url: "https://x" }, {}), /given together/);
    assert.throws(() => resolveAdminClientConfig({ url: "ftp://x" }, {}), /must start with http/);
    assert.throws(() => resolveAdminClientConfig({ url: "not a url" }, {}), /is not a URL/);
    assert.throws(() => resolveAdminClientConfig({ "ca-cert": "ca.pem" }, {}), /need an https/);
    assert.throws(() => resolveAdminClientConfig({ token: "has space" }, {}), /--token must be printable ASCII without spaces/);
  });

  it("--token / ZIZQ_TOKEN, the flag winning", () => {
    assert.equal(resolveAdminClientConfig({}, { ZIZQ_TOKEN: "from-env-0123456789" }).token, "from-env-0123456789");
    assert.equal(resolveAdminClientConfig({ token: "from-flag-0123456789" }, { ZIZQ_TOKEN: "e" }).token, "from-flag-0123456789");
  });
});

describe("resolveTlsCommandOptions", () => {
  it("fills per-action defaults under <dir>/tls", () => {
    const options = resolveTlsCommandOptions("init", { dir: tmp("root") }, {});
    assert.deepEqual(options, {
      action: "init",
      outDir: path.join(tmp("root"), "tls"),
      overwrite: false,
      days: 365,
      caDays: 3650,
      caCertPath: path.join(tmp("root"), "tls", "ca-cert.pem"),
      caKeyPath: path.join(tmp("root"), "tls", "ca-key.pem"),
      cn: "Zizq CA",
      sans: ["localhost"],
      clients: [],
    });
    assert.equal(resolveTlsCommandOptions("ca", {}, {}).days, 3650);
    assert.equal(resolveTlsCommandOptions("server-cert", {}, {}).cn, "Zizq Server");
    assert.deepEqual(resolveTlsCommandOptions("server-cert", { san: ["a", "b"] }, {}).sans, ["a", "b"]);
    const client = resolveTlsCommandOptions("client-cert", { name: "worker-1" }, {});
    assert.deepEqual([client.cn, client.clients], ["worker-1", ["worker-1"]]);
  });

  it("refuses unknown actions, a missing --name, and path-like client names", () => {
    assert.throws(() => resolveTlsCommandOptions("rotate", {}, {}), /unknown action "rotate"/);
    assert.throws(() => resolveTlsCommandOptions("client-cert", {}, {}), /needs --name/);
    assert.throws(() => resolveTlsCommandOptions("client-cert", { name: "../x" }, {}), /may only use/);
    assert.throws(() => resolveTlsCommandOptions("init", { client: "a/b" }, {}), /may only use/);
    // Past any date an X.509 certificate can hold: refused, not written broken.
    assert.throws(() => resolveTlsCommandOptions("init", { days: "99999999" }, {}), /^ConfigError: --days: "99999999" is above the maximum 36525/);
    assert.throws(() => resolveTlsCommandOptions("init", { "ca-days": "40000" }, {}), /--ca-days: "40000" is above the maximum 36525/);
  });
});
