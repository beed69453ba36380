// The one table of CLI flags: name, short alias, env twins, default and help text.
// main.ts registers these with sade, config.ts resolves them, tests check every env twin
// and docs/operations.md mirrors them. Defaults are strings in the flag's own units so the
// help text and the parsed default cannot drift apart.

export interface FlagSpec {
  /** Long flag name without dashes, e.g. `heartbeat-interval`. */
  name: string;
  /** One-letter alias, e.g. `l` for `--global-in-flight-limit`. */
  short?: string;
  /** Environment twins, highest priority first. */
  env: string[];
  /** Default in the flag's own syntax; absent = unset. */
  default?: string;
  /** Boolean switch (no value). */
  boolean?: true;
  /** Repeatable (`--san a --san b`); the value is a list. */
  repeatable?: true;
  description: string;
}

const flag = (name: string, description: string, extra: Partial<FlagSpec> = {}): FlagSpec => ({
  name,
  description,
  env: [`ZIZQ_${name.toUpperCase().replaceAll("-", "_")}`],
  ...extra,
});

/** Accepted by every subcommand: the root directory and the reference's license key. */
export const GLOBAL_FLAGS: FlagSpec[] = [
  flag("dir", "Root directory: the store in <dir>, logs in <dir>/log", {
    env: ["ZIZQ_DIR", "ZIZQ_ROOT_DIR"],
    default: "./zizq-root",
  }),
  flag("root-dir", "Alias of --dir (reference name)", { env: [] }),
  flag("license-key", "Accepted for compatibility and ignored: every feature is free", { short: "k" }),
];

export const SERVE_FLAGS: FlagSpec[] = [
  flag("host", "Primary listener address", { default: "127.0.0.1" }),
  flag("port", "Primary listener port; 0 picks a free port", { default: "7890" }),
  flag("admin-host", "Admin listener address", { default: "127.0.0.1" }),
  flag("admin-port", "Admin listener port; 0 picks a free port", { default: "8901" }),
  flag("no-admin", "Do not start the admin listener", { boolean: true }),
  flag("warm-up", "Warm the hot paths up before ready (~0.5 s at start): a fast first second", { boolean: true }),
  flag("tls-cert", "PEM certificate for the primary listener (needs --tls-key)"),
  flag("tls-key", "PEM private key for the primary listener (needs --tls-cert)"),
  flag("tls-client-ca", "PEM CA bundle: require client certificates (mTLS) on the primary listener"),
  flag("admin-tls-cert", "PEM certificate for the admin listener (needs --admin-tls-key)"),
  flag("admin-tls-key", "PEM private key for the admin listener (needs --admin-tls-cert)"),
  flag("admin-tls-client-ca", "PEM CA bundle: require client certificates on the admin listener"),
  flag("heartbeat-interval", "Empty frame on idle take streams after this much silence", { default: "3s" }),
  flag("global-in-flight-limit", "Max in-flight jobs server-wide; 0 = no limit", { short: "l", default: "1024" }),
  flag("max-budgets", "Most budgets (rate and concurrency limits) that may exist", { default: "8192" }),
  flag("default-retry-limit", "Failures allowed before a job is dead, unless the job overrides it", {
    default: "25",
  }),
  flag("default-backoff-exponent", "Retry backoff exponent", { default: "4" }),
  flag("default-backoff-base", "Retry backoff base delay", { default: "15s" }),
  flag("default-backoff-jitter", "Retry backoff random jitter (upper bound)", { default: "30s" }),
  flag("default-completed-job-retention", "Keep completed jobs this long; 0 = delete on ack", { default: "0" }),
  flag("default-dead-job-retention", "Keep dead jobs this long; 0 = delete at death", { default: "7d" }),
  flag("reaper-check-interval", "How often expired completed/dead jobs are purged", { default: "30s" }),
  flag("default-commit-mode", "buffered (written to the OS before replying) or fsync", { default: "buffered" }),
  flag("enqueue-commit-mode", "Commit mode for enqueues only; unset = --default-commit-mode"),
  flag("cache-size", "Payload cache budget (bytes in memory)", { default: "64MB" }),
  flag("enqueue-batch-size", "Max enqueues coalesced into one write", { default: "1000" }),
  flag("complete-batch-size", "Max acks coalesced into one write", { default: "1000" }),
  flag("segment-size", "Size of each preallocated log segment (1MiB..1GiB)", { default: "64MiB" }),
  flag("max-body-size", "Largest accepted request body", { default: "16MiB" }),
  flag("log-format", "pretty, compact or json; unset: pretty on a TTY, else compact"),
  flag("log-level", "trace, debug, info, warn or error", { default: "info" }),
  flag("log-to-disk", "Log to <dir>/log/zizq.log instead of stderr", { boolean: true }),
  flag("log-dir", "Log to <log-dir>/zizq.log (implies --log-to-disk)"),
  flag("log-rotation", "Start a new log file daily, hourly or never", { default: "daily" }),
  flag("log-max-size", "Start a new log file past this size; 0 = no size limit", { default: "100MB" }),
  flag("log-max-files", "Rotated log files kept beside the live zizq.log", { default: "10" }),
  flag("license-key-check-interval", "Accepted for compatibility and ignored"),
  // Production controls (docs/api.md "Extensions"); all off by default.
  flag("default-lease", "Lease on jobs taken by streams without ?lease=; 0 = no lease", { default: "0" }),
  flag("auth-tokens", "File of `scope token` lines (read, write, admin): require Bearer tokens; reloaded on SIGHUP"),
  flag("max-abandons", "Deliveries ended with no ack/nack before a job dies; 0 = never", { default: "0" }),
];

/** Shared by `top`, `backup` and `compact`. */
export const ADMIN_CLIENT_FLAGS: FlagSpec[] = [
  flag("url", "Admin API base URL", { env: ["ZIZQ_ADMIN_URL"], default: "http://127.0.0.1:8901" }),
  flag("ca-cert", "PEM CA bundle to verify an https:// admin server", { env: ["ZIZQ_ADMIN_TLS_CA"] }),
  flag("client-cert", "PEM client certificate for mTLS (needs --client-key)", {
    env: ["ZIZQ_ADMIN_TLS_CLIENT_CERT"],
  }),
  flag("client-key", "PEM client key for mTLS (needs --client-cert)", { env: ["ZIZQ_ADMIN_TLS_CLIENT_KEY"] }),
  flag("token", "Access token sent as `Authorization: Bearer` (a server with --auth-tokens)"),
];

export const TOP_FLAGS: FlagSpec[] = [
  flag("refresh-rate", "Screen refresh interval", { short: "r", env: [], default: "500ms" }),
];

/** `zizq tls <init|ca|server-cert|client-cert>`; not every flag applies to every action. */
export const TLS_FLAGS: FlagSpec[] = [
  flag("out-dir", "Where the PEM files go (default <dir>/tls)", { env: [] }),
  flag("overwrite", "Replace existing files (otherwise they are skipped)", { env: [], boolean: true }),
  flag("days", "Certificate validity in days (CA: 3650, others: 365)", { env: [] }),
  flag("ca-days", "init: CA validity in days", { env: [], default: "3650" }),
  flag("ca-cert", "Existing CA certificate to sign with (default <out-dir>/ca-cert.pem)", { env: [] }),
  flag("ca-key", "Existing CA key to sign with (default <out-dir>/ca-key.pem)", { env: [] }),
  flag("cn", "Common name (CA: \"Zizq CA\", server: \"Zizq Server\")", { env: [] }),
  flag("san", "Subject alternative name, repeatable (default localhost)", { env: [], repeatable: true }),
  flag("client", "init: also issue a client certificate with this name, repeatable", {
    env: [],
    repeatable: true,
  }),
  flag("name", "client-cert: the client's name (required)", { env: [] }),
];

/** Flag keys as mri reports them: `--no-admin` arrives as `admin: false`. */
export function parsedKeysOf(specs: FlagSpec[]): string[] {
  return specs.flatMap((spec) => [
    spec.name,
    ...(spec.short ? [spec.short] : []),
    ...(spec.name.startsWith("no-") ? [spec.name.slice(3)] : []),
  ]);
}
