// Reads one setting with the precedence flag > env twin > default and parses it, so every
// error names where the bad value came from (`--port`, `ZIZQ_PORT`). Used by config.ts.
// Flags arrive as mri parsed them: strings, numbers, booleans, or arrays for repeats.

import path from "node:path";
import type { FlagSpec } from "./flags.ts";
import { parseBytes, parseDurationMs } from "./units.ts";

/** A configuration mistake by the operator; the CLI prints it and exits 2. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

interface RawValue {
  text: string;
  /** `--port`, `ZIZQ_PORT` or `default`, for error messages. */
  origin: string;
}

interface Range {
  min?: number;
  max?: number;
}

export const U32_MAX = 2 ** 32 - 1;

const TRUE_WORDS = new Set(["1", "true", "yes", "on"]);
const FALSE_WORDS = new Set(["0", "false", "no", "off"]);

export function createFlagReader(flags: Record<string, unknown>, env: NodeJS.ProcessEnv, specs: FlagSpec[]) {
  const specByName = new Map(specs.map((spec) => [spec.name, spec]));
  const specOf = (name: string): FlagSpec => {
    const spec = specByName.get(name);
    if (!spec) throw new Error(`internal: no flag spec for --${name}`);
    return spec;
  };

  /** The flag's own value, or undefined when it was not given on the command line. */
  const flagText = (name: string): string | undefined => {
    let value = flags[name];
    if (Array.isArray(value)) value = value.at(-1); // `--port 1 --port 2`: last one wins
    if (value === undefined || value === null) return undefined;
    if (typeof value === "boolean" || value === "") throw new ConfigError(`--${name} needs a value`);
    return String(value);
  };

  /** The env twin's value. Empty strings count as unset (compose files often leave `ZIZQ_X=`). */
  const envValue = (spec: FlagSpec): RawValue | undefined => {
    const set = spec.env.filter((key) => env[key] !== undefined && env[key] !== "");
    const distinct = new Set(set.map((key) => env[key]));
    if (distinct.size > 1) throw new ConfigError(`${set.join(" and ")} disagree; set only one`);
    return set.length > 0 ? { text: env[set[0]!]!, origin: set[0]! } : undefined;
  };

  const raw = (name: string): RawValue | undefined => {
    const spec = specOf(name);
    const fromFlag = flagText(name);
    if (fromFlag !== undefined) return { text: fromFlag, origin: `--${name}` };
    return envValue(spec) ?? (spec.default === undefined ? undefined : { text: spec.default, origin: "default" });
  };

  const need = (name: string): RawValue => {
    const value = raw(name);
    if (!value) throw new Error(`internal: --${name} has no default`);
    return value;
  };

  const parseWith = <T>(value: RawValue, parse: (text: string) => T): T => {
    try {
      return parse(value.text);
    } catch (error) {
      throw new ConfigError(`${value.origin}: ${(error as Error).message}`);
    }
  };

  const checkRange = (value: RawValue, n: number, range: Range, show: (n: number) => string = String) => {
    if (range.min !== undefined && n < range.min) {
      throw new ConfigError(`${value.origin}: ${JSON.stringify(value.text)} is below the minimum ${show(range.min)}`);
    }
    if (range.max !== undefined && n > range.max) {
      throw new ConfigError(`${value.origin}: ${JSON.stringify(value.text)} is above the maximum ${show(range.max)}`);
    }
    return n;
  };

  const integer = (text: string): number => {
    if (!/^\d+$/.test(text.trim())) throw new Error(`${JSON.stringify(text)} is not a non-negative integer`);
    const n = Number(text);
    if (!Number.isSafeInteger(n)) throw new Error(`${JSON.stringify(text)} is too large`);
    return n;
  };

  return {
    optionalString(name: string): string | undefined {
      return raw(name)?.text;
    },
    string(name: string): string {
      return need(name).text;
    },
    /** A path resolved against the working directory; undefined when unset. */
    optionalPath(name: string): string | undefined {
      const value = raw(name);
      return value && path.resolve(value.text);
    },
    integer(name: string, range: Range = {}): number {
      const value = need(name);
      return checkRange(value, parseWith(value, integer), range);
    },
    optionalInteger(name: string, range: Range = {}): number | undefined {
      const value = raw(name);
      return value && checkRange(value, parseWith(value, integer), range);
    },
    number(name: string, range: Range = {}): number {
      const value = need(name);
      const n = parseWith(value, (text) => {
        const parsed = Number(text);
        if (text.trim() === "" || !Number.isFinite(parsed)) throw new Error(`${JSON.stringify(text)} is not a number`);
        return parsed;
      });
      return checkRange(value, n, range);
    },
    durationMs(name: string, range: Range = {}): number {
      const value = need(name);
      return checkRange(value, parseWith(value, parseDurationMs), range, (n) => `${n}ms`);
    },
    bytes(name: string, range: Range = {}): number {
      const value = need(name);
      return checkRange(value, parseWith(value, parseBytes), range, (n) => `${n} bytes`);
    },
    choice<T extends string>(name: string, allowed: readonly T[]): T | undefined {
      const value = raw(name);
      if (!value) return undefined;
      if (!(allowed as readonly string[]).includes(value.text)) {
        throw new ConfigError(`${value.origin}: ${JSON.stringify(value.text)} is not one of ${allowed.join(", ")}`);
      }
      return value.text as T;
    },
    /** Switches: the flag (true/false from mri) beats the env twin; unset = false. */
    bool(name: string): boolean {
      const spec = specOf(name);
      let value = flags[name];
      if (Array.isArray(value)) value = value.at(-1);
      if (typeof value === "boolean") return value;
      const fromEnv = value === undefined || value === null ? envValue(spec) : { text: String(value), origin: `--${name}` };
      if (!fromEnv) return false;
      const word = fromEnv.text.trim().toLowerCase();
      if (TRUE_WORDS.has(word)) return true;
      if (FALSE_WORDS.has(word)) return false;
      throw new ConfigError(`${fromEnv.origin}: ${JSON.stringify(fromEnv.text)} is not a boolean (use true or false)`);
    },
    /** Repeatable flags: every value given, or the default (if any) when none was. */
    list(name: string): string[] {
      const value = flags[name];
      const given = (Array.isArray(value) ? value : value === undefined ? [] : [value]).map(String);
      if (given.some((item) => item === "" || item === "true" || item === "false")) {
        throw new ConfigError(`--${name} needs a value`);
      }
      return given;
    },
  };
}
