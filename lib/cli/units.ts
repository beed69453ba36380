// Human units for CLI flags and ZIZQ_* env vars: durations ("1h30m") and sizes ("64MiB").
// Pure functions, no I/O; both throw an Error whose message quotes the bad value, so the
// caller only has to prefix the flag or env name.

const MS_PER_UNIT: Record<string, number> = {
  ms: 1, msec: 1, msecs: 1, millisecond: 1, milliseconds: 1,
  s: 1_000, sec: 1_000, secs: 1_000, second: 1_000, seconds: 1_000,
  m: 60_000, min: 60_000, mins: 60_000, minute: 60_000, minutes: 60_000,
  h: 3_600_000, hr: 3_600_000, hrs: 3_600_000, hour: 3_600_000, hours: 3_600_000,
  d: 86_400_000, day: 86_400_000, days: 86_400_000,
  w: 604_800_000, week: 604_800_000, weeks: 604_800_000,
  // A year is 365.25 days, as in the `humantime` crate the reference server parses with,
  // so `1y` means the same number of milliseconds on both servers.
  y: 31_557_600_000, year: 31_557_600_000, years: 31_557_600_000,
};

// Decision: plain SI prefixes are decimal (MB = 1000^2) and the IEC ones binary
// (MiB = 1024^2), as the reference's `bytesize` parsing and every disk vendor do.
// Treating MB as 1024^2 is tempting but makes `100MB` mean different things here and
// in the reference's docs. Bare K/M/G/T count as the decimal forms.
const BYTES_PER_UNIT: Record<string, number> = {
  b: 1,
  k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, t: 1e12, tb: 1e12,
  kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40,
};

const DURATION_HINT = "expected milliseconds or a duration like 500ms, 15s, 5m, 1h30m, 7d, 3w, 1y";
const SIZE_HINT = "expected bytes or a size like 512KB, 100MB, 64MiB, 1GiB";

/** One `<number><unit>` component, e.g. `1.5h`; spaces between components are allowed. */
const DURATION_PART = /\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*/gy;

/**
 * Parse a duration into whole milliseconds. A bare integer is milliseconds; otherwise one
 * or more `<number><unit>` parts are summed (`1h30m`, `1h 30m`, `1.5s`). Units are
 * case-insensitive: ms, s, m, h, d, w, y and their long forms (sec, minutes, days...).
 * @throws Error naming the value when it is empty, negative, unknown or too large.
 */
export function parseDurationMs(input: string): number {
  const text = input.trim();
  const fail = (why: string): never => {
    throw new Error(`invalid duration ${JSON.stringify(input)}: ${why}`);
  };
  if (text === "") fail(DURATION_HINT);
  if (/^\d+$/.test(text)) return checkSafe(Number(text), fail);

  const lower = text.toLowerCase();
  let total = 0;
  let position = 0;
  DURATION_PART.lastIndex = 0;
  for (let match = DURATION_PART.exec(lower); match; match = DURATION_PART.exec(lower)) {
    const perUnit = MS_PER_UNIT[match[2]!];
    if (perUnit === undefined) fail(`unknown unit "${match[2]}" (${DURATION_HINT})`);
    total += Number(match[1]) * perUnit!;
    position = DURATION_PART.lastIndex;
  }
  if (position !== lower.length) fail(DURATION_HINT);
  // Round rather than reject: `1.1s` is 1100.0000000000002 in floating point.
  return checkSafe(Math.round(total), fail);
}

/**
 * Parse a size into whole bytes. A bare integer is bytes; otherwise `<number><unit>` with
 * an optional space: B, KB/MB/GB/TB (decimal, 1000^n), KiB/MiB/GiB/TiB (binary, 1024^n),
 * K/M/G/T (decimal). Case-insensitive, so `64mib` = `64MiB` and `100mb` = `100MB`.
 * @throws Error naming the value when it is empty, negative, unknown or too large.
 */
export function parseBytes(input: string): number {
  const text = input.trim();
  const fail = (why: string): never => {
    throw new Error(`invalid size ${JSON.stringify(input)}: ${why}`);
  };
  if (/^\d+$/.test(text)) return checkSafe(Number(text), fail);
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]+)$/i.exec(text);
  if (!match) return fail(SIZE_HINT);
  const perUnit = BYTES_PER_UNIT[match[2]!.toLowerCase()];
  if (perUnit === undefined) return fail(`unknown unit "${match[2]}" (${SIZE_HINT})`);
  return checkSafe(Math.round(Number(match[1]) * perUnit), fail);
}

function checkSafe(value: number, fail: (why: string) => never): number {
  if (!Number.isSafeInteger(value)) fail("value is too large");
  return value;
}
