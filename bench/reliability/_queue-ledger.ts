// The ledger the queue power-loss workload (_queue-workload.ts) keeps as it runs: every
// write it issued on a job or blob, the state each left, and which were answered, in
// log order; frozen at every sampled cut (now()) for the judge (_queue-judge.ts).
// It also watches each live store for RESET records, since the workload resets with
// writes in flight.

import assert from "node:assert/strict";
import { frameRecord } from "../../lib/storage/codec.ts";
import { RECORD_RESET } from "../../lib/storage/format.ts";
import type { Store } from "../../lib/storage/store.ts";
import type { Clock } from "../../lib/queue/clock.ts";
import { type BlobEntry, type Entry, type JobState, type LedgerCut, UNFILLED, type Version, blobOf, markOf, stateOf } from "./_queue-model.ts";

const RESET_FRAME = frameRecord(RECORD_RESET, Buffer.alloc(0));

export type JobWrite = ReturnType<Ledger["issueJobs"]>;

export class Ledger {
  readonly jobs = new Map<number, Entry>();
  readonly blobs: Map<string, BlobEntry>;
  /** Writes of several jobs that are one atomic record group: [tag, version index] each (bulk enqueues, bulk retries). */
  readonly atomics: [number, number][][] = [];
  /** Writes answered (each op counts once). */
  answered = 0;
  /** RESET records seen landing, and every job's state at each (before memory was cleared). */
  resetsLanded = 0;
  private readonly preReset: Map<number, JobState>[] = [];
  /** Every blob's value at each RESET record (before memory was cleared). */
  private readonly preResetBlobs: Map<string, string | undefined>[] = [];
  /** Called when the next RESET record lands, after the snapshot (answers the reset). */
  onResetLanded: (() => void) | undefined;
  private readonly clock: Clock;

  constructor(blobKeys: readonly string[], clock: Clock) {
    this.blobs = new Map(blobKeys.map((k) => [k, { versions: [], acked: 0, pending: new Set() }]));
    this.clock = clock;
  }

  now(): LedgerCut {
    return {
      jobs: new Map([...this.jobs].map(([n, e]) => [n, markOf(e)])),
      blobs: new Map([...this.blobs].map(([k, e]) => [k, markOf(e)])),
      clockMs: this.clock.now(),
    };
  }

  busy(e: Entry | BlobEntry): boolean {
    return e.pending.size > 0;
  }

  /**
   * Job `n` as it stands: the state its last write in log order left (UNFILLED while a
   * write on it is in flight). Not the last write issued: a write issued before a reset
   * may land after its RESET record.
   */
  current(n: number): Version {
    const e = this.jobs.get(n)!;
    if (e.pending.size > 0) return UNFILLED;
    return e.acked > 0 ? e.versions[e.acked - 1] : undefined;
  }

  /** Job `n` may exist: it does, or a write on it is in flight. */
  mayExist(n: number): boolean {
    return this.current(n) !== undefined;
  }

  /** Blob `key` may exist (as mayExist). */
  blobMayExist(key: string): boolean {
    const e = this.blobs.get(key)!;
    return e.pending.size > 0 || (e.acked > 0 && e.versions[e.acked - 1] !== undefined);
  }

  /**
   * Issue a write on `tags`: fill() sets the state it left, answer() marks it answered,
   * unwritten() says it was refused before anything was appended.
   *
   * A reset may land while the write is in flight (the workload does not drain before
   * one). fill() reads the state from memory when the write is answered; when a reset
   * landed since the write was issued and the job is gone, the state the write left is
   * the job's state when the RESET record landed (every write appended before it had
   * landed then, and with one write in flight per job it is this one), if `beforeReset`
   * says the write was appended before the RESET record: true for writes appended when
   * issued (acks, nacks, deletes, patches, expiries, kills; and a plain enqueue whose job
   * is gone), false for writes under the enqueue lock, which a reset waits for; a job
   * still there when the write is answered was written after the record. Answers
   * follow log order: a write appended before a RESET record answered later does not
   * move `acked` back before the reset's.
   */
  issueJobs(tags: readonly number[], what: string) {
    const epoch = this.resetsLanded;
    const appendedBeforeReset = new Set<number>();
    const at = tags.map((n) => {
      const e = this.jobs.get(n)!;
      e.versions.push(UNFILLED);
      e.writes.push(what);
      e.pending.add(e.versions.length - 1);
      return e.versions.length - 1;
    });
    const settle = (answered: boolean) => {
      tags.forEach((n, i) => {
        const e = this.jobs.get(n)!;
        assert.notEqual(e.versions[at[i]], UNFILLED, `tag ${n}: write answered before its state was filled`);
        e.pending.delete(at[i]);
        if (answered) e.acked = appendedBeforeReset.has(n) ? Math.max(e.acked, at[i] + 1) : at[i] + 1;
      });
    };
    return {
      at,
      fill: (f: (n: number) => JobState | undefined, beforeReset: (n: number) => boolean = () => true) => {
        const landed = this.resetsLanded !== epoch;
        tags.forEach((n, i) => {
          const s = f(n);
          // A job still there after a reset landed was written after its RESET record.
          const before = !landed || (s === undefined && beforeReset(n));
          if (before) appendedBeforeReset.add(n);
          this.jobs.get(n)!.versions[at[i]] = landed && before ? this.preReset[epoch].get(n) : s;
        });
      },
      answer: () => {
        settle(true);
        if (tags.length > 0) this.answered++;
      },
      unwritten: () => {
        tags.forEach((n, i) => {
          const e = this.jobs.get(n)!;
          e.versions[at[i]] = lastFilled(e.versions, at[i]) as JobState | undefined;
        });
        settle(false);
      },
    };
  }

  /**
   * Issue a write on a blob (a pause, the cron group, a budget): answered with the store it
   * landed in (undefined: gone). As issueJobs, a reset may land while it is in flight: the
   * blob there when it is answered was written after the RESET record (which drops every
   * blob), and answers follow log order; a blob gone was written before it, and left the
   * value it had when the record landed. Requires: no other write on `key` is in flight
   * but a reset's, so what the store holds when it is answered is this write's.
   */
  issueBlob(key: string) {
    const e = this.blobs.get(key)!;
    e.versions.push(UNFILLED);
    const at = e.versions.length - 1;
    e.pending.add(at);
    const epoch = this.resetsLanded;
    return {
      answer: (store: Store | undefined) => {
        const value = store ? blobOf(store, key) : undefined;
        const afterReset = this.resetsLanded !== epoch && value !== undefined;
        e.versions[at] = this.resetsLanded !== epoch && store && !afterReset ? this.preResetBlobs[epoch].get(key) : value;
        e.pending.delete(at);
        e.acked = afterReset ? at + 1 : Math.max(e.acked, at + 1);
        this.answered++;
      },
      unwritten: () => {
        e.versions[at] = lastFilled(e.versions, at) as string | undefined;
        e.pending.delete(at);
      },
    };
  }

  /**
   * Watch `store` for RESET records. The record's append resolves before the reset's own
   * continuation clears memory, and after every write appended before it was applied: a
   * callback on it sees the state as of the record, in log order with every other answer.
   * (A wrapper of the log writer's public append, which every store write goes through:
   * the harness's only hook into the store. A RESET record is appended alone.)
   */
  watchResets(store: Store, landed: () => void): void {
    const writer = store.writer;
    const append = writer.append.bind(writer);
    writer.append = (record, sync) => {
      const r = append(record, sync);
      if (!record.equals(RESET_FRAME)) return r;
      void r.done.then(() => {
        const snapshot = new Map<number, JobState>();
        for (const slot of store.table.slotById.values()) {
          const s = stateOf(store, slot);
          const p = JSON.parse(s.payload) as { n?: number };
          if (typeof p.n === "number") snapshot.set(p.n, s);
        }
        this.preReset[this.resetsLanded] = snapshot;
        this.preResetBlobs[this.resetsLanded] = new Map([...this.blobs.keys()].map((k) => [k, blobOf(store, k)]));
        this.resetsLanded++;
        landed();
        this.onResetLanded?.();
        this.onResetLanded = undefined;
      }, () => {});
      return r;
    };
  }
}

/** The state before write `i`: the last one filled before it (undefined: none). */
function lastFilled<T>(versions: (T | typeof UNFILLED)[], i: number): T | undefined {
  for (let j = i - 1; j >= 0; j--) if (versions[j] !== UNFILLED) return versions[j] as T;
  return undefined;
}
