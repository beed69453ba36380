// Randomized model test of the budget dispatcher (fixed clock, seeded; the seed is
// printed, ZIZQ_SEED=<n> replays one): random enqueues with budgets, takes, acks,
// failures, deletes, disconnects, clock moves and policy changes, checked against an
// independent reference model. Invariants: no dispatch exceeds a concurrency limit;
// no dispatch is one the reference bucket (BigInt drip) cannot pay; over any window a
// bucket pays out at most capacity + the drip of that window; and at the end every job
// is dispatched once time passes and slots free up (nothing is parked forever).

import assert from "node:assert/strict";
import { after, it } from "node:test";
import type { Taker } from "../../lib/queue/types.ts";
import { prng } from "../helpers/random.ts";
import { cleanupTmp } from "../helpers/tmp.ts";
import { rig } from "./_budget-rig.ts";

after(cleanupTmp);

interface ModelBudget {
  kind: "tb" | "wif";
  allocation: number;
  duration: number;
  burst?: number;
  tokens: bigint;
  credit: bigint;
  last: number;
  held: number;
  /** Dispatches since the last policy change: [time, cost]. */
  epoch: [number, number][];
}

const cap = (b: ModelBudget) => (b.kind === "tb" && b.burst !== undefined ? b.burst : b.allocation);

function modelRefill(b: ModelBudget, now: number): void {
  if (b.kind !== "tb" || now <= b.last) return;
  const banked = b.credit + BigInt(now - b.last) * BigInt(b.allocation);
  const earned = banked / BigInt(b.duration);
  if (b.tokens + earned >= BigInt(cap(b))) {
    b.tokens = BigInt(cap(b));
    b.credit = 0n;
  } else {
    b.tokens += earned;
    b.credit = banked % BigInt(b.duration);
  }
  b.last = now;
}

/**
 * Beside the random seed, seeds that once failed. 669757 (also 153, 191): 120 tokens of
 * demand left on a budget patched down to 2 per 7 s, more than a fixed 400 s drain paid out.
 */
const REGRESSION_SEEDS = [1, 2, 153, 191, 669757];
const seeds = process.env.ZIZQ_SEED ? [Number(process.env.ZIZQ_SEED)] : [Date.now() % 1_000_000, ...REGRESSION_SEEDS];

/**
 * Liveness: once every in-flight job is acked each second, a parked head waits at most
 * cost × duration / allocation ≤ 2 × 7,000 / 2 ms for its budgets (they refill together)
 * and while_in_flight slots are all free. No delivery for this many 1 s rounds is a job
 * parked forever; a long backlog on a slow budget is not (it drains at the budget's rate).
 */
const STALL_ROUNDS = 30;

for (const seed of seeds) {
  it(`seed ${seed}: limits hold and nothing is parked forever`, async () => {
    console.log(`budget model seed ${seed} (replay: ZIZQ_SEED=${seed})`);
    const rand = prng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
    const r = await rig();
    const model = new Map<string, ModelBudget>();
    const jobBindings = new Map<string, { key: string; cost: number }[]>();
    const inFlight = new Map<string, Taker>();
    try {
      for (let i = 0; i < 4; i++) {
        const key = `b${i}`;
        if (i % 2 === 0) {
          const allocation = 2 + Math.floor(rand() * 5);
          const duration = pick([100, 1_000, 7_000]);
          const burst = rand() < 0.5 ? 2 + Math.floor(rand() * 4) : undefined;
          await r.budget(key, { allocation, strategy: burst === undefined ? { type: "time_based", duration_ms: duration } : { type: "time_based", duration_ms: duration, burst } });
          const m: ModelBudget = { kind: "tb", allocation, duration, burst, tokens: 0n, credit: 0n, last: r.clock.now(), held: 0, epoch: [] };
          m.tokens = BigInt(cap(m));
          model.set(key, m);
        } else {
          const allocation = 2 + Math.floor(rand() * 3);
          await r.budget(key, { allocation, strategy: { type: "while_in_flight" } });
          model.set(key, { kind: "wif", allocation, duration: 0, tokens: 0n, credit: 0n, last: 0, held: 0, epoch: [] });
        }
      }
      const release = (id: string) => {
        if (!inFlight.delete(id)) return;
        for (const b of jobBindings.get(id) ?? []) model.get(b.key)!.held -= b.cost;
      };
      let delivered = 0;
      const onDeliver = (taker: () => Taker) => (id: string) => {
        delivered++;
        const now = r.clock.now();
        for (const b of jobBindings.get(id) ?? []) {
          const m = model.get(b.key)!;
          if (m.kind === "wif") {
            assert.ok(m.held + b.cost <= m.allocation, `${b.key}: ${m.held}+${b.cost} in flight > ${m.allocation} (seed ${seed})`);
          } else {
            modelRefill(m, now);
            assert.ok(m.tokens >= BigInt(b.cost), `${b.key}: dispatched with ${m.tokens} tokens for cost ${b.cost} (seed ${seed})`);
            m.tokens -= BigInt(b.cost);
            m.epoch.push([now, b.cost]);
          }
          m.held += b.cost;
        }
        inFlight.set(id, taker());
      };
      const open = (queues?: string[]) => {
        let t: Taker;
        const deliver = onDeliver(() => t);
        t = r.queue.take({ queues, prefetch: 1 + Math.floor(rand() * 4), deliver: ({ job }) => { deliver(job.id); return true; } });
        return t;
      };
      let takers = [open(), open(["q0"]), open(["q1"])];
      const enqueueOne = async () => {
        const keys = [...model.keys()].filter(() => rand() < 0.4);
        const budgets = keys.map((key) => ({ key, cost: 1 + Math.floor(rand() * 2) }));
        const extra: Record<string, unknown> = { priority: Math.floor(rand() * 3), budgets };
        if (rand() < 0.1) extra.ready_at = r.clock.now() + Math.floor(rand() * 500);
        const id = await r.enqueue(pick(["q0", "q1"]), extra);
        if (budgets.length > 0) jobBindings.set(id, budgets);
      };
      for (let i = 0; i < 40; i++) await enqueueOne();
      for (let step = 0; step < 600; step++) {
        const op = rand();
        if (op < 0.25) await enqueueOne();
        else if (op < 0.45 && inFlight.size > 0) {
          const id = pick([...inFlight.keys()]);
          release(id);
          await r.queue.complete(id);
        } else if (op < 0.52 && inFlight.size > 0) {
          const id = pick([...inFlight.keys()]);
          release(id);
          await r.queue.fail(id, { message: "x", kill: rand() < 0.5, retry_at: r.clock.now() + 50 });
        } else if (op < 0.55 && inFlight.size > 0) {
          const id = pick([...inFlight.keys()]);
          release(id);
          await r.queue.deleteOne(id);
        } else if (op < 0.6) {
          const i = Math.floor(rand() * takers.length);
          const victim = takers[i];
          for (const [id, t] of [...inFlight]) if (t === victim) release(id);
          victim.close();
          takers[i] = open(i === 0 ? undefined : [`q${i - 1}`]);
        } else if (op < 0.65) {
          const key = pick([...model.keys()]);
          const m = model.get(key)!;
          modelRefill(m, r.clock.now());
          const allocation = 2 + Math.floor(rand() * 5);
          await r.queue.budgets.patch(key, { allocation });
          m.allocation = allocation;
          if (m.kind === "tb") {
            if (m.tokens > BigInt(cap(m))) m.tokens = BigInt(cap(m));
            if (m.tokens === BigInt(cap(m))) m.credit = 0n;
            m.epoch = [];
          }
        } else {
          r.clock.advance(Math.floor(rand() * 400));
          r.queue.scheduler.tick();
          r.queue.budgets.gate.tick();
        }
        r.pump();
      }
      // Windows: within a policy epoch, payouts ≤ capacity + drip of the window.
      for (const [key, m] of model) {
        if (m.kind !== "tb") continue;
        const e = m.epoch;
        for (let i = 0; i < e.length; i++) {
          let sum = 0;
          for (let j = i; j < e.length; j++) {
            sum += e[j][1];
            const drip = Math.floor(((e[j][0] - e[i][0]) * m.allocation) / m.duration);
            assert.ok(sum <= cap(m) + drip, `${key}: paid ${sum} in [${e[i][0]}, ${e[j][0]}] > ${cap(m)} + ${drip} (seed ${seed})`);
          }
        }
      }
      // Liveness: with time passing and every job acked, everything drains, however long
      // the slowest budget takes; STALL_ROUNDS rounds in a row with no delivery is a failure.
      const unfinished = () => r.store.table.size - r.queue.stats().dead;
      for (let stalled = 0; unfinished() > 0 && stalled < STALL_ROUNDS; ) {
        const before = delivered;
        for (const id of [...inFlight.keys()]) {
          release(id);
          await r.queue.complete(id);
        }
        r.clock.advance(1_000);
        r.queue.scheduler.tick();
        r.queue.budgets.gate.tick();
        r.pump();
        stalled = delivered === before ? stalled + 1 : 0;
      }
      assert.equal(unfinished(), 0, `jobs left parked (seed ${seed}): ${JSON.stringify(r.queue.stats())}`);
    } finally {
      await r.close();
    }
  });
}
