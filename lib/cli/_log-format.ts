// Human renderings of one pino JSON line, for --log-format compact and pretty.
// compact: `<ISO time> <LEVEL> <msg> key=value ...` on a single line (greppable, files).
// pretty: local clock time, coloured level, msg, fields, and an error's stack below it.

const COLORS: Record<string, string> = {
  trace: "\x1b[90m",
  debug: "\x1b[36m",
  info: "\x1b[32m",
  warn: "\x1b[33m",
  error: "\x1b[31m",
  fatal: "\x1b[35m",
};
const DIM = "\x1b[2m";
const RESET = "\x1b[0m";

/** Fields every line has; the rest are printed as key=value. */
const FIXED = new Set(["level", "time", "msg", "pid", "hostname", "err"]);

interface Parsed {
  level: string;
  time: string;
  msg: string;
  err?: { message?: string; type?: string; stack?: string };
  fields: string[];
}

function parse(line: string): Parsed | undefined {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const fields = Object.keys(record)
    .filter((key) => !FIXED.has(key))
    .map((key) => `${key}=${renderValue(record[key])}`);
  return {
    level: String(record["level"] ?? "info"),
    time: String(record["time"] ?? ""),
    msg: String(record["msg"] ?? ""),
    err: record["err"] as Parsed["err"],
    fields,
  };
}

/** Strings stay bare unless they contain spaces or quotes, so lines stay easy to grep. */
function renderValue(value: unknown): string {
  if (typeof value === "string") return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? "undefined";
}

export function formatCompact(line: string): string {
  const record = parse(line);
  if (!record) return line.endsWith("\n") ? line : `${line}\n`;
  const err = record.err ? [`err=${renderValue(record.err.message ?? record.err.type ?? "error")}`] : [];
  return [record.time, record.level.toUpperCase(), record.msg, ...record.fields, ...err].join(" ") + "\n";
}

export function formatPretty(line: string, color: boolean): string {
  const record = parse(line);
  if (!record) return line.endsWith("\n") ? line : `${line}\n`;
  const paint = (code: string, text: string) => (color ? `${code}${text}${RESET}` : text);
  const clock = Number.isNaN(Date.parse(record.time))
    ? record.time
    : new Date(record.time).toTimeString().slice(0, 8) + "." + record.time.slice(20, 23);
  const level = paint(COLORS[record.level] ?? "", record.level.toUpperCase().padEnd(5));
  const fields = record.fields.length > 0 ? " " + paint(DIM, record.fields.join(" ")) : "";
  let text = `${paint(DIM, clock)} ${level} ${record.msg}${fields}\n`;
  if (record.err) {
    const stack = record.err.stack ?? `${record.err.type ?? "Error"}: ${record.err.message ?? ""}`;
    text += stack.split("\n").map((row) => `    ${row}`).join("\n") + "\n";
  }
  return text;
}
