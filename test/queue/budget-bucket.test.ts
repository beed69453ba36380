// Token-bucket arithmetic (API-budgets.md §2.4, §2.9): the exact drip, full buckets bank
// nothing, the next-available time, and exactness past 2^53 (the BigInt path).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { applyPolicy, available, capacityOf, debit, newBudget, refill, waitMs } from "../../lib/queue/budget-bucket.ts";

const tb = (allocation: number, duration_ms: number, burst?: number) =>
  ({ allocation, strategy: burst === undefined ? { type: "time_based" as const, duration_ms } : { type: "time_based" as const, duration_ms, burst } });

describe("drip refill", () => {
  it("60/min drained at t0: 0 at +500 ms, 1 at +1000 ms, credit carried exactly", () => {
    const b = newBudget("k", tb(60, 60_000), 0);
    debit(b, 60);
    refill(b, 500);
    assert.deepEqual([b.tokens, b.credit], [0, 30_000]);
    refill(b, 1_000);
    assert.deepEqual([b.tokens, b.credit], [1, 0]);
    assert.equal(waitMs(b, 3), 2_000);
    refill(b, 1_001);
    assert.equal(waitMs(b, 2), 999);
  });

  it("time spent full banks nothing; capacity is the burst", () => {
    const b = newBudget("k", tb(10, 1_000, 3), 0);
    assert.equal(capacityOf(b), 3);
    refill(b, 365 * 24 * 3600 * 1000);
    assert.deepEqual([b.tokens, b.credit], [3, 0]);
    debit(b, 3);
    refill(b, 365 * 24 * 3600 * 1000 + 150);
    assert.deepEqual([b.tokens, b.credit], [1, 500]);
    assert.equal(waitMs(b, 4), Infinity, "cost above capacity: never");
  });

  it("exact past 2^53: huge durations and long idle periods (BigInt path)", () => {
    const d = Number.MAX_SAFE_INTEGER; // 2^53 - 1 ms per allocation
    const b = newBudget("k", tb(1_000_000, d), 0);
    debit(b, 1_000_000);
    const later = 9_007_199_254; // elapsed × 1e6 ≈ 9e15 ≈ 2^53: at the edge
    refill(b, later);
    const banked = BigInt(later) * 1_000_000n;
    assert.equal(b.tokens, Number(banked / BigInt(d)));
    assert.equal(BigInt(b.credit), banked % BigInt(d));
    refill(b, later * 1000);
    const total = BigInt(later * 1000) * 1_000_000n;
    assert.equal(b.tokens, Number(total / BigInt(d)));
    assert.equal(BigInt(b.credit), total % BigInt(d));
    const need = (BigInt(5 + b.tokens - b.tokens) * BigInt(d) - BigInt(b.credit) + 999_999n) / 1_000_000n;
    b.tokens = 0;
    assert.equal(waitMs(b, 5), Number(need));
  });

  it("policy change: rate change keeps credit, duration change drops it, tokens capped to the new capacity", () => {
    const b = newBudget("k", tb(2, 60_000), 0);
    debit(b, 2);
    applyPolicy(b, tb(4, 60_000), 20_000);
    assert.deepEqual([b.tokens, b.credit], [0, 40_000]);
    applyPolicy(b, tb(4, 30_000), 20_000);
    assert.deepEqual([b.tokens, b.credit], [0, 0]);
    const full = newBudget("f", tb(10, 1_000), 0);
    applyPolicy(full, tb(10, 1_000, 2), 0);
    assert.equal(full.tokens, 2);
    const w = newBudget("w", { allocation: 3, strategy: { type: "while_in_flight" } }, 0);
    debit(w, 2);
    assert.equal(available(w), 1);
    applyPolicy(w, { allocation: 1, strategy: { type: "while_in_flight" } }, 0);
    assert.equal(available(w), -1, "narrowing over-commits and settles as jobs finish");
  });
});
