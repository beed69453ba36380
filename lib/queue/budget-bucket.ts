// The budget model (API-budgets.md §2.3–2.5, §2.9): policies, capacity, the continuous-
// drip token bucket of `time_based` budgets and the held-cost count of `while_in_flight`
// ones. Pure: time comes in as `nowMs`, nothing here knows about jobs or storage.
//
// Why exact integers: `credit + elapsed × allocation` reaches u64 × 1e6 after a long idle
// period or with a huge duration_ms; doubles would drift by a token. Numbers are used
// while the value is a safe integer (the common case, no allocation), BigInt past that.

export const MAX_ALLOCATION = 1_000_000;

export type BudgetStrategy =
  | { type: "time_based"; duration_ms: number; burst?: number }
  | { type: "while_in_flight" };

export interface BudgetPolicy {
  allocation: number;
  strategy: BudgetStrategy;
}

/** A budget with its live state. Invariant: 0 <= tokens <= capacity, 0 <= credit < duration_ms. */
export interface Budget extends BudgetPolicy {
  key: string;
  created_at: number;
  updated_at: number;
  /** time_based: whole tokens available (as of lastRefillMs). */
  tokens: number;
  /** time_based: token-milliseconds banked toward the next token. */
  credit: number;
  lastRefillMs: number;
  /** Σ cost of jobs dispatched against this budget and not yet released (any strategy). */
  heldCost: number;
}

/** The ceiling every cost check uses (§2.3): burst when set, else the allocation. */
export function capacityOf(policy: BudgetPolicy): number {
  const s = policy.strategy;
  return s.type === "time_based" && s.burst !== undefined ? s.burst : policy.allocation;
}

/** A new budget: full (§2.4 "Start"). */
export function newBudget(key: string, policy: BudgetPolicy, nowMs: number, createdAt = nowMs, updatedAt = nowMs): Budget {
  return { key, ...policy, created_at: createdAt, updated_at: updatedAt, tokens: capacityOf(policy), credit: 0, lastRefillMs: nowMs, heldCost: 0 };
}

/** Lazy drip refill up to `nowMs`; a clock step backwards stalls accrual, never drains. */
export function refill(b: Budget, nowMs: number): void {
  const s = b.strategy;
  if (s.type !== "time_based") return;
  const cap = capacityOf(b);
  const elapsed = nowMs - b.lastRefillMs;
  if (elapsed > 0 && b.tokens < cap) {
    const room = cap - b.tokens;
    const banked = b.credit + elapsed * b.allocation;
    if (Number.isSafeInteger(banked)) {
      const earned = Math.floor(banked / s.duration_ms);
      if (earned >= room) fill(b, cap);
      else {
        b.tokens += earned;
        b.credit = banked - earned * s.duration_ms;
      }
    } else {
      const big = BigInt(b.credit) + BigInt(elapsed) * BigInt(b.allocation);
      const d = BigInt(s.duration_ms);
      const earned = big / d;
      if (earned >= BigInt(room)) fill(b, cap);
      else {
        b.tokens += Number(earned);
        b.credit = Number(big % d);
      }
    }
  } else if (b.tokens >= cap) {
    fill(b, cap); // time spent full banks nothing
  }
  if (nowMs > b.lastRefillMs) b.lastRefillMs = nowMs;
}

function fill(b: Budget, cap: number): void {
  b.tokens = cap;
  b.credit = 0;
}

/** Tokens a job could draw now (after refill). May be negative for a narrowed while_in_flight. */
export function available(b: Budget): number {
  return b.strategy.type === "time_based" ? b.tokens : b.allocation - b.heldCost;
}

/** Debit at dispatch. Requires: refill(b, now) and available(b) >= cost. */
export function debit(b: Budget, cost: number): void {
  if (b.strategy.type === "time_based") b.tokens -= cost;
  b.heldCost += cost;
}

/** The job left in_flight: a while_in_flight budget gets its slot back; time_based never. */
export function credit(b: Budget, cost: number): void {
  b.heldCost = Math.max(0, b.heldCost - cost);
}

/**
 * Ms until `cost` is affordable by the drip alone (§2.4 next-available time): 0 = now,
 * Infinity = never (cost above capacity, or a while_in_flight shortfall, which waits for
 * a release instead). At least 1 when not now, so a waiter never spins.
 */
export function waitMs(b: Budget, cost: number): number {
  const s = b.strategy;
  if (s.type !== "time_based") return available(b) >= cost ? 0 : Infinity;
  if (cost > capacityOf(b)) return Infinity;
  if (b.tokens >= cost) return 0;
  const need = (cost - b.tokens) * s.duration_ms - b.credit;
  if (Number.isSafeInteger(need)) return Math.max(1, Math.ceil(need / b.allocation));
  const big = BigInt(cost - b.tokens) * BigInt(s.duration_ms) - BigInt(b.credit);
  const a = BigInt(b.allocation);
  return Math.max(1, Number((big + a - 1n) / a));
}

/**
 * A PUT/PATCH on live state (§2.9): accrual up to now is settled at the old rate, then
 * tokens are capped to the new capacity at once. Credit survives a rate change but not a
 * duration change. Strategy switches carry no token delta: a while_in_flight budget's
 * availability is allocation − held cost (the jobs still running under it count), and a
 * budget switched to time_based starts from what was available, capped.
 */
export function applyPolicy(b: Budget, policy: BudgetPolicy, nowMs: number): void {
  refill(b, nowMs);
  const before = b.strategy;
  const wasAvailable = available(b);
  b.allocation = policy.allocation;
  b.strategy = policy.strategy;
  const after = policy.strategy;
  if (after.type !== "time_based") return;
  const cap = capacityOf(b);
  if (before.type !== "time_based") {
    b.tokens = Math.min(Math.max(0, wasAvailable), cap);
    b.credit = 0;
  } else {
    if (before.duration_ms !== after.duration_ms) b.credit = 0;
    if (b.tokens >= cap) fill(b, cap);
  }
  if (b.credit >= after.duration_ms) b.credit = 0;
  b.lastRefillMs = Math.max(b.lastRefillMs, nowMs);
}

/** The stored/wire policy of a budget (no live state). */
export function policyOf(b: BudgetPolicy): BudgetPolicy {
  const s = b.strategy;
  const strategy: BudgetStrategy = s.type === "time_based"
    ? (s.burst === undefined ? { type: s.type, duration_ms: s.duration_ms } : { type: s.type, duration_ms: s.duration_ms, burst: s.burst })
    : { type: "while_in_flight" };
  return { allocation: b.allocation, strategy };
}
