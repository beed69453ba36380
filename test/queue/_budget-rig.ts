// A queue over a real store with a manual clock, for the budget dispatcher tests: takers
// collect delivered jobs, pump() runs one dispatch round synchronously, advance() moves
// the clock and fires the gate's due drip timers. No sleeps: time only moves when told.

import { type Queue, createQueue } from "../../lib/queue/queue.ts";
import { ManualClock } from "../../lib/queue/clock.ts";
import type { Taker } from "../../lib/queue/types.ts";
import type { FsPort } from "../../lib/storage/fs-port.ts";
import { type Store, openStore } from "../../lib/storage/store.ts";
import { tmpDir } from "../helpers/tmp.ts";

export const T0 = 1_700_000_000_000;

export interface Rig {
  clock: ManualClock;
  store: Store;
  queue: Queue;
  dir: string;
  taker(queues?: string[], prefetch?: number): { taker: Taker; got: string[] };
  pump(): void;
  advance(ms: number): void;
  budget(key: string, body: unknown): Promise<void>;
  enqueue(queue: string, extra?: Record<string, unknown>): Promise<string>;
  tokens(key: string): number;
  close(): Promise<void>;
}

export async function rig(dir = tmpDir(), clock = new ManualClock(T0), fs?: FsPort): Promise<Rig> {
  const store = await openStore({ dir, segmentBytes: 4 * 1024 * 1024, now: () => clock.now(), fs });
  const queue = createQueue(store, { clock, reaperIntervalMs: 0, random: () => 0 });
  const takers: Taker[] = [];
  const r: Rig = {
    clock, store, queue, dir,
    taker(queues, prefetch = 0) {
      const got: string[] = [];
      const taker = queue.take({ queues, prefetch, deliver: ({ job }) => { got.push(job.id); return true; } });
      takers.push(taker);
      return { taker, got };
    },
    pump: () => queue.ctx.dispatcher.dispatch(),
    advance(ms) {
      clock.advance(ms);
      queue.budgets.gate.tick();
    },
    async budget(key, body) {
      await queue.budgets.create(key, body);
    },
    async enqueue(q, extra = {}) {
      return (await queue.enqueue({ type: "t", queue: q, payload: null, ...extra })).job.id;
    },
    tokens(key) {
      const b = queue.budgets.budgets.get(key)!;
      return b.strategy.type === "time_based" ? b.tokens : b.allocation - b.heldCost;
    },
    async close() {
      for (const t of takers) t.close();
      queue.stop();
      await store.close();
    },
  };
  return r;
}

export const timeBased = (allocation: number, duration_ms: number, burst?: number) =>
  ({ allocation, strategy: burst === undefined ? { type: "time_based", duration_ms } : { type: "time_based", duration_ms, burst } });
export const inFlight = (allocation: number) => ({ allocation, strategy: { type: "while_in_flight" } });
