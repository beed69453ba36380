// The admin event stream's three ordered lists (API.md §5.1) as windows: ready by
// (priority, id), in_flight by (dequeued_at, id), scheduled by (ready_at, id). Head
// windows stop early (a k-way merge of the per-queue ready indexes, a frontier walk
// of the scheduled heap); tail/offset/around/find materialise the list, O(n).

import { STATUS_IN_FLIGHT, STATUS_READY, STATUS_SCHEDULED } from "../storage/format.ts";
import type { Store } from "../storage/store.ts";
import { optionsOf } from "./job.ts";


/**
 * A payload as its stored (valid, compact) JSON text, for the admin stream to splice into
 * its frames unparsed. Why not the parsed value: JSON.stringify recurses, and a payload
 * nested ~10,000 deep overflowed the stack, so `set_detail_level`/`subscribe` got no snapshot.
 */
export class PayloadJson {
  constructor(readonly json: string) {}
}

export type ListName = "ready" | "in_flight" | "scheduled";
export const LIST_NAMES: readonly ListName[] = ["ready", "in_flight", "scheduled"];

export type Anchor =
  | { kind: "head" }
  | { kind: "tail" }
  | { kind: "offset"; offset: number }
  | { kind: "around"; id: string; fallback?: "head" | "tail" | "nowhere" };

export type FindAnchor = { kind: "job_id"; id: string } | { kind: "start" } | { kind: "end" };
export type FindDirection = "forward" | "backward" | "locate";

export interface AdminJob {
  id: string;
  queue: string;
  job_type: string;
  priority: number;
  ready_at: number;
  attempts: number;
  dequeued_at?: number;
  failed_at?: number;
  /** The stored JSON text, unparsed (see PayloadJson). */
  payload?: PayloadJson;
  retry_limit?: number;
  backoff?: { base_ms: number; exponent: number; jitter_ms: number };
  retention?: { completed_ms?: number; dead_ms?: number };
  unique_key?: string;
  unique_while?: string;
  /** Budget bindings; detail level only (our extension, docs/api.md "Budgets"). */
  budgets?: { key: string; cost: number }[];
}

export interface JobWindow {
  items: AdminJob[];
  first_position: number;
  total: number;
  resolved_anchor?: string;
}

export interface FindResult {
  matched_position: number | null;
  window: JobWindow;
}

const STATUS_OF: Record<ListName, number> = { ready: STATUS_READY, in_flight: STATUS_IN_FLIGHT, scheduled: STATUS_SCHEDULED };

export class AdminView {
  private readonly store: Store;
  /** Ready jobs parked by budgets (outside the ready indexes; budget-gate.ts). */
  parked: () => number[] = () => [];

  constructor(store: Store) {
    this.store = store;
  }

  total(list: ListName): number {
    return this.store.table.statusCounts[STATUS_OF[list]];
  }

  /** The window a `subscribe` asks for. */
  window(list: ListName, anchor: Anchor, limit: number, detail: boolean): JobWindow {
    const total = this.total(list);
    const lastStart = Math.max(0, total - limit);
    if (anchor.kind === "around") {
      const all = this.ordered(list);
      const slot = this.store.table.slotById.get(anchor.id);
      const pos = slot === undefined ? -1 : all.indexOf(slot);
      if (pos >= 0) {
        const start = Math.min(Math.max(0, pos - Math.floor(limit / 2)), lastStart);
        return { ...this.build(all.slice(start, start + limit), start, total, detail), resolved_anchor: anchor.id };
      }
      const fallback = anchor.fallback ?? "nowhere";
      if (fallback === "nowhere") return { items: [], first_position: 0, total };
      return this.window(list, { kind: fallback }, limit, detail);
    }
    const start = anchor.kind === "head" ? 0 : anchor.kind === "tail" ? lastStart : Math.min(Math.max(0, Math.floor(anchor.offset)), lastStart);
    return this.build(this.ordered(list, start + limit).slice(start), start, total, detail);
  }

  /** `find` (§5.1): walk from the anchor (exclusive), substring match; never detailed. */
  find(list: ListName, anchor: FindAnchor, direction: FindDirection, query: { queues?: string[]; types?: string[] }, limit: number): FindResult {
    const t = this.store.table;
    const all = this.ordered(list);
    const total = all.length;
    const empty: FindResult = { matched_position: null, window: { items: [], first_position: 0, total } };
    const anchorPos = anchor.kind === "job_id" ? all.indexOf(t.slotById.get(anchor.id) ?? -1) : -1;
    let match = -1;
    if (direction === "locate") {
      match = anchorPos;
    } else {
      if ((anchor.kind === "start" && direction === "backward") || (anchor.kind === "end" && direction === "forward")) return empty;
      const queues = (query.queues ?? []).filter((q) => q !== "");
      const types = (query.types ?? []).filter((q) => q !== "");
      const matches = (slot: number) => {
        const q = t.queues.name(t.queue[slot]);
        const ty = t.types.name(t.type[slot]);
        return (queues.length === 0 || queues.some((s) => q.includes(s))) && (types.length === 0 || types.some((s) => ty.includes(s)));
      };
      // An unknown anchor id walks from the start (forward) or the end (backward).
      const step = direction === "forward" ? 1 : -1;
      let i = anchorPos >= 0 ? anchorPos + step : step === 1 ? 0 : total - 1;
      for (; i >= 0 && i < total; i += step) {
        if (matches(all[i])) {
          match = i;
          break;
        }
      }
    }
    if (match < 0) return empty;
    const start = Math.min(Math.max(0, match - Math.floor(limit / 2)), Math.max(0, total - limit));
    return { matched_position: match, window: this.build(all.slice(start, start + limit), start, total, false) };
  }

  /** Slots of `list` in list order; only the first `max` when given (early exit). */
  ordered(list: ListName, max = Infinity): number[] {
    if (list === "ready") return this.readyOrder(max);
    if (list === "in_flight") return this.inFlightOrder(max);
    return this.scheduledOrder(max);
  }

  private readyOrder(max: number): number[] {
    const t = this.store.table;
    // One cursor per queue; each queue's index already yields (priority, id) order.
    const cursors: { it: Iterator<number>; slot: number }[] = [];
    for (const q of t.readyQueues) {
      const it = t.ready[q]!.inOrder();
      const first = it.next();
      if (!first.done) cursors.push({ it, slot: first.value });
    }
    const parked = this.parked();
    if (parked.length > 0) {
      parked.sort((a, b) => t.priority[a] - t.priority[b] || t.compare(a, b));
      const it = parked[Symbol.iterator]();
      const first = it.next();
      cursors.push({ it, slot: first.value as number });
    }
    const out: number[] = [];
    while (out.length < max && cursors.length > 0) {
      let best = 0;
      for (let i = 1; i < cursors.length; i++) {
        const a = cursors[i].slot;
        const b = cursors[best].slot;
        if (t.priority[a] < t.priority[b] || (t.priority[a] === t.priority[b] && t.compare(a, b) < 0)) best = i;
      }
      const c = cursors[best];
      out.push(c.slot);
      const next = c.it.next();
      if (next.done) cursors.splice(best, 1);
      else c.slot = next.value;
    }
    return out;
  }

  private inFlightOrder(max: number): number[] {
    // No in-flight index: the scan is over typed arrays (~1 ms per 1M slots) and the
    // in-flight set is bounded by the global in-flight limit, so the sort is small.
    const t = this.store.table;
    const cmp = (a: number, b: number) => t.dequeuedAt[a] - t.dequeuedAt[b] || t.compare(a, b);
    const out: number[] = [];
    if (max <= 16) {
      // A small head window (the dashboard's one-job subscriptions): keep the best `max`
      // by insertion instead of sorting every in-flight job after each change.
      for (let s = 0; s < t.slotLimit; s++) {
        if (t.status[s] !== STATUS_IN_FLIGHT) continue;
        if (out.length === max && cmp(s, out[max - 1]) >= 0) continue;
        let i = out.length === max ? max - 1 : out.length;
        while (i > 0 && cmp(s, out[i - 1]) < 0) {
          if (i < max) out[i] = out[i - 1];
          i--;
        }
        out[i] = s;
      }
      return out;
    }
    for (let s = 0; s < t.slotLimit; s++) if (t.status[s] === STATUS_IN_FLIGHT) out.push(s);
    out.sort(cmp);
    return out.length > max ? out.slice(0, max) : out;
  }

  private scheduledOrder(max: number): number[] {
    const t = this.store.table;
    const cmp = (a: number, b: number) => t.readyAt[a] - t.readyAt[b] || t.compare(a, b);
    const heap = t.scheduled.slots();
    if (max >= heap.length / 4) return [...heap].sort(cmp).slice(0, max);
    // The k smallest of a binary heap without sorting it: pop from a small frontier heap
    // of heap positions, starting at the root; a popped position adds its two children.
    // O(k log k), so the default head window stays cheap at 1M scheduled jobs.
    const frontier: number[] = [0];
    const less = (i: number, j: number) => cmp(heap[frontier[i]], heap[frontier[j]]) < 0;
    const swap = (i: number, j: number) => ([frontier[i], frontier[j]] = [frontier[j], frontier[i]]);
    const push = (pos: number) => {
      if (pos >= heap.length) return;
      frontier.push(pos);
      for (let i = frontier.length - 1; i > 0 && less(i, (i - 1) >> 1); i = (i - 1) >> 1) swap(i, (i - 1) >> 1);
    };
    const out: number[] = [];
    while (out.length < max && frontier.length > 0) {
      const pos = frontier[0];
      const last = frontier.pop()!;
      if (frontier.length > 0) {
        frontier[0] = last;
        for (let i = 0; ;) {
          const l = 2 * i + 1;
          let m = i;
          if (l < frontier.length && less(l, m)) m = l;
          if (l + 1 < frontier.length && less(l + 1, m)) m = l + 1;
          if (m === i) break;
          swap(i, m);
          i = m;
        }
      }
      out.push(heap[pos]);
      push(2 * pos + 1);
      push(2 * pos + 2);
    }
    return out;
  }

  private build(slots: number[], start: number, total: number, detail: boolean): JobWindow {
    return { items: slots.map((s) => this.job(s, detail)), first_position: start, total };
  }

  job(slot: number, detail: boolean): AdminJob {
    const t = this.store.table;
    const job: AdminJob = {
      id: t.idOf(slot),
      queue: t.queues.name(t.queue[slot]),
      job_type: t.types.name(t.type[slot]),
      priority: t.priority[slot],
      ready_at: t.readyAt[slot],
      attempts: t.attempts[slot],
    };
    if (!Number.isNaN(t.dequeuedAt[slot])) job.dequeued_at = t.dequeuedAt[slot];
    const failedAt = t.extras.get(slot)?.failedAtMs;
    if (failedAt !== undefined) job.failed_at = failedAt;
    if (!detail) return job;
    try {
      const text = this.store.payload(slot).toString("utf8");
      job.payload = new PayloadJson(text === "" ? "null" : text);
    } catch {
      // An unreadable payload should not end the admin session; show the job without it.
    }
    const o = optionsOf(t, slot);
    if (o.retry_limit !== undefined) job.retry_limit = o.retry_limit;
    if (o.backoff) job.backoff = { base_ms: o.backoff.base_ms, exponent: o.backoff.exponent, jitter_ms: o.backoff.jitter_ms };
    if (o.retention) job.retention = { ...o.retention };
    if (o.unique_key !== undefined) job.unique_key = o.unique_key;
    if (o.unique_while !== undefined) job.unique_while = o.unique_while;
    if (o.budgets) job.budgets = o.budgets.map((b) => ({ key: b.key, cost: b.cost }));
    return job;
  }
}
