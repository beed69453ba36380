// Parsing and validating what clients send about budgets (API-budgets.md §2.2, §3.1,
// §4.1): budget bodies (POST/PUT, strict: unknown fields are a 400 as in the reference),
// merge patches (PATCH), bindings `{key, cost?, create_with?}`. Shape errors are
// BodyShapeErrors (400 `invalid JSON: …`); rule errors are 422s with the reference texts.

import { type BudgetPolicy, type BudgetStrategy, MAX_ALLOCATION } from "./budget-bucket.ts";
import { QueueError } from "./types.ts";
import {
  BodyShapeError, type Obj, U32_MAX, U64_MAX, expectObject, expectString, expectUint, nameError, optional, requireField,
} from "./validate.ts";

/** A binding as stored and shown on a job: cost always materialised. */
export interface Binding {
  key: string;
  cost: number;
}

/** A binding as requested: `createWith` is used only when the budget does not exist. */
export interface BindingRequest extends Binding {
  createWith?: BudgetPolicy;
}

export const unprocessable = (message: string): QueueError => new QueueError("unprocessable", message);

/** Budget keys follow the queue-name rules (§2.2), as 422s. Blob keys are u16-length. */
export function checkBudgetKey(key: string): void {
  const problem = nameError(key, "budget key");
  if (problem) throw unprocessable(problem);
  if (Buffer.byteLength(key) > 60_000) throw unprocessable("budget key must not exceed 60000 bytes");
}

function denyUnknown(o: Obj, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (allowed.includes(k)) continue;
    const expected = allowed.length === 2
      ? `\`${allowed[0]}\` or \`${allowed[1]}\``
      : `one of ${allowed.map((a) => `\`${a}\``).join(", ")}`;
    throw new BodyShapeError(`unknown field \`${k}\`, expected ${expected}`);
  }
}

/** The rule checks of §2.2 on a whole policy (the order the reference checks in). */
export function checkPolicy(p: { allocation: number; type: string; duration_ms?: number; burst?: number }): BudgetPolicy {
  if (p.allocation < 1) throw unprocessable("budget allocation must be at least 1");
  if (p.allocation > MAX_ALLOCATION) throw unprocessable(`budget allocation must not exceed ${MAX_ALLOCATION}`);
  if (p.type === "while_in_flight") {
    if (p.duration_ms !== undefined) {
      throw unprocessable("while_in_flight budget must not set strategy.duration_ms — its tokens return on acknowledgement, not on a clock");
    }
    if (p.burst !== undefined) throw unprocessable("while_in_flight budget must not set strategy.burst");
    return { allocation: p.allocation, strategy: { type: "while_in_flight" } };
  }
  if (p.type !== "time_based") {
    throw unprocessable(`unknown budget strategy: ${JSON.stringify(p.type)} (expected "time_based" or "while_in_flight")`);
  }
  if (p.duration_ms === undefined) throw unprocessable("time_based budget requires strategy.duration_ms");
  if (p.duration_ms < 1) throw unprocessable("time_based budget duration_ms must be at least 1");
  const strategy: BudgetStrategy = { type: "time_based", duration_ms: p.duration_ms };
  if (p.burst !== undefined) {
    if (p.burst < 1) throw unprocessable("time_based budget burst must be at least 1");
    if (p.burst > MAX_ALLOCATION) throw unprocessable(`time_based budget burst must not exceed ${MAX_ALLOCATION}`);
    strategy.burst = p.burst;
  }
  return { allocation: p.allocation, strategy };
}

/** POST/PUT /budgets/{key} body, and `create_with`: `{allocation, strategy}`, strict. */
export function parsePolicy(raw: unknown, prefix = ""): BudgetPolicy {
  const o = expectObject(raw, "struct BudgetRequest");
  denyUnknown(o, ["allocation", "strategy"]);
  const allocation = expectUint(requireField(o, "allocation"), `${prefix}allocation`, U32_MAX, "u32");
  const s = expectObject(requireField(o, "strategy"), "struct BudgetStrategy");
  denyUnknown(s, ["type", "duration_ms", "burst"]);
  const type = expectString(requireField(s, "type"), `${prefix}strategy.type`);
  const duration_ms = optional(s, "duration_ms", (v) => expectUint(v, `${prefix}strategy.duration_ms`, U64_MAX, "u64"));
  const burst = optional(s, "burst", (v) => expectUint(v, `${prefix}strategy.burst`, U32_MAX, "u32"));
  return checkPolicy({ allocation, type, duration_ms, burst });
}

/** PATCH /budgets/{key}: JSON merge patch over `current`, recursing into `strategy` (§3.1). */
export function mergePolicyPatch(current: BudgetPolicy, raw: unknown): BudgetPolicy {
  const o = expectObject(raw, "struct BudgetPatch");
  let allocation = current.allocation;
  if ("allocation" in o) {
    if (o.allocation === null) throw unprocessable("budget allocation must not be null");
    allocation = expectUint(o.allocation, "allocation", U32_MAX, "u32");
  }
  const cur = current.strategy;
  let type: string = cur.type;
  let duration_ms = cur.type === "time_based" ? cur.duration_ms : undefined;
  let burst = cur.type === "time_based" ? cur.burst : undefined;
  if ("strategy" in o) {
    if (o.strategy === null) throw unprocessable("budget strategy must not be null");
    const s = expectObject(o.strategy, "struct BudgetStrategyPatch");
    if ("type" in s) {
      if (s.type === null) throw unprocessable("strategy.type must not be null");
      type = expectString(s.type, "strategy.type");
    }
    const patchDuration = "duration_ms" in s;
    const patchBurst = "burst" in s && s.burst !== null;
    if (patchDuration && s.duration_ms === null) throw unprocessable("strategy.duration_ms must not be null");
    const newDuration = patchDuration ? expectUint(s.duration_ms, "strategy.duration_ms", U64_MAX, "u64") : undefined;
    const newBurst = patchBurst ? expectUint(s.burst, "strategy.burst", U32_MAX, "u32") : undefined;
    if (type !== cur.type) {
      // A switch keeps nothing of the old kind's fields (§3.1 merge rules).
      duration_ms = newDuration;
      burst = newBurst;
    } else {
      if (patchDuration) duration_ms = newDuration;
      if ("burst" in s) burst = newBurst;
    }
  }
  return checkPolicy({ allocation, type, duration_ms, burst });
}

/** One `{key, cost?, create_with?}` (enqueue `budgets[i]`, PUT /jobs/{id}/budgets entries). */
export function parseBinding(raw: unknown, field: string): BindingRequest {
  const o = expectObject(raw, "struct BudgetBinding");
  const key = expectString(requireField(o, "key"), `${field}.key`);
  return parseBindingBody(o, key, field);
}

/** The body of the job-budget routes, `{cost?, create_with?}`, for the path's `key`. */
export function parseBindingBody(raw: unknown, key: string, field = ""): BindingRequest {
  const o = expectObject(raw, "struct BudgetBinding");
  const p = field === "" ? "" : `${field}.`;
  checkBudgetKey(key);
  const cost = optional(o, "cost", (v) => expectUint(v, `${p}cost`, U32_MAX, "u32")) ?? 1;
  const createWith = optional(o, "create_with", (v) => parsePolicy(v, `${p}create_with.`));
  if (cost < 1) throw unprocessable(`budget '${key}' cost must be at least 1`);
  return createWith === undefined ? { key, cost } : { key, cost, createWith };
}

/** The `budgets` array of an enqueue or a PUT /jobs/{id}/budgets; each key at most once. */
export function parseBindings(raw: unknown, field = "budgets"): BindingRequest[] {
  if (!Array.isArray(raw)) throw new BodyShapeError(`${field}: invalid type, expected a sequence`);
  const out = raw.map((b, i) => parseBinding(b, `${field}[${i}]`));
  checkDistinct(out);
  return out;
}

export function checkDistinct(bindings: readonly Binding[]): void {
  const seen = new Set<string>();
  for (const b of bindings) {
    if (seen.has(b.key)) throw unprocessable(`budget '${b.key}' named more than once`);
    seen.add(b.key);
  }
}

/** PATCH /jobs/{id}/budgets/{key} and the bulk twin: `{cost}` required. */
export function parseCostBody(raw: unknown, key: string): number {
  const o = expectObject(raw, "struct BudgetCostPatch");
  checkBudgetKey(key);
  const cost = expectUint(requireField(o, "cost"), "cost", U32_MAX, "u32");
  if (cost < 1) throw unprocessable(`budget '${key}' cost must be at least 1`);
  return cost;
}

/**
 * Options objects that hold only these bindings, shared between jobs. Why: a million jobs
 * drawing on one budget would otherwise keep three objects each ({budgets}, the array,
 * the binding) alive; fewer live objects made major GCs cheaper on the budgeted W3.
 * Shared objects are never mutated (every options change builds a new object).
 */
const sharedOptions = new Map<string, { budgets: Binding[] }>();
const SHARED_MAX = 4096;

/** The stored form of requested bindings (create_with dropped), as shared options. */
export function bindingOptions(requests: readonly BindingRequest[]): { budgets: Binding[] } {
  let id = "";
  for (const r of requests) id += `${r.cost}\u0000${r.key}\u0000`;
  let options = sharedOptions.get(id);
  if (!options) {
    if (sharedOptions.size >= SHARED_MAX) sharedOptions.clear();
    options = Object.freeze({ budgets: Object.freeze(stripCreate(requests)) as Binding[] });
    sharedOptions.set(id, options);
  }
  return options;
}

/** Stored bindings of a job (options.budgets), or undefined. */
export const stripCreate = (b: readonly BindingRequest[]): Binding[] => b.map(({ key, cost }) => Object.freeze({ key, cost }));
