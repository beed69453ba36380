// The `zizq` program: parses argv with sade, resolves the subcommand's configuration and
// runs it. Each subcommand's module is imported only when it runs, so `--help` and
// `--version` stay fast. Exit codes: 0 ok, 1 runtime failure, 2 bad flags or config.

import { readFileSync } from "node:fs";
import sade from "sade";
import {
  ADMIN_CLIENT_FLAGS,
  GLOBAL_FLAGS,
  parsedKeysOf,
  SERVE_FLAGS,
  TLS_FLAGS,
  TOP_FLAGS,
  type FlagSpec,
} from "./flags.ts";
import {
  ConfigError,
  resolveAdminClientConfig,
  resolveRootDir,
  resolveServeConfig,
  resolveTlsCommandOptions,
  resolveTopConfig,
} from "./config.ts";

/** Set by the single-executable build (bin/build-exe.mjs), which has no package.json beside it. */
declare const __ZIZQ_VERSION__: string | undefined;

export const VERSION: string = typeof __ZIZQ_VERSION__ === "string"
  ? __ZIZQ_VERSION__
  : (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;

/** Flags each subcommand accepts besides GLOBAL_FLAGS; anything else is a typo we report. */
const COMMAND_FLAGS: Record<string, FlagSpec[]> = {
  serve: SERVE_FLAGS,
  top: [...ADMIN_CLIENT_FLAGS, ...TOP_FLAGS],
  backup: ADMIN_CLIENT_FLAGS,
  restore: [],
  compact: ADMIN_CLIENT_FLAGS,
  tls: TLS_FLAGS,
};

function describe(spec: FlagSpec): string {
  const env = spec.env.length > 0 ? ` [${spec.env.join(", ")}]` : "";
  const fallback = spec.default === undefined ? "" : ` (default ${spec.default})`;
  return `${spec.description}${env}${fallback}`;
}

function buildProgram() {
  const program = sade("zizq").version(VERSION);
  const addFlags = (specs: FlagSpec[]) => {
    for (const spec of specs) program.option(`${spec.short ? `-${spec.short}, ` : ""}--${spec.name}`, describe(spec));
  };
  addFlags(GLOBAL_FLAGS);
  program
    .command("serve", "Run the job queue server (the default when no command is given).", { default: true })
    .example("serve --dir /var/lib/zizq --port 7890")
    .example("--port 0 --log-format json");
  addFlags(SERVE_FLAGS);
  program.command("top", "Live view of a running server over its admin listener.");
  addFlags(COMMAND_FLAGS["top"]!);
  program.command("backup <file>", "Save a consistent tar.gz snapshot of a running server to <file>.");
  program.example("backup ./backups/zizq-$(date +%F).tar.gz");
  addFlags(ADMIN_CLIENT_FLAGS);
  program.command("restore <archive>", "Unpack a backup into an empty --dir. Run it with the server stopped.");
  program.example("restore ./backups/zizq.tar.gz --dir ./zizq-root");
  program.command("compact", "Ask a running server to compact its storage now.");
  addFlags(ADMIN_CLIENT_FLAGS);
  program.command("tls <action>", "Create TLS certificates; action is init, ca, server-cert or client-cert.");
  program.example("tls init --san localhost --client worker");
  addFlags(TLS_FLAGS);
  return program;
}

/** Runs the CLI and returns the process exit code; `argv` is `process.argv` (node, script, ...args). */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const args = argv.slice(2);
  const beforeSeparator = args.includes("--") ? args.slice(0, args.indexOf("--")) : args;
  if (beforeSeparator.includes("--version") || beforeSeparator.includes("-v")) {
    process.stdout.write(`zizq ${VERSION}\n`);
    return 0;
  }
  const allSpecs = [...GLOBAL_FLAGS, ...Object.values(COMMAND_FLAGS).flat()];
  // All values stay strings: mri would otherwise turn `--dir 0123` into the number 123.
  const parsed: sade.LazyOutput | undefined = buildProgram().parse(argv, {
    lazy: true,
    string: allSpecs.filter((spec) => !spec.boolean).map((spec) => spec.name),
    boolean: allSpecs.filter((spec) => spec.boolean && !spec.name.startsWith("no-")).map((spec) => spec.name),
  });
  if (!parsed) return 0; // --help was printed
  // sade's lazy output is [...positional, mriResult]; its typings call all of it string[].
  const positional = parsed.args.slice(0, -1);
  const flags = parsed.args.at(-1) as unknown as Record<string, unknown> & { _: string[] };
  try {
    checkFlags(parsed.name, flags);
    return await run(parsed.name, positional, flags, env);
  } catch (error) {
    process.stderr.write(`zizq: ${(error as Error).message}\n`);
    return error instanceof ConfigError ? 2 : 1;
  }
}

function checkFlags(command: string, flags: Record<string, unknown> & { _: string[] }): void {
  if (flags._.length > 0) {
    throw new ConfigError(`unexpected argument ${JSON.stringify(flags._[0])} for "zizq ${command}" (see zizq --help)`);
  }
  const known = new Set(["_", "h", "help", "v", "version", ...parsedKeysOf(GLOBAL_FLAGS)]);
  for (const key of parsedKeysOf(COMMAND_FLAGS[command] ?? [])) known.add(key);
  for (const key of Object.keys(flags)) {
    if (!known.has(key)) {
      throw new ConfigError(`unknown option ${key.length === 1 ? "-" : "--"}${key} for "zizq ${command}"`);
    }
    // `--no-x` arrives as x=false, so x is a known key; but `--x`, `--x=false` arrived as
    // x=true or the text "false", which passed as known and did nothing (`--admin=false`
    // started the admin listener). Only the bare `--no-x` is a flag.
    const specs = [...GLOBAL_FLAGS, ...(COMMAND_FLAGS[command] ?? [])];
    const negatedOnly = specs.some((spec) => spec.name === `no-${key}`) && !specs.some((spec) => spec.name === key);
    if (negatedOnly && flags[key] !== false) {
      throw new ConfigError(`unknown option --${key}${flags[key] === true ? "" : `=${String(flags[key])}`} for "zizq ${command}" (--no-${key} turns it off)`);
    }
  }
}

async function run(command: string, positional: string[], flags: Record<string, unknown>, env: NodeJS.ProcessEnv) {
  switch (command) {
    case "serve": {
      const config = resolveServeConfig(flags, env);
      const { createLogger, flushLogger } = await import("./log.ts");
      const logger = createLogger(config.log);
      try {
        await (await import("./serve.ts")).runServe(config, logger);
      } catch (error) {
        // stderr always gets the message (main's catch); a log file should record it too.
        if (config.log.dir !== undefined) logger.fatal({ err: error }, "server stopped with an error");
        throw error;
      } finally {
        await flushLogger(logger);
      }
      return 0;
    }
    case "top":
      return (await import("./top.ts")).runTop(resolveTopConfig(flags, env));
    case "backup": {
      const config = resolveAdminClientConfig(flags, env);
      const bytes = await (await import("./backup.ts")).runBackup(positional[0]!, config);
      process.stderr.write(`zizq: wrote ${bytes} bytes to ${positional[0]}\n`);
      return 0;
    }
    case "restore": {
      const dir = resolveRootDir(flags, env);
      const files = await (await import("./restore.ts")).runRestore(positional[0]!, dir);
      process.stderr.write(`zizq: restored ${files} files into ${dir}\n`);
      return 0;
    }
    case "compact":
      await (await import("./compact.ts")).runCompact(resolveAdminClientConfig(flags, env));
      process.stderr.write("zizq: compaction finished\n");
      return 0;
    case "tls": {
      const options = resolveTlsCommandOptions(positional[0]!, flags, env);
      await (await import("./tls.ts")).runTlsCommand(options.action, options);
      return 0;
    }
    default:
      throw new ConfigError(`unknown command ${JSON.stringify(command)}`);
  }
}
