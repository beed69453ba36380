// The ledger of the storage power-loss workload (_power-workload.ts, judged by
// power-loss.ts): every write issued on a job or blob, the change it makes and the state
// it leaves, its place in log order, and what its caller was told (acknowledged, failed,
// or nothing yet). Also what a job may be served as when writes told "failed" may or may
// not have reached the disk (explains()), and what a store serves (serve()).

import type { JobMeta } from "../../lib/storage/codec.ts";
import { BLOB_NAMESPACE_QUEUE, STATUS_IN_FLIGHT, STATUS_READY } from "../../lib/storage/format.ts";
import type { Store } from "../../lib/storage/store.ts";

/**
 * The records one write appends for a job, as replay applies them (replay.ts): `job`
 * (a payload rewrite, a JOB record) adds the job when it is absent; `meta` and `fail`
 * change only a present job; a fail's error record replaces one of the same attempt.
 */
export type Change =
  | { kind: "insert" | "job"; meta: JobMeta; payload: string }
  | { kind: "meta"; meta: JobMeta }
  | { kind: "fail"; meta: JobMeta; attempt: number; error: string }
  | { kind: "delete" };

export interface Version {
  /** undefined: the job is absent (deleted, reset, or not yet inserted). */
  meta?: JobMeta;
  payload?: string;
  errors: string[];
  /** What the write changes; the state above is this change over the previous state the store held. */
  change: Change;
}

export interface Entry {
  versions: Version[];
  /** Each version's log position (the writer's append count when its write was appended); undefined until then. */
  positions: (number | undefined)[];
  /** Versions whose write was told "failed" (the store rolled it back in memory). */
  failed: Set<number>;
  /** 1 + the index of the last acknowledged version (0: none). */
  acked: number;
  busy: boolean;
}

export interface BlobEntry {
  versions: (string | undefined)[];
  positions: (number | undefined)[];
  failed: Set<number>;
  acked: number;
  busy: boolean;
}

/** One version a store call writes: its entry, and the version's index there. */
export interface Target {
  entry: Entry | BlobEntry;
  at: number;
}

/** Per job and blob at a cut: versions issued so far, and 1 + the index of the last acknowledged one. */
export type LedgerCut = { jobs: Map<string, [number, number]>; blobs: Map<string, [number, number]> };

/** The workload's ledger at a cut: what each caller was told, and as of the last completed checkpoint. */
export interface Ledgers {
  ledger: LedgerCut;
  /** The ledger when the last completed checkpoint (as of the cut) began. */
  checkpointed: LedgerCut;
  /** Appends to the log so far: every position below it was appended by the cut. */
  appended: number;
}

/** What recovery serves for one job: comparable with a Version. */
export interface Served {
  meta: JobMeta;
  payload: string;
  errors: string[];
}

export type ServedAll = { jobs: Map<string, Served>; blobs: Map<string, string> };

/** The state the store holds for an entry now: its last version not told "failed" (undefined: none). */
export function currentOf(e: Entry): Version | undefined {
  for (let i = e.versions.length - 1; i >= 0; i--) if (!e.failed.has(i)) return e.versions[i];
  return undefined;
}

export function blobNow(e: BlobEntry): string | undefined {
  for (let i = e.versions.length - 1; i >= 0; i--) if (!e.failed.has(i)) return e.versions[i];
  return undefined;
}

// In flight comes back ready (recovery hands it out again); nothing else changes.
export const normal = (m: JobMeta): string => JSON.stringify([m.id, m.status === STATUS_IN_FLIGHT ? STATUS_READY : m.status, m.priority, m.attempts, m.readyAtMs, m.queue, m.type]);

/** A version (or a served state) for failure texts. */
export const what = (v: Version | Served | undefined): string => (v?.meta ? `${normal(v.meta)} payload ${v.payload} errors ${v.errors.length}` : "absent");

/** Does the served state (undefined: absent) equal the one version `v` left (undefined: none yet)? */
export function sameState(got: Served | undefined, v: Version | undefined): boolean {
  if (v?.meta === undefined) return got === undefined;
  return got !== undefined && normal(got.meta) === normal(v.meta) && got.payload === v.payload && JSON.stringify(got.errors) === JSON.stringify(v.errors);
}

type Folded = { meta: JobMeta; payload: string; errors: { attempt: number; text: string }[] } | undefined;

function apply(s: Folded, c: Change): Folded {
  switch (c.kind) {
    case "insert":
    case "job":
      return { meta: c.meta, payload: c.payload, errors: s?.errors ?? [] };
    case "meta":
      return s && { ...s, meta: c.meta };
    case "fail": {
      if (!s) return s;
      const errors = s.errors.filter((e) => e.attempt !== c.attempt);
      errors.push({ attempt: c.attempt, text: c.error });
      errors.sort((a, b) => a.attempt - b.attempt);
      return { ...s, meta: c.meta, errors };
    }
    case "delete":
      return undefined;
  }
}

/** At most this many failed writes before one are tried in every combination (2^n folds); more: all or none. */
const SUBSET_LIMIT = 6;

/**
 * Can the served state be what a log holding job write `j` leaves, with every earlier write
 * of the job not told "failed", and any of the earlier failed ones that reached the log by
 * the cut (`inLog`)? A failed write is rolled back in memory and padded over, but its
 * records may be on disk after a cut (fsync failed, or the pad was lost), and replay then
 * applies them under the later writes: a later update's state with a failed fail's error
 * record. Without failed writes it is sameState(got, versions[j]).
 */
export function explains(e: Entry, j: number, got: Served | undefined, inLog: (i: number) => boolean): boolean {
  if (!inLog(j)) return false;
  const optional: number[] = [];
  for (let i = 0; i < j; i++) if (e.failed.has(i) && inLog(i)) optional.push(i);
  if (optional.length === 0) return sameState(got, e.versions[j]);
  const masks = optional.length <= SUBSET_LIMIT ? Array.from({ length: 1 << optional.length }, (_, m) => m) : [0, (1 << SUBSET_LIMIT) - 1];
  for (const mask of masks) {
    let s: Folded;
    for (let i = 0; i <= j; i++) {
      const o = optional.indexOf(i);
      if (e.failed.has(i) && i !== j && (o === -1 || (mask & (1 << Math.min(o, SUBSET_LIMIT - 1))) === 0)) continue;
      s = apply(s, e.versions[i].change);
    }
    if (s === undefined ? got === undefined
      : got !== undefined && normal(got.meta) === normal(s.meta) && got.payload === s.payload
        && JSON.stringify(got.errors) === JSON.stringify(s.errors.map((x) => x.text))) return true;
  }
  return false;
}

/** What a store serves: every job's state, payload and error records, and the blobs. */
export function serve(s: Store): ServedAll {
  const jobs = new Map<string, Served>();
  for (const slot of s.table.slotById.values()) {
    const meta = s.table.meta(slot);
    jobs.set(meta.id, { meta, payload: s.payload(slot).toString(), errors: s.errors(slot).map((e) => JSON.stringify(e)) });
  }
  const blobs = new Map<string, string>();
  for (const [k, v] of s.blobsIn(BLOB_NAMESPACE_QUEUE)) blobs.set(k, v.toString());
  return { jobs, blobs };
}
