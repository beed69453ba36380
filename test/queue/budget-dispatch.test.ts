// The dispatcher with budgets, on a fixed clock (API-budgets.md §2.4–2.9, §6 cases 2–9,
// 11, 12): the exact drip schedule, burst, several budgets on one job, the concurrency
// credit on every way out of in_flight, parking and waking, no starvation of unbudgeted
// work, priority order among payable jobs, and policy changes under load.

import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { cleanupTmp } from "../helpers/tmp.ts";
import { T0, inFlight, rig, timeBased } from "./_budget-rig.ts";

after(cleanupTmp);

describe("time_based drip", () => {
  it("6/min: 6 at once, then exactly one every 10 s (the computed wake-up included)", async () => {
    const r = await rig();
    try {
      await r.budget("api", timeBased(6, 60_000));
      for (let i = 0; i < 10; i++) await r.enqueue("q", { budgets: [{ key: "api" }] });
      const { got } = r.taker();
      r.pump();
      assert.equal(got.length, 6);
      assert.equal(r.queue.stats().ready, 4, "parked jobs stay ready");
      assert.equal(r.queue.budgets.gate.nextWakeMs(), T0 + 10_000);
      r.advance(9_999);
      r.pump();
      assert.equal(got.length, 6);
      r.advance(1);
      r.pump();
      assert.equal(got.length, 7);
      r.advance(10_000);
      r.pump();
      assert.equal(got.length, 8);
      r.advance(60_000 * 60); // idle an hour: the bucket is capped at capacity, not 360 tokens
      r.pump();
      assert.equal(got.length, 10);
      assert.equal(r.tokens("api"), 4);
    } finally {
      await r.close();
    }
  });

  it("burst 1 paces evenly: 10/min → one per 6 s, never two; burst above allocation banks idle periods", async () => {
    const r = await rig();
    try {
      await r.budget("even", timeBased(10, 60_000, 1));
      for (let i = 0; i < 5; i++) await r.enqueue("q", { budgets: [{ key: "even" }] });
      const { got } = r.taker(["q"]);
      r.pump();
      assert.equal(got.length, 1);
      r.advance(5_999);
      r.pump();
      assert.equal(got.length, 1);
      r.advance(1);
      r.pump();
      assert.equal(got.length, 2);
      r.advance(30_000);
      r.pump();
      assert.equal(got.length, 3, "a long idle period still banks only the burst");
      await r.budget("bank", timeBased(1, 1_000, 3));
      for (let i = 0; i < 5; i++) await r.enqueue("b", { budgets: [{ key: "bank" }] });
      const b = r.taker(["b"]);
      r.pump();
      assert.equal(b.got.length, 3);
    } finally {
      await r.close();
    }
  });

  it("a backwards clock step stalls accrual once and never drains", async () => {
    const r = await rig();
    try {
      await r.budget("k", timeBased(60, 60_000));
      for (let i = 0; i < 61; i++) await r.enqueue("q", { budgets: [{ key: "k" }] });
      const { got } = r.taker();
      r.pump();
      assert.equal(got.length, 60);
      r.clock.set(T0 - 5_000);
      r.pump();
      assert.equal(r.tokens("k"), 0);
      r.clock.set(T0 + 1_000);
      r.queue.budgets.gate.tick();
      r.pump();
      assert.equal(got.length, 61);
    } finally {
      await r.close();
    }
  });
});

describe("several budgets, parking and order", () => {
  it("all-or-nothing: a job short on one budget takes nothing from the other, and heads its groups", async () => {
    const r = await rig();
    try {
      await r.budget("plenty", timeBased(10, 60_000));
      await r.budget("scarce", timeBased(1, 60_000));
      const { got } = r.taker();
      await r.enqueue("q", { budgets: [{ key: "scarce" }] });
      r.pump();
      const both = await r.enqueue("q", { budgets: [{ key: "plenty" }, { key: "scarce" }], priority: 1 });
      const behind = await r.enqueue("q", { budgets: [{ key: "plenty", cost: 3 }], priority: 2 });
      const elsewhere = await r.enqueue("q2", { budgets: [{ key: "plenty", cost: 3 }], priority: 2 });
      r.pump();
      // `both` heads plenty's group in q while scarce is short (§2.7): `behind` waits too;
      // plenty's group in q2 has its own head.
      assert.deepEqual(got.slice(1), [elsewhere]);
      assert.equal(r.tokens("plenty"), 7, "the waiting job took nothing from plenty");
      r.advance(60_000);
      r.pump();
      assert.deepEqual(got.slice(2), [both, behind]);
      assert.equal(r.tokens("plenty"), 6, "refilled to 10, then 1 + 3");
    } finally {
      await r.close();
    }
  });

  it("strict FIFO within a budget; other budgets and unbudgeted jobs pass a blocked head", async () => {
    const r = await rig();
    try {
      await r.budget("a", timeBased(5, 60_000));
      await r.budget("b", timeBased(5, 60_000));
      const { got } = r.taker();
      const drain = await r.enqueue("q", { budgets: [{ key: "a", cost: 3 }] });
      r.pump();
      const big = await r.enqueue("q", { budgets: [{ key: "a", cost: 5 }], priority: 1 });
      const small = await r.enqueue("q", { budgets: [{ key: "a", cost: 1 }], priority: 1 });
      const other = await r.enqueue("q", { budgets: [{ key: "b" }], priority: 2 });
      const free = await r.enqueue("q", { priority: 3 });
      r.pump();
      assert.deepEqual(got, [drain, other, free], "the cheap job never overtakes its budget's head");
      r.advance(36_000); // 3 more tokens: 5
      r.pump();
      assert.deepEqual(got.slice(3), [big]);
      r.advance(12_000);
      r.pump();
      assert.deepEqual(got.slice(4), [small]);
    } finally {
      await r.close();
    }
  });

  it("priority order among payable jobs (the reference's inversion is not copied)", async () => {
    const r = await rig();
    try {
      await r.budget("A", inFlight(1));
      await r.budget("B", inFlight(1));
      const { got } = r.taker();
      await r.enqueue("q", { budgets: [{ key: "A" }], priority: 0 });
      r.pump(); // A is now full
      await r.enqueue("q", { budgets: [{ key: "A" }], priority: 1 });
      const unthrottled = await r.enqueue("q", { priority: 2 });
      const b = await r.enqueue("q", { budgets: [{ key: "B" }], priority: 3 });
      const t = r.queue.take({ prefetch: 1, deliver: ({ job }) => { got.push(job.id); return true; } });
      void t;
      r.pump();
      assert.deepEqual(got.slice(1, 3), [unthrottled, b]);
    } finally {
      await r.close();
    }
  });

  it("no starvation: 2,000 parked budgeted jobs ahead in priority do not hold up unbudgeted work", async () => {
    const r = await rig();
    try {
      await r.budget("slow", timeBased(1, 3_600_000, 1));
      const jobs = Array.from({ length: 2000 }, () => ({ type: "t", queue: "q", payload: null, priority: 0, budgets: [{ key: "slow" }] }));
      await r.queue.enqueueBulk({ jobs });
      const free = [];
      for (let i = 0; i < 5; i++) free.push(await r.enqueue("q", { priority: 60_000 }));
      const { got } = r.taker();
      r.pump();
      assert.equal(got.length, 6);
      assert.deepEqual(got.slice(1), free);
      assert.equal(r.queue.stats().ready, 1999);
      assert.equal(r.queue.admin.total("ready"), 1999, "admin totals include parked jobs");
      assert.equal(r.queue.admin.ordered("ready", 3).length, 3);
    } finally {
      await r.close();
    }
  });

  it("a queue filter sees the best job of its own queues in each budget group", async () => {
    const r = await rig();
    try {
      await r.budget("m", inFlight(2));
      await r.enqueue("other", { budgets: [{ key: "m" }], priority: 0 });
      const mine = await r.enqueue("mine", { budgets: [{ key: "m" }], priority: 9 });
      const { got } = r.taker(["mine"]);
      r.pump();
      assert.deepEqual(got, [mine]);
    } finally {
      await r.close();
    }
  });
});

describe("while_in_flight credit on every way out of in_flight", () => {
  const exits: [string, (r: Awaited<ReturnType<typeof rig>>, id: string, close: () => void) => Promise<void>][] = [
    ["ack", async (r, id) => r.queue.complete(id)],
    ["bulk ack", async (r, id) => void (await r.queue.completeMany({ ids: [id] }))],
    ["failure → retry", async (r, id) => void (await r.queue.fail(id, { message: "x" }))],
    ["failure → dead (kill)", async (r, id) => void (await r.queue.fail(id, { message: "x", kill: true }))],
    ["delete", async (r, id) => r.queue.deleteOne(id)],
    ["bulk delete", async (r, id) => void (await r.queue.deleteMany({ ids: [id] }))],
    ["disconnect", async (_r, _id, close) => close()],
  ];
  for (const [name, exit] of exits) {
    it(name, async () => {
      const r = await rig();
      try {
        await r.budget("one", inFlight(1));
        await r.budget("rate", timeBased(10, 60_000));
        const first = await r.enqueue("q", { budgets: [{ key: "one" }, { key: "rate" }] });
        const second = await r.enqueue("q", { budgets: [{ key: "one" }, { key: "rate" }] });
        const a = r.taker(["q"]);
        r.pump();
        assert.deepEqual(a.got, [first]);
        assert.equal(r.tokens("one"), 0);
        const b = r.taker(["q"]);
        await exit(r, first, () => a.taker.close());
        r.pump();
        // A disconnect puts `first` back at the head of its group; anything else ends it.
        if (name === "disconnect") assert.deepEqual(b.got, [first], "re-parked at the head, then dispatched");
        else assert.deepEqual([...a.got, ...b.got], [first, second], `${name} frees the slot`);
        assert.equal(r.tokens("rate"), 8, "rate tokens are never refunded");
      } finally {
        await r.close();
      }
    });
  }

  it("reset forgets holds; a retried job re-parks when its ready_at arrives", async () => {
    const r = await rig();
    try {
      await r.budget("one", inFlight(1));
      const j = await r.enqueue("q", { budgets: [{ key: "one" }] });
      const { got } = r.taker();
      r.pump();
      await r.queue.fail(j, { message: "x", retry_at: T0 + 1_000 });
      const k = await r.enqueue("q", { budgets: [{ key: "one" }] });
      r.pump();
      assert.deepEqual(got, [j, k]);
      r.clock.advance(1_000);
      r.queue.scheduler.tick();
      r.pump();
      assert.equal(got.length, 2, "the retry is parked behind k's slot");
      await r.queue.complete(k);
      r.pump();
      assert.deepEqual(got, [j, k, j]);
      await r.queue.reset();
      assert.equal(r.queue.budgets.budgets.size, 0);
    } finally {
      await r.close();
    }
  });
});

describe("slot reuse", () => {
  it("a slot a budgeted job left and an unbudgeted job took over is neither parked nor debited", async () => {
    const r = await rig();
    try {
      await r.budget("big", timeBased(1_000_000, 60_000));
      // 1,024 jobs fill the table's first slots; once all are freed, the next ones reuse them.
      const bound = Array.from({ length: 1024 }, (_, n) => ({ type: "t", queue: "q", payload: n, budgets: [{ key: "big" }] }));
      await r.queue.enqueueBulk({ jobs: bound });
      const a = r.taker();
      while (a.got.length < 1024) r.pump();
      await r.queue.completeMany({ ids: a.got });
      assert.equal(r.tokens("big"), 1_000_000 - 1024);
      const plain = Array.from({ length: 1024 }, (_, n) => ({ type: "t", queue: "q", payload: n }));
      const ids = (await r.queue.enqueueBulk({ jobs: plain })).map((e) => e.job.id);
      assert.deepEqual(r.queue.budgets.gate.parkedSlots(), [], "nothing parked");
      while (a.got.length < 2048) r.pump();
      assert.deepEqual(a.got.slice(1024), ids);
      assert.equal(r.tokens("big"), 1_000_000 - 1024, "unbudgeted jobs draw nothing");
      await r.queue.completeMany({ ids });
      assert.equal(r.queue.budgets.budgets.get("big")!.heldCost, 0);
    } finally {
      await r.close();
    }
  });
});

describe("policy changes under load", () => {
  it("narrowing 6 → 1 while 6 run: nothing new until the running ones are down to 0; widening hands slots over at once", async () => {
    const r = await rig();
    try {
      await r.budget("c", inFlight(6));
      for (let i = 0; i < 10; i++) await r.enqueue("q", { budgets: [{ key: "c" }] });
      const { got } = r.taker();
      r.pump();
      assert.equal(got.length, 6);
      await r.queue.budgets.patch("c", { allocation: 1 });
      for (let i = 0; i < 5; i++) {
        await r.queue.complete(got[i]);
        r.pump();
        assert.equal(got.length, 6, `after ${i + 1} finished`);
      }
      await r.queue.complete(got[5]);
      r.pump();
      assert.equal(got.length, 7);
      await r.queue.budgets.patch("c", { allocation: 3 });
      r.pump();
      assert.equal(got.length, 9);
    } finally {
      await r.close();
    }
  });

  it("a rate change keeps progress toward the next token; a duration change drops it; tightening bites at once", async () => {
    const r = await rig();
    try {
      await r.budget("d", timeBased(2, 60_000));
      for (let i = 0; i < 6; i++) await r.enqueue("q", { budgets: [{ key: "d" }] });
      const { got } = r.taker();
      r.pump();
      assert.equal(got.length, 2);
      r.advance(20_000); // 2/3 of a token banked (40,000 token-ms of 60,000)
      await r.queue.budgets.patch("d", { allocation: 4 }); // now 15 s per token: 5 s to go
      r.advance(4_999);
      r.pump();
      assert.equal(got.length, 2);
      r.advance(1);
      r.pump();
      assert.equal(got.length, 3);
      r.advance(10_000);
      await r.queue.budgets.patch("d", { strategy: { duration_ms: 30_000 } }); // credit dropped
      r.advance(7_499);
      r.pump();
      assert.equal(got.length, 3);
      r.advance(1);
      r.pump();
      assert.equal(got.length, 4);
      await r.queue.budgets.replace("d", timeBased(100, 1_000, 1));
      r.advance(1_000_000);
      r.pump();
      assert.equal(got.length, 5, "burst 1 caps the bank at once");
    } finally {
      await r.close();
    }
  });

  it("switching kinds carries no tokens: while_in_flight counts the jobs still running", async () => {
    const r = await rig();
    try {
      await r.budget("s", timeBased(3, 60_000));
      for (let i = 0; i < 6; i++) await r.enqueue("q", { budgets: [{ key: "s" }] });
      const { got } = r.taker();
      r.pump();
      assert.equal(got.length, 3);
      await r.queue.budgets.patch("s", { allocation: 4, strategy: { type: "while_in_flight" } });
      r.pump();
      assert.equal(got.length, 4, "4 allowed, 3 still running");
      await r.queue.budgets.patch("s", { strategy: { type: "time_based", duration_ms: 60_000 } });
      r.pump();
      assert.equal(got.length, 4, "nothing was available to carry over");
    } finally {
      await r.close();
    }
  });
});

describe("patching parked jobs", () => {
  it("queue, priority and ready_at changes move a parked job between groups and in and out of parking", async () => {
    const r = await rig();
    try {
      await r.budget("one", inFlight(1));
      const first = await r.enqueue("a", { budgets: [{ key: "one" }], priority: 5 });
      const moved = await r.enqueue("a", { budgets: [{ key: "one" }], priority: 5 });
      const later = await r.enqueue("a", { budgets: [{ key: "one" }], priority: 5 });
      const onB = r.taker(["b"]);
      await r.queue.patchOne(moved, { queue: "b", priority: 1 });
      await r.queue.patchOne(later, { ready_at: T0 + 60_000 });
      assert.equal(r.queue.stats().scheduled, 1);
      r.pump();
      assert.deepEqual(onB.got, [moved], "moved to b's group, and dispatched there");
      await r.queue.patchOne(later, { ready_at: null });
      await r.queue.complete(moved);
      const onA = r.taker(["a"]);
      r.pump();
      assert.deepEqual(onA.got, [first]);
      await r.queue.complete(first);
      r.pump();
      assert.deepEqual(onA.got, [first, later], "back from scheduled, parked again, then dispatched");
      await r.queue.deleteOne(later);
      assert.equal(r.queue.stats().ready + r.queue.stats().inFlight, 0);
    } finally {
      await r.close();
    }
  });
});

describe("restart", () => {
  it("budgets and bindings survive a restart; buckets start full; parked jobs are dispatchable", async () => {
    const r = await rig();
    const dir = r.dir;
    await r.budget("k", timeBased(1, 3_600_000));
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await r.enqueue("q", { budgets: [{ key: "k", cost: 1 }] }));
    const { got } = r.taker();
    r.pump();
    assert.equal(got.length, 1);
    const before = r.queue.budgets.get("k");
    await r.close();
    const again = await rig(dir);
    try {
      assert.deepEqual(again.queue.budgets.get("k"), before);
      assert.deepEqual(again.queue.get(ids[2]).job.budgets, [{ key: "k", cost: 1 }]);
      const t = again.taker();
      again.pump();
      assert.equal(t.got.length, 1, "full again: one token");
      assert.equal(again.queue.stats().ready, 2);
    } finally {
      await again.close();
    }
  });
});

describe("churn", () => {
  it("budgets made, used and deleted one after another leave no parking state behind", async () => {
    const r = await rig();
    try {
      const { got } = r.taker();
      const groups = () => (r.queue.budgets.gate as unknown as { groups: Map<string, unknown> }).groups.size;
      for (let i = 0; i < 300; i++) {
        await r.budget(`b-${i}`, inFlight(1));
        // Two jobs on a one-at-a-time budget: the second parks until the first is acked.
        await r.enqueue("q", { budgets: [{ key: `b-${i}` }] });
        await r.enqueue("q", { budgets: [{ key: `b-${i}` }] });
        r.pump();
        await r.queue.complete(got.at(-1)!);
        r.pump();
        await r.queue.complete(got.at(-1)!);
        await r.queue.budgets.remove(`b-${i}`);
      }
      assert.equal(got.length, 600);
      assert.ok(groups() <= 1, `${groups()} budget keys still held by the parking index`);
    } finally {
      await r.close();
    }
  });
});
