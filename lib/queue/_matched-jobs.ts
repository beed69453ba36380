// The jobs a bulk operation matched, kept across the yields between its slices: each
// match's slot and its 128-bit id words. After a yield a slot may hold another job (freed,
// then reused); it still holds the matched one iff it is not free and its words are
// unchanged (ids are unique). Why words, not id strings: formatting 1M ids up front cost
// ~1 µs each in one synchronous block (200 ms stall at 180k jobs, bench/manage.ts). Both
// lists grow in blocks (U32List): one array of 9M matches copied itself whole as it grew,
// a 180 ms stall at 10M jobs. Jobs also change between slices (taken, acked, failed,
// patched): given the filter's test, a match counts only while the job still passes it
// (jq aside: payloads rarely change), so a job matched as ready and taken since is not
// deleted or changed from under its worker, as an atomic operation could not have.
// Used by DELETE /jobs, PATCH /jobs and the bulk job-budget routes.

import { STATUS_FREE } from "../storage/format.ts";
import type { JobTable } from "../storage/job-table.ts";
import { U32List } from "../storage/u32-list.ts";

/**
 * Jobs per write (one atomic record each) of a bulk change over its matches: DELETE
 * /jobs, bulk retry, the bulk job-budget routes. The write is most of a chunk's cost, so
 * chunks stay small: 4,096-job writes held `/health` up to 126 ms (bench/budget-stall.ts).
 */
export const MATCH_CHUNK = 256;

export class MatchedJobs {
  private readonly slots = new U32List();
  private readonly words = new U32List();

  constructor(private readonly table: JobTable, private readonly stillMatches: (slot: number) => boolean = () => true) {}

  get length(): number {
    return this.slots.length;
  }

  add(slot: number): void {
    this.slots.push(slot);
    for (let k = 0; k < 4; k++) this.words.push(this.table.idw[slot * 4 + k]);
  }

  /** The slot of match `i` while it still holds the matched job and that job still matches, else -1. */
  slot(i: number): number {
    const t = this.table;
    const slot = this.slots.get(i);
    if (t.status[slot] === STATUS_FREE) return -1;
    for (let k = 0; k < 4; k++) if (t.idw[slot * 4 + k] !== this.words.get(i * 4 + k)) return -1;
    return this.stillMatches(slot) ? slot : -1;
  }
}
