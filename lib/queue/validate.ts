// Shape and rule checks for request bodies (enqueue, failure, patch). Shape errors (a
// missing field, a wrong type, an out-of-range integer) are BodyShapeErrors: the HTTP
// layer words them as `invalid JSON: …` / `invalid MessagePack: …`, as the reference's
// decoder does. Rule errors (names, unique/batch combinations) are plain 400s.

import { QueueError } from "./types.ts";
import type { Backoff, BatchConfig, Retention, UniqueWhile } from "./types.ts";

/** A body that decoded but does not have the right shape. */
export class BodyShapeError extends QueueError {
  constructor(detail: string) {
    super("invalid_argument", detail);
    this.name = "BodyShapeError";
  }
}

export const U16_MAX = 0xffff;
export const U32_MAX = 0xffffffff;
/** u64 fields (timestamps, durations) are bounded by what a JS number holds exactly. */
export const U64_MAX = Number.MAX_SAFE_INTEGER;

export type Obj = Record<string, unknown>;

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a sequence";
  if (typeof v === "string") return `string ${JSON.stringify(v)}`;
  if (typeof v === "number") return Number.isInteger(v) ? `integer \`${v}\`` : `floating point \`${v}\``;
  if (typeof v === "boolean") return `boolean \`${v}\``;
  return "a map";
}

export function expectObject(v: unknown, what = "a map"): Obj {
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    throw new BodyShapeError(`invalid type: ${describe(v)}, expected ${what}`);
  }
  return v as Obj;
}

export function requireField(o: Obj, key: string): unknown {
  if (!(key in o)) missingField(key);
  return o[key];
}

export function missingField(key: string): never {
  throw new BodyShapeError(`missing field \`${key}\``);
}

export function expectString(v: unknown, field: string): string {
  if (typeof v !== "string") throw new BodyShapeError(`${field}: invalid type: ${describe(v)}, expected a string`);
  return v;
}

/**
 * A string that is stored and compared as it was sent (a unique or batch key, a jq
 * program): lone surrogates are refused as in names (400), since no UTF-8 spelling of
 * them exists and the store would hand back U+FFFD after a restart. A unique key that
 * changes at a restart no longer matches its own duplicates.
 */
export function expectText(v: unknown, field: string): string {
  const s = expectString(v, field);
  if (LONE_SURROGATE.test(s)) throw new QueueError("invalid_argument", `${field} must be valid Unicode (no lone surrogates)`);
  return s;
}

/**
 * Free text from a worker (an error message, a backtrace): lone surrogates become U+FFFD
 * at once, as the store would write them, so what is answered now is what a restart
 * serves. Refusing them instead would make a worker's failure report fail.
 */
export function wellFormed(s: string): string {
  return LONE_SURROGATE.test(s) ? s.replace(LONE_SURROGATES, "\uFFFD") : s;
}

export function expectBool(v: unknown, field: string): boolean {
  if (typeof v !== "boolean") throw new BodyShapeError(`${field}: invalid type: ${describe(v)}, expected a boolean`);
  return v;
}

/** An integer in [0, max]; `kind` names the wire type in the message (u16, u32, u64). */
export function expectUint(v: unknown, field: string, max: number, kind: string): number {
  // u64 fields (ms timestamps and durations) stop at 2^53 − 1 (year 287,396): past it a
  // decoded number is no longer the value sent (2^64 − 1 and 2^64 decode alike), and we
  // refuse what we cannot keep exactly rather than store another value (issue 12 §8).
  if (max === U64_MAX && typeof v === "number" && Number.isInteger(v) && v > max) {
    throw new BodyShapeError(`${field}: invalid value: integer above ${U64_MAX}, expected u64 at most 2^53 - 1 (${U64_MAX})`);
  }
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) {
    const why = typeof v === "number" && Number.isInteger(v) ? "invalid value" : "invalid type";
    throw new BodyShapeError(`${field}: ${why}: ${describe(v)}, expected ${kind}`);
  }
  return v;
}

export function expectNumber(v: unknown, field: string): number {
  if (typeof v !== "number" || !Number.isFinite(v)) throw new BodyShapeError(`${field}: invalid type: ${describe(v)}, expected f32`);
  return v;
}

/**
 * Longest name (queue, type, cron group, cron entry), in UTF-8 bytes. Why 255: real names
 * (class names, dotted queue names) are far shorter; the store's u16 length field made
 * 64 KiB names a 500, and a name is copied into every job record, link and list.
 */
export const NAME_MAX_BYTES = 255;

/** A lone UTF-16 surrogate: no UTF-8 spelling exists, so it would be stored as U+FFFD. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, "g");
/** Any character some rule below is about: a surrogate, ',', NUL or a reserved one. */
const SUSPECT = /[\uD800-\uDFFF,\u0000*?[\]{}\\]/;

/**
 * API.md §1.8 name rules plus two of ours (docs/api.md, "Where we chose"): at most
 * NAME_MAX_BYTES bytes of UTF-8, and no lone surrogates. `field` is the name used in the message.
 */
export function nameError(name: string, field: string): string | undefined {
  if (name.length === 0) return `${field} must not be empty`;
  // A UTF-16 code unit is at most 3 UTF-8 bytes: only long strings need counting.
  if (name.length * 3 > NAME_MAX_BYTES && Buffer.byteLength(name, "utf8") > NAME_MAX_BYTES) {
    return `${field} must be at most ${NAME_MAX_BYTES} bytes (UTF-8)`;
  }
  // One pass for the common case (every enqueue checks two names); which rule a bad name
  // breaks is worked out only then, in the order the messages have always been chosen.
  if (!SUSPECT.test(name)) return undefined;
  if (LONE_SURROGATE.test(name)) return `${field} must be valid Unicode (no lone surrogates)`;
  if (name.includes(",")) return `${field} must not contain ','`;
  if (name.includes("\u0000")) return `${field} must not contain null bytes`;
  for (const c of "*?[]{}\\") if (name.includes(c)) return `${field} must not contain '${c}' (reserved)`;
  return undefined;
}

/** Optional field: absent and null both mean "not given". */
export function optional<T>(o: Obj, key: string, read: (v: unknown) => T): T | undefined {
  const v = o[key];
  return v === undefined || v === null ? undefined : read(v);
}

export function parseBackoff(v: unknown, field = "backoff"): Backoff {
  const o = expectObject(v, "struct Backoff");
  return {
    exponent: expectNumber(requireField(o, "exponent"), `${field}.exponent`),
    base_ms: expectUint(requireField(o, "base_ms"), `${field}.base_ms`, U32_MAX, "u32"),
    jitter_ms: expectUint(requireField(o, "jitter_ms"), `${field}.jitter_ms`, U32_MAX, "u32"),
  };
}

export function parseRetention(v: unknown): Retention {
  const o = expectObject(v, "struct Retention");
  const out: Retention = {};
  const completed = optional(o, "completed_ms", (x) => expectUint(x, "retention.completed_ms", U64_MAX, "u64"));
  const dead = optional(o, "dead_ms", (x) => expectUint(x, "retention.dead_ms", U64_MAX, "u64"));
  if (completed !== undefined) out.completed_ms = completed;
  if (dead !== undefined) out.dead_ms = dead;
  return out;
}

export function parseBatch(v: unknown): BatchConfig {
  const o = expectObject(v, "struct BatchConfig");
  return {
    key: expectText(requireField(o, "key"), "batch.key"),
    when: expectText(requireField(o, "when"), "batch.when"),
    fold: expectText(requireField(o, "fold"), "batch.fold"),
  };
}

const UNIQUE_WHILE: readonly string[] = ["queued", "active", "exists"];

export function parseUniqueWhile(v: string): UniqueWhile {
  if (!UNIQUE_WHILE.includes(v)) {
    throw new QueueError("invalid_argument", `invalid unique_while: ${JSON.stringify(v)} (expected "queued", "active", or "exists")`);
  }
  return v as UniqueWhile;
}
