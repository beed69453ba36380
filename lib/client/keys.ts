// Key helpers (CLIENT-API.md §7.5–7.7): payloadHasher, uniqueKey and batchConfig. A hash
// is SHA-256 over a canonical serialisation (sorted keys, a trailing comma after every
// item) so the same payload gives the same key as the official client, byte for byte.

import { createHash } from "node:crypto";
import { typeNameOf } from "./resolve.ts";
import type { BatchConfigOptions, EnqueueInput, JobFunction, PayloadHasherOptions } from "./types.ts";

type Step = string | number;

/** Parses `.a.b[0].["dotted.key"]` into steps; `.` alone is the root (no steps). */
function parsePath(path: string): Step[] {
  const fail = (why: string): never => { throw new Error(`payloadHasher: invalid path "${path}": ${why}`); };
  if (!path.startsWith(".")) fail("a path must start with '.'");
  const steps: Step[] = [];
  let i = 0;
  while (i < path.length) {
    if (path[i] === ".") {
      i++;
      if (i >= path.length) { if (steps.length === 0) break; fail("trailing '.'"); }
      if (path[i] === "[") continue;
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(path.slice(i));
      if (!m) fail(`bad key at ${i}`);
      steps.push(m![0]);
      i += m![0].length;
    } else if (path[i] === "[") {
      i++;
      if (path[i] === '"') {
        let key = "";
        for (i++; i < path.length && path[i] !== '"'; i++) key += path[i] === "\\" ? path[++i] : path[i];
        if (path[i] !== '"' || path[i + 1] !== "]") fail("unterminated quoted key");
        steps.push(key);
        i += 2;
      } else {
        const m = /^(\d+)\]/.exec(path.slice(i));
        if (!m) fail(`bad index at ${i}`);
        steps.push(Number(m![1]));
        i += m![0].length;
      }
    } else {
      fail(`unexpected '${path[i]}' at ${i}`);
    }
  }
  return steps;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object";

function pick(value: unknown, paths: Step[][]): unknown {
  let out: unknown = {};
  for (const steps of paths) {
    if (steps.length === 0) return value;
    let src = value;
    let ok = true;
    for (const step of steps) {
      if (!isObject(src) || !(step in src)) { ok = false; break; }
      src = (src as Record<Step, unknown>)[step];
    }
    if (!ok) continue;
    let dst = out as Record<Step, unknown>;
    steps.forEach((step, n) => {
      if (n === steps.length - 1) dst[step] = src;
      else dst = (dst[step] ??= typeof steps[n + 1] === "number" ? [] : {}) as Record<Step, unknown>;
    });
  }
  return out;
}

function omit(value: unknown, paths: Step[][]): unknown {
  let out = value;
  for (const steps of paths) {
    if (steps.length === 0) return null;
    let node = out;
    for (const step of steps.slice(0, -1)) node = isObject(node) ? (node as Record<Step, unknown>)[step] : undefined;
    const last = steps[steps.length - 1];
    if (Array.isArray(node) && typeof last === "number") { if (last < node.length) node.splice(last, 1); }
    else if (isObject(node)) delete (node as Record<Step, unknown>)[last];
  }
  return out;
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map((x) => `${canonical(x)},`).join("")}]`;
  if (isObject(v)) return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])},`).join("")}}`;
  return JSON.stringify(v);
}

const toPaths = (p: string | string[] | undefined) => (p === undefined ? undefined : (Array.isArray(p) ? p : [p]).map(parsePath));

export function payloadHasher(options: PayloadHasherOptions = {}): (input: EnqueueInput) => string {
  if (options.only !== undefined && options.except !== undefined) throw new Error("payloadHasher: `only` and `except` cannot be combined");
  const only = toPaths(options.only);
  const except = toPaths(options.except);
  const prefix = options.prefix ?? true;
  return (input) => {
    let value: unknown = JSON.parse(JSON.stringify(input.payload)); // undefined throws SyntaxError (quirk 14)
    if (only) value = pick(value, only);
    if (except) value = omit(value, except);
    const hex = createHash("sha256").update(canonical(value)).digest("hex");
    if (!prefix) return hex;
    const type = typeof input.type === "function" ? typeNameOf(input.type) : input.type;
    if (!type) throw new Error("payloadHasher: the job has no type name");
    return `${type}:${hex}`;
  };
}

export function uniqueKey(...fields: string[]): (fn: JobFunction, payload: unknown) => string {
  const hasher = payloadHasher(fields.length ? { only: fields.map((f) => `.${f}`) } : {});
  return (fn, payload) => {
    typeNameOf(fn);
    if (fields.length && (!isObject(payload) || Array.isArray(payload))) {
      throw new Error("uniqueKey: the payload must be a plain object when fields are given");
    }
    return hasher({ type: fn, payload });
  };
}

export function batchConfig(limit: number, path = ".", options: BatchConfigOptions = {}): { key: (input: EnqueueInput) => string; when: string; fold: string } {
  const key = payloadHasher({ except: [path] });
  const when = `(($existing | ${path}) + ($new | ${path})) | length <= ${limit}`;
  const fold = options.dedup
    ? `$existing | ${path} = ((${path}) + ($new | ${path}) | unique)`
    : options.sorted
      ? `$existing | ${path} = ((${path}) + ($new | ${path}) | sort)`
      : `$existing | ${path} += ($new | ${path})`;
  return { key, when, fold };
}
