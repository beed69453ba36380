// Paused queues (an extension, docs/api.md "Extensions"): which queue names take streams
// skip. Kept in memory and persisted as one store blob per queue name (namespace
// BLOB_NAMESPACE_QUEUE, MessagePack `{paused, paused_at?, resumed_at?}`, docs/format.md),
// so a pause survives restarts and compaction. A name needs no jobs to be paused: an
// operator pauses before a deploy. Every write is durable before it is answered.

import { BLOB_NAMESPACE_QUEUE } from "../storage/format.ts";
import { packValue, unpackValue } from "../storage/codec.ts";
import type { Store } from "../storage/store.ts";
import { Mutex } from "./_mutex.ts";
import { guarded } from "./errors.ts";
import { QueueError } from "./types.ts";
import { nameError } from "./validate.ts";

export interface PauseState {
  paused: boolean;
  /** When the current (or last) pause began, ms since epoch. */
  paused_at?: number;
  /** When the last pause ended. */
  resumed_at?: number;
}

/** Blob keys carry a u16 byte length (docs/format.md). */
const MAX_NAME_BYTES = 65_535;

/** 400 for a name no job could have (API.md §1.8 rules), before anything is written. */
export function checkQueueName(name: string): void {
  const problem = nameError(name, "queue");
  if (problem) throw new QueueError("invalid_argument", problem);
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) {
    throw new QueueError("invalid_argument", `queue name is longer than ${MAX_NAME_BYTES} bytes`);
  }
}

export class PauseBook {
  private readonly states = new Map<string, PauseState>();
  /** Names currently paused: the dispatcher reads this on every round. */
  readonly paused = new Set<string>();
  private readonly lock = new Mutex();
  private readonly store: Store;
  private readonly sync: boolean;
  /** Called after a queue is resumed (takers may have work again). */
  onResume: () => void = () => {};

  constructor(store: Store, sync: boolean) {
    this.store = store;
    this.sync = sync;
    for (const [name, bytes] of store.blobsIn(BLOB_NAMESPACE_QUEUE)) this.remember(name, unpackValue(bytes) as PauseState);
  }

  private remember(name: string, state: PauseState): void {
    this.states.set(name, state);
    if (state.paused) this.paused.add(name);
    else this.paused.delete(name);
  }

  /** Every name ever paused (and not reset). */
  names(): string[] {
    return [...this.states.keys()];
  }

  /** The stored state of a name, if it was ever paused. */
  state(name: string): PauseState | undefined {
    const s = this.states.get(name);
    return s && { ...s };
  }

  /**
   * POST /queues/{queue}/pause | resume. Idempotent: pausing a paused queue keeps its
   * paused_at, and resuming a queue that is not paused writes nothing.
   */
  set(name: string, paused: boolean, nowMs: number): Promise<PauseState> {
    checkQueueName(name);
    return this.lock.run(async () => {
      const old = this.states.get(name);
      if ((old?.paused ?? false) === paused) return { ...(old ?? { paused }) };
      const next: PauseState = paused
        ? { paused, paused_at: nowMs, ...(old?.resumed_at === undefined ? {} : { resumed_at: old.resumed_at }) }
        : { paused, ...(old?.paused_at === undefined ? {} : { paused_at: old.paused_at }), resumed_at: nowMs };
      await guarded(this.store.putBlob(BLOB_NAMESPACE_QUEUE, name, packValue(next), this.sync));
      this.remember(name, next);
      if (!paused) this.onResume();
      return { ...next };
    });
  }

  /** Run `fn` (a reset) with no pause write in flight and none starting (see BudgetBook.quiesced). */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.lock.run(fn);
  }

  /** POST /reset: the store dropped every blob; forget every pause. */
  clear(): void {
    this.states.clear();
    this.paused.clear();
  }
}
