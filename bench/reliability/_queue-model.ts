// The ledger of the queue power-loss harness (power-loss-queue.ts): what the workload
// (_queue-workload.ts) issued and was told, per job (keyed by the tag in its payload) and
// per blob (pauses, the cron group, the budgets), frozen at each sampled cut; and what a
// recovered store serves, in the same terms, for the judge (_queue-judge.ts).

import type { JobMeta } from "../../lib/storage/codec.ts";
import { unpackValue } from "../../lib/storage/codec.ts";
import { BLOB_NAMESPACE_BUDGET, BLOB_NAMESPACE_CRON, BLOB_NAMESPACE_QUEUE } from "../../lib/storage/format.ts";
import type { Store } from "../../lib/storage/store.ts";
import type { BudgetPolicy } from "../../lib/queue/budget-bucket.ts";
import { viewOfMeta } from "../../lib/queue/job.ts";

export const SEGMENT_BYTES = 64 * 1024;
export const QUEUES = ["a", "b"];
export const PAUSE_NAMES = ["a", "b", "x"];
/** Unique keys by scope: the workload uses each key with one scope only, so "held" has one meaning per key. */
export const KEYS: Record<string, "queued" | "active" | "exists"> = { q0: "queued", q1: "queued", a0: "active", a1: "active", e0: "exists", e1: "exists" };
/**
 * The budgets jobs draw on (one binding a job), each made by the create_with of the first
 * request naming it, with this policy; PUT and PATCH /budgets/{key} may then give any of
 * them another policy, strategy included (_queue-budget-work.ts).
 */
export const BUDGETS: Record<string, BudgetPolicy> = {
  w0: { allocation: 3, strategy: { type: "while_in_flight" } },
  w1: { allocation: 3, strategy: { type: "while_in_flight" } },
  t0: { allocation: 2, strategy: { type: "time_based", duration_ms: 3000 } },
  t1: { allocation: 3, strategy: { type: "time_based", duration_ms: 2000, burst: 1 } },
};
export const BUDGET_KEYS = Object.keys(BUDGETS);
/** Batched jobs (API.md §4.4): up to 3 items a batch; a fold keeps the open job's tag. */
export const BATCH_KEYS = ["bk0", "bk1"];
export const batchOf = (key: string) => ({ key, when: "(($existing.items | length) + ($new.items | length)) <= 3", fold: "$existing | .items += $new.items" });
export const CRON_GROUP = "g";
export const CRON_ENTRIES = [
  { name: "e1", expression: "* * * * * *" },
  { name: "e2", expression: "*/3 * * * * *" },
];
export const cronGroupBody = {
  entries: CRON_ENTRIES.map((e) => ({ name: e.name, expression: e.expression, timezone: "UTC", job: { type: "cron", queue: "cron", payload: { cron: e.name } } })),
};
export interface CronEntryState { name: string; last_enqueue_at?: number; next_enqueue_at?: number }
/** Lease lengths the workload's take streams use (ms of the manual clock); 0 = no lease. */
export const LEASES_MS = [0, 1500, 4000];
/** --max-abandons of every queue the harness opens. */
export const MAX_ABANDONS = 2;

/** A job as the store holds it after a write: what a user can read back. */
export interface JobState {
  meta: JobMeta;
  payload: string;
  errors: string[];
}

export const UNFILLED = Symbol("unfilled");
export type Version = JobState | undefined | typeof UNFILLED;

export interface Entry {
  /** State after each write issued for this job (undefined: absent); UNFILLED until known. */
  versions: Version[];
  /** The operation that issued each write (for failure messages). */
  writes: string[];
  /** 1 + the index of the write answered last (answers come in append order), 0 if none. */
  acked: number;
  /** Indexes of the writes issued and not answered yet (usually none or one). */
  pending: Set<number>;
  id?: string;
  /** Enqueued with this batch key: later batched enqueues may rewrite it. */
  batchKey?: string;
  /**
   * [version index, error records then] for each retry issued: a retry sets attempts to 0
   * and keeps the history, so a job served with k records and attempts a has k - a equal
   * to 0 or to the records at one of its retries issued before the cut.
   */
  retryBases: [number, number][];
}

export interface BlobEntry {
  /** The blob as JSON after each write (undefined: none). */
  versions: (string | undefined | typeof UNFILLED)[];
  acked: number;
  pending: Set<number>;
}

/** Per job/blob at a moment: [writes issued, last answered (1-based), writes unanswered]. */
export type Mark = [number, number, readonly number[]];
export type LedgerCut = { jobs: Map<number, Mark>; blobs: Map<string, Mark>; clockMs: number };
export interface Ledgers {
  ledger: LedgerCut;
  /** The ledger when the last completed checkpoint (as of the cut) began. */
  checkpointed: LedgerCut;
}
export const NO_PENDING: readonly number[] = [];
export const markOf = (e: { versions: unknown[]; acked: number; pending: Set<number> }): Mark => [e.versions.length, e.acked, e.pending.size === 0 ? NO_PENDING : [...e.pending]];

/** A job as a user compares it: its view without `dequeued_at` (a take writes nothing), pending for scheduled/ready/in_flight; undefined when absent or past its purge_at. */
export function userView(s: JobState | undefined, nowMs: number): { view: string; payload: string; errors: string[] } | undefined {
  if (!s) return undefined;
  if (s.meta.purgeAtMs !== undefined && s.meta.purgeAtMs <= nowMs) return undefined;
  const v: Record<string, unknown> = { ...viewOfMeta(s.meta) };
  delete v.dequeued_at;
  if (v.status === "scheduled" || v.status === "ready" || v.status === "in_flight") v.status = "pending";
  return { view: JSON.stringify(v), payload: s.payload, errors: s.errors };
}
export const whole = (u: ReturnType<typeof userView>): string => (u ? `${u.view} payload ${u.payload.slice(0, 60)} errors ${JSON.stringify(u.errors)}` : "absent");

/** What a recovered store serves: jobs by tag, cron jobs by entry, the blobs we write (`pause:`, `cron:`, `budget:` + name). */
export interface Served {
  jobs: Map<number, JobState>;
  cron: Map<string, JobState[]>;
  probes: JobState[];
  blobs: Map<string, string>;
  budgets: Set<string>;
}

export function serve(store: Store): Served {
  const out: Served = { jobs: new Map(), cron: new Map(), probes: [], blobs: new Map(), budgets: new Set() };
  for (const slot of store.table.slotById.values()) {
    const s = stateOf(store, slot);
    const p = JSON.parse(s.payload) as { n?: number; cron?: string; probe?: string };
    if (typeof p.n === "number") out.jobs.set(p.n, s);
    else if (typeof p.cron === "string") out.cron.set(p.cron, [...(out.cron.get(p.cron) ?? []), s]);
    else out.probes.push(s);
  }
  for (const [k, v] of store.blobsIn(BLOB_NAMESPACE_QUEUE)) out.blobs.set(`pause:${k}`, JSON.stringify(unpackValue(v)));
  for (const [k, v] of store.blobsIn(BLOB_NAMESPACE_CRON)) out.blobs.set(`cron:${k}`, JSON.stringify(unpackValue(v)));
  for (const [k, v] of store.blobsIn(BLOB_NAMESPACE_BUDGET)) {
    out.budgets.add(k);
    out.blobs.set(`budget:${k}`, JSON.stringify(unpackValue(v)));
  }
  return out;
}

export function stateOf(store: Store, slot: number): JobState {
  return { meta: store.table.meta(slot), payload: store.payload(slot).toString(), errors: store.errors(slot).map((e) => JSON.stringify(e)) };
}

/** A job's state in `store` now, by id (undefined: not there). */
export function snapshotOf(store: Store, id: string): JobState | undefined {
  const slot = store.table.slotById.get(id);
  return slot === undefined ? undefined : stateOf(store, slot);
}

const NAMESPACES: Record<string, number> = { pause: BLOB_NAMESPACE_QUEUE, cron: BLOB_NAMESPACE_CRON, budget: BLOB_NAMESPACE_BUDGET };

export function blobOf(store: Store, key: string): string | undefined {
  const [kind, name] = key.split(":");
  const bytes = store.blobsIn(NAMESPACES[kind]).get(name);
  return bytes === undefined ? undefined : JSON.stringify(unpackValue(bytes));
}

/** Served state in a form two opens of one image must agree on. */
export function comparable(s: Served, nowMs: number): unknown {
  const views = (xs: JobState[]) => xs.map((x) => whole(userView(x, nowMs))).sort();
  return { jobs: views([...s.jobs.values()]), cron: [...s.cron].map(([k, v]) => [k, views(v)]).sort(), probes: views(s.probes), blobs: [...s.blobs].sort(), budgets: [...s.budgets].sort() };
}
