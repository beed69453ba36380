// The background turn-taking of lib/storage/time-slice.ts: tasks that yield resume one
// per turn of the event loop, so several of them never spend their budgets in one turn.

import assert from "node:assert/strict";
import { test } from "node:test";
import { TimeSlice, yieldToLoop } from "../../lib/storage/time-slice.ts";

/** Counts turns of the loop: one increment per check phase while it runs. */
function turnCounter(): { now: () => number; stop: () => void } {
  let turn = 0;
  let running = true;
  const tick = () => {
    turn++;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  return { now: () => turn, stop: () => { running = false; } };
}

test("tasks that yield together resume in different turns, in the order they yielded", async () => {
  const turns = turnCounter();
  const resumed: { task: string; turn: number }[] = [];
  const task = async (name: string) => {
    for (let i = 0; i < 5; i++) {
      await yieldToLoop();
      resumed.push({ task: name, turn: turns.now() });
    }
  };
  await Promise.all([task("a"), task("b"), task("c")]);
  turns.stop();
  assert.equal(resumed.length, 15);
  const byTurn = new Map<number, string[]>();
  for (const r of resumed) byTurn.set(r.turn, [...(byTurn.get(r.turn) ?? []), r.task]);
  for (const [turn, tasks] of byTurn) assert.equal(tasks.length, 1, `turn ${turn} resumed ${tasks.join(", ")}`);
  assert.deepEqual(resumed.slice(0, 6).map((r) => r.task), ["a", "b", "c", "a", "b", "c"]);
});

test("a timer that falls due during one task's slice runs before the next task's slice", async () => {
  let fired = false;
  const order: string[] = [];
  const slow = async (name: string) => {
    // 20 ms, far past the 1 ms timer: a 2 ms budget failed once at load 10 (the timer had
    // not fired before b's slice), and the point is only that a due timer runs first.
    const slice = new TimeSlice(20);
    await slice.yield();
    if (name === "a") setTimeout(() => { fired = true; }, 0);
    while (!slice.spent) { /* spend the budget: the 1 ms timer falls due meanwhile */ }
    order.push(`${name}${fired ? "+timer" : ""}`);
  };
  await Promise.all([slow("a"), slow("b")]);
  // With both slices in one turn, b would have run before the timer could.
  assert.deepEqual(order, ["a", "b+timer"]);
});
