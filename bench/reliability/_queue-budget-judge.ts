// The budget rules of the queue power-loss judge (_queue-judge.ts). A budget's policy is
// stored (a blob, judged with the other blobs); its tokens are not (API-budgets.md §2.11:
// every budget is loaded full on start, in-flight accounting rebuilt). The judge's clock
// stands still at the cut's time, so no drip adds a token after recovery: a take stream
// then gets, of the ready jobs drawing on a `time_based` budget, exactly those a full
// bucket pays for, best (priority, id) first, a head it cannot pay blocking the rest of
// its (budget, queue) group (§2.7: strict FIFO within a budget).

import assert from "node:assert/strict";
import { STATUS_IN_FLIGHT } from "../../lib/storage/format.ts";
import type { Store } from "../../lib/storage/store.ts";
import { type BudgetPolicy, capacityOf } from "../../lib/queue/budget-bucket.ts";
import { bindingsOf } from "../../lib/queue/budget-gate.ts";
import type { Binding } from "../../lib/queue/budget-policy.ts";
import type { Served } from "./_queue-model.ts";

/** The policies a recovered store serves, by budget key. */
export function servedPolicies(served: Served): Map<string, BudgetPolicy> {
  const out = new Map<string, BudgetPolicy>();
  for (const [key, json] of served.blobs) if (key.startsWith("budget:")) out.set(key.slice("budget:".length), JSON.parse(json) as BudgetPolicy);
  return out;
}

/**
 * A budget an unfinished job draws on exists (it is made in the same write as the first
 * job or rebind naming it, and a delete is refused while such a job exists, §2.10), and
 * its capacity covers the job's cost (a shrink below it is refused, §2.9): else the job
 * would never be handed out.
 */
export function judgeBindings(served: Served, where: string): void {
  const policies = servedPolicies(served);
  for (const s of served.jobs.values()) {
    if (s.meta.status > STATUS_IN_FLIGHT) continue;
    for (const b of (s.meta.options?.budgets ?? []) as Binding[]) {
      const policy = policies.get(b.key);
      assert.ok(policy, `${where}: job ${s.meta.id} draws on budget ${b.key}, which is not there`);
      assert.ok(b.cost <= capacityOf(policy), `${where}: job ${s.meta.id} draws ${b.cost} on budget ${b.key}, which holds at most ${capacityOf(policy)}: ${JSON.stringify(policy)}`);
    }
  }
}

/** The one time_based binding of `slot`, or undefined. Requires: jobs draw on one budget at most (the workload binds one). */
function timedBinding(store: Store, slot: number, policies: ReadonlyMap<string, BudgetPolicy>, where: string): Binding | undefined {
  const bindings = bindingsOf(store.table, slot);
  if (!bindings) return undefined;
  assert.equal(bindings.length, 1, `${where}: job ${store.table.idOf(slot)} draws on ${bindings.length} budgets; the workload binds one at most`);
  return policies.get(bindings[0].key)?.strategy.type === "time_based" ? bindings[0] : undefined;
}

/**
 * Of `ready` (the slots a take stream may get), those a take stream at the recovery clock
 * leaves parked: each time_based budget starts with `capacity` tokens; the best head of
 * any of its groups goes next while the tokens pay its cost, and a head they do not pay
 * blocks its group for good (tokens only go down with the clock still).
 */
export function parkedByTokens(store: Store, ready: readonly number[], policies: ReadonlyMap<string, BudgetPolicy>, where: string): Set<number> {
  const t = store.table;
  const groups = new Map<string, number[]>();
  for (const slot of ready) {
    const b = timedBinding(store, slot, policies, where);
    if (!b) continue;
    const g = `${b.key}\u0000${t.queue[slot]}`;
    groups.set(g, [...(groups.get(g) ?? []), slot]);
  }
  const before = (a: number, b: number) => t.priority[a] < t.priority[b] || (t.priority[a] === t.priority[b] && t.compare(a, b) < 0);
  const open = [...groups.values()].map((slots) => slots.sort((a, b) => (before(a, b) ? -1 : 1)));
  const tokens = new Map([...policies].map(([key, p]) => [key, capacityOf(p)]));
  const parked = new Set<number>();
  for (;;) {
    let best: number[] | undefined;
    for (const g of open) if (g.length > 0 && (!best || before(g[0], best[0]))) best = g;
    if (!best) return parked;
    const b = bindingsOf(t, best[0])![0];
    if (tokens.get(b.key)! >= b.cost) {
      tokens.set(b.key, tokens.get(b.key)! - b.cost);
      best.shift();
    } else {
      for (const slot of best.splice(0)) parked.add(slot);
    }
  }
}

/**
 * The jobs handed out after recovery that draw on each time_based budget cost at most its
 * capacity: the bucket is full at start and the clock stands still. `got`: each job
 * handed out with its binding (read when it was handed out, before its ack).
 */
export function judgeTokens(got: readonly { id: string; binding?: Binding }[], policies: ReadonlyMap<string, BudgetPolicy>, where: string): void {
  const spent = new Map<string, { cost: number; ids: string[] }>();
  for (const { id, binding } of got) {
    if (!binding || policies.get(binding.key)?.strategy.type !== "time_based") continue;
    const s = spent.get(binding.key) ?? { cost: 0, ids: [] };
    spent.set(binding.key, { cost: s.cost + binding.cost, ids: [...s.ids, id] });
  }
  for (const [key, { cost, ids }] of spent) {
    const policy = policies.get(key)!;
    assert.ok(cost <= capacityOf(policy), `${where}: a take stream after recovery got jobs costing ${cost} from time_based budget ${key} (${ids.join(", ")}), which holds ${capacityOf(policy)} tokens at the recovery clock: ${JSON.stringify(policy)}`);
  }
}
