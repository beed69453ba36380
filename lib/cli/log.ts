// The server's logger: pino, writing json / compact / pretty lines to stderr, or to
// `<log dir>/zizq.log` rotated by time and size with a bounded number of old files.
// Created once by main.ts before `serve` starts; flushLogger() before the process exits.

import { closeSync, mkdirSync, openSync } from "node:fs";
import path from "node:path";
import { pino, type DestinationStream, type Logger } from "pino";
import { createStream, type RotatingFileStream } from "rotating-file-stream";
import { ConfigError } from "./_read-flags.ts";
import type { LogConfig } from "./config.ts";
import { formatCompact, formatPretty } from "./_log-format.ts";

export const LOG_FILE_NAME = "zizq.log";

export interface LoggerOptions {
  /** Where non-file logs go. @default a synchronous stderr (fd 2) destination */
  stderr?: DestinationStream;
  /** Colour the pretty format. @default stderr is a TTY and NO_COLOR is unset */
  color?: boolean;
}

const closers = new WeakMap<Logger, () => Promise<void>>();

export function createLogger(config: LogConfig, options: LoggerOptions = {}): Logger {
  const file = config.dir === undefined ? undefined : openLogFile(config);
  // Synchronous stderr writes: the last lines before a crash are the ones that matter.
  const sink: DestinationStream = file ?? options.stderr ?? pino.destination({ fd: 2, sync: true });
  const color = file === undefined && (options.color ?? (Boolean(process.stderr.isTTY) && !process.env["NO_COLOR"]));
  // Why not pino-pretty: it is a devDependency with a dozen transitive packages, and we
  // need our own compact format anyway; both human formats re-read pino's JSON line.
  const destination: DestinationStream =
    config.format === "json"
      ? sink
      : { write: (line: string) => void sink.write(config.format === "pretty" ? formatPretty(line, color) : formatCompact(line)) };

  const logger = pino(
    {
      level: config.level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
  closers.set(logger, async () => {
    if (!file) return;
    await new Promise<void>((resolve) => file.end(resolve));
  });
  return logger;
}

/** Writes out buffered lines and closes the log file, if any. Safe to call twice. */
export async function flushLogger(logger: Logger): Promise<void> {
  const close = closers.get(logger);
  closers.delete(logger);
  await close?.();
}

function openLogFile(config: LogConfig): RotatingFileStream {
  const dir = config.dir!;
  // Checked before the server starts: the stream reports a bad directory only as an
  // 'error' event, after which the server ran with every log line dropped and never
  // said which port it had taken (a --log-dir that was a file, an immutable dir).
  try {
    mkdirSync(dir, { recursive: true });
    closeSync(openSync(path.join(dir, LOG_FILE_NAME), "a"));
  } catch (error) {
    throw new ConfigError(`cannot write the log file in ${dir}: ${(error as Error).message}`);
  }
  // The live file is always zizq.log, so `tail -F` survives rotations. Rotated files are
  // named after the UTC second they were rotated: stamping the period start instead
  // makes the library reuse freed counters, and names stop sorting by age.
  const name = (time: number | Date | null, index?: number): string => {
    if (time === null) return LOG_FILE_NAME;
    const stamp = new Date(time).toISOString().slice(0, 19).replace(/[-:]/g, "").replace("T", "-");
    return `zizq.${stamp}.${index ?? 1}.log`;
  };
  const stream = createStream(name as (time: number | Date, index?: number) => string, {
    path: dir,
    // Rotation happens on UTC day/hour boundaries, not 24h after the server started.
    ...(config.rotation === "never" ? {} : { interval: config.rotation === "daily" ? "1d" : "1h", intervalUTC: true }),
    ...(config.maxFileBytes > 0 ? { size: `${config.maxFileBytes}B` } : {}),
    maxFiles: config.maxFiles,
    // The history file must live in the log directory too; nothing is written elsewhere.
    history: `${LOG_FILE_NAME}.history`,
  });
  // A full disk must not crash the server through an unhandled 'error' event.
  stream.on("error", (error) => process.stderr.write(`zizq: log file error: ${error.message}\n`));
  return stream;
}
