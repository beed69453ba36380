// Unique keys (API.md §4.3): key → the id of its holder, the job that last claimed it.
// Whether the holder still holds is computed from its status and its own scope, so
// take, completion and death need no bookkeeping: a `queued` holder stops holding
// when taken and holds again if it is rescheduled while still the key's holder.
// An incoming enqueue conflicts when the holder holds AND the holder's status is in
// the incoming job's scope.

import { STATUS_FREE, STATUS_IN_FLIGHT, STATUS_READY, STATUS_SCHEDULED } from "../storage/format.ts";
import type { JobTable } from "../storage/job-table.ts";
import { optionSlotsInIdOrder, optionsOf } from "./job.ts";
import type { UniqueWhile } from "./types.ts";

/** Does a job in `status` fall within `scope`? */
export function inScope(scope: UniqueWhile, status: number): boolean {
  if (scope === "exists") return true;
  if (status === STATUS_SCHEDULED || status === STATUS_READY) return true;
  return scope === "active" && status === STATUS_IN_FLIGHT;
}

export class UniqueIndex {
  private readonly holders = new Map<string, string>();
  /** Size at which claim() next drops holders whose job is gone. */
  private pruneAt = 1024;

  get size(): number {
    return this.holders.size;
  }

  /** The holder's slot if an enqueue with `scope` conflicts with it, else -1. */
  conflict(table: JobTable, key: string, scope: UniqueWhile): number {
    const id = this.holders.get(key);
    const slot = id === undefined ? undefined : table.slotById.get(id);
    if (slot === undefined) return -1;
    const holderScope = optionsOf(table, slot).unique_while ?? "queued";
    const status = table.status[slot];
    return inScope(holderScope, status) && inScope(scope, status) ? slot : -1;
  }

  claim(table: JobTable, key: string, id: string): void {
    this.holders.set(key, id);
    if (this.holders.size >= this.pruneAt) this.prune(table);
  }

  /**
   * Drop keys whose holder job is gone (completed and deleted, or deleted): such a key
   * conflicts with nothing, and a claim or reclaim takes it over anyway. Without this,
   * every unique key ever used stayed in memory until a restart (keys per entity and
   * day grow by the million). Amortised: runs when the map has doubled since the last.
   */
  private prune(table: JobTable): void {
    for (const [key, id] of this.holders) if (table.slotById.get(id) === undefined) this.holders.delete(key);
    this.pruneAt = Math.max(1024, this.holders.size * 2);
  }

  /**
   * `id` became scheduled/ready again (failure retry, disconnect requeue): it re-claims
   * `key` if no other job holds it (API.md §4.3). Without this, a key left to a later job
   * that has since finished stayed with that gone job, so nothing blocked duplicates.
   */
  reclaim(table: JobTable, key: string, id: string): void {
    const current = this.holders.get(key);
    if (current === id || (current !== undefined && this.holds(table, current))) return;
    this.holders.set(key, id);
  }

  /** Does job `id` still hold its key, by its own scope and status? */
  private holds(table: JobTable, id: string): boolean {
    const slot = table.slotById.get(id);
    if (slot === undefined) return false;
    return inScope(optionsOf(table, slot).unique_while ?? "queued", table.status[slot]);
  }

  clear(): void {
    this.holders.clear();
  }

  /**
   * After recovery: the newest job with each key that still holds it is its holder (a
   * recovered job re-claims a key nobody holds); if none holds, the newest job.
   */
  rebuild(table: JobTable): void {
    this.holders.clear();
    for (const slot of optionSlotsInIdOrder(table)) {
      if (table.status[slot] === STATUS_FREE) continue;
      const key = optionsOf(table, slot).unique_key;
      if (key === undefined) continue;
      const id = table.idOf(slot);
      const current = this.holders.get(key);
      if (current === undefined || this.holds(table, id) || !this.holds(table, current)) this.holders.set(key, id);
    }
  }
}
