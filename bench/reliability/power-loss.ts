// Power loss, simulated at the fs port (test/helpers/power-loss-fs.ts). A seeded workload
// runs against a store on small segments (rolls, spares, compaction and checkpoints every
// few hundred writes): inserts, state changes, failures with error records, payload
// rewrites, deletes, blob puts and deletes, resets, checkpoints, compactions, restarts.
// Seeds 4-7, 12-15, … roll often (mostly large payloads, a fifth of the workload's own
// checkpoints and compactions): with the even seeds' rare background checkpoints, segments
// roll several times with no name sync between (PowerLossOptions.rollOften).
// Seeds 8-15, 24-31, … arm faults (PowerLossOptions.faults): about once in 250 steps the
// next call of one kind fails once, whatever file it is for (a segment, a spare being
// preallocated, the checkpoint): an fdatasync with EIO (its writes become orphans, never
// durable; the model's header), a writev with EIO, ENOSPC or short, a dir sync with EIO.
// A write whose store call rejects with such an error (or one it led to) is told
// "failed" in the ledger; a failed checkpoint or compaction is counted, not judged. The
// workload carries on, and restarts cleanly (close, disarm, reopen) after a failed write
// now and then, surely after 4 since the last restart, as an operator would.
// At random moments the disk model and a ledger of what each caller was told are frozen
// (a cut); afterwards each cut is materialised as one or more possible directories and
// reopened with the real fs, from the checkpoint and by a full scan, and judged:
//
//  fsync mode: every job and blob is in the state of its last acknowledged write, or of
//    the one write in flight at the cut; nothing acknowledged is lost, nothing deleted
//    comes back, every payload and error record is the one written. A write told failed
//    may be there or not (only acknowledged writes are promised; docs/operations.md,
//    "Durability modes"; docs/reliability.md, "fsync failure (EIO)" counts failed writes
//    present only after a clean reopen): the state of a write issued after the last
//    acknowledged one by the cut (failed, or in flight) is allowed too, and under any
//    state the records of earlier failed writes that reached the log by the cut, as
//    replay applies them (a later update with a failed fail's error record;
//    _power-ledger.ts, explains()).
//  buffered mode (only kill -9 is promised): the store opens; every job and blob it
//    serves is in a state that was written for it (its meta, payload and error records
//    each one that was written), or absent. And nothing older than the last completed
//    checkpoint is lost: a checkpoint makes the log before it durable, data and names
//    (checkpoint.ts), so a job or blob whose state was acknowledged before that
//    checkpoint began is served in that state, or in one written after it (each part:
//    meta, payload, error records), never older and never absent unless deleted since.
//    This is what "writes of the last seconds may be gone" means on a disk model that
//    has no clock: the checkpoint is the moment before which nothing may go. Writes told
//    failed count as written (their records may be on disk), never as acknowledged.
//  both: after recovery a new synced write survives a clean reopen, and the reopen
//    serves exactly what recovery served (recovery left nothing that shifts later).
//  both, live: after each clean restart of the workload's store (no cut) it serves
//    exactly the last write of every job and blob not told failed: a failed write is
//    rolled back in memory and padded over in the log, so it is not replayed.
//  both, the prefix rule (_power-prefix.ts; docs/operations.md: "no later write is
//    served without an earlier one"): what recovery serves is a prefix of the log. Each
//    workload write is one atomic record group (an insert, a bulk insert's TXN, a job's
//    new state or payload, a fail's state and error record, a DELETE of several jobs, a
//    RESET of every job and blob, a blob put or delete) and has a log position: the
//    order of its append to the LogWriter, which places each record at its cursor when
//    append is called and writes batches in that order. If recovery serves a job or blob
//    in the state a write at position k left, every job and blob is served in the state
//    of its last write at or before k, or of a later one (at or before: a group is kept
//    whole or not at all). A state equal to several writes' (an update back to an
//    earlier state) gives k of the earliest; served absent gives none (it is also the
//    state before the first write). Only writes appended by the cut have a position
//    there, and none in flight is excused: one appended before k was written before k,
//    answered or not, except those told failed: the writer pads over a failed write's
//    bytes, and a cut may keep the pad or lose the bytes, so a later write kept does not
//    require it (a failed write served still sets k, and requires the writes before it).
//    In fsync mode the rule above already holds each job at its acknowledged write or
//    its one in flight; this adds that a kept write in flight keeps every write
//    appended before it. Log order across:
//    - restarts: positions go on (a reopened writer appends after the last record).
//    - compaction: a copy takes a position but is no workload write; a state served
//      from a copy counts as its original write's, which is earlier: k only gets smaller.
//    - checkpoints: they move nothing. Recovery from one serves the table at its
//      position P (fuzzy: with states appended while it was encoded) and replays the log
//      after P; the checkpoint made the log up to the head durable before it was written
//      (log-sync.ts), so what it holds is a prefix too, and one rule fits both recoveries.
//    - resets: the RESET record is a write, at its position, of every job and blob it
//      clears (to absent); a job deleted before it keeps its DELETE's position.
//    Added after c3e0949 fixed a buffered/posix roll that could keep segment N+1's name
//    and lose N's: every job served was in a state written for it, and the rules above
//    passed. With that fix undone (buffered/posix, 800 steps, 40 cuts), this rule failed
//    6 of the rollOften seeds 4-7, 12-15, 20-23, 28-31 (which ones varies with
//    thread-pool timing), and none of seeds 0-15 before rollOften existed.
//
// Not exercised: a fault during open (armed faults are dropped before each reopen; a
// restart's close may meet one), a fault that persists over several calls (a disk going
// bad for good; each armed fault fires once), EIO on reads, opens, renames and unlinks,
// faults in the queue harness (power-loss-queue.ts), a page evicted after a failed
// fdatasync and read back older (the model's header says why), and a process killed
// between a failed fdatasync and its repair (log-writer.ts: the restart finds the pages
// clean in the page cache and cannot know; a clean close repairs first).
//
// `npm run reliability -- --only power-loss` runs the long version; the reduced one is
// test/storage/power-loss.test.ts. The workload and its ledger: _power-workload.ts,
// _power-ledger.ts.

import assert from "node:assert/strict";
import fs from "node:fs";
import type { JobMeta } from "../../lib/storage/codec.ts";
import { STATUS_READY } from "../../lib/storage/format.ts";
import { type Store, openStore } from "../../lib/storage/store.ts";
import { type NamesModel, PowerLossFs } from "../../test/helpers/power-loss-fs.ts";
import { prng } from "../../test/helpers/random.ts";
import { T0, makeId } from "../../test/helpers/storage.ts";
import { tmpDir } from "../../test/helpers/tmp.ts";
import { type Taken, judgeCuts } from "./_power-cuts.ts";
import { type LedgerCut, type Ledgers, type ServedAll, type Version, explains, normal, sameState, serve, what } from "./_power-ledger.ts";
import { type PrefixItem, judgePrefix } from "./_power-prefix.ts";
import { type FaultStats, type Workload, runWorkload, short } from "./_power-workload.ts";

export interface PowerLossOptions {
  seed: number;
  mode: "fsync" | "buffered";
  names?: NamesModel;
  /** Operations issued. */
  steps?: number;
  /** Cuts kept (a uniform sample of every moment the disk model changed). */
  cuts?: number;
  /** Directories materialised per cut. */
  imagesPerCut?: number;
  /** Stop judging after this many failures (each failing image adds one). @default 5 */
  maxFailures?: number;
  segmentBytes?: number;
  /**
   * The store's background checkpoint spacing. Every 20 ms, a checkpoint follows nearly
   * every roll, and its dir sync hid orderings a server (5 s) has: compaction retiring a
   * segment before any checkpoint made the new head's name durable. Even seeds: 60 s, so
   * only the workload's own checkpoints (and the first) run. @default seed-dependent
   */
  checkpointEveryMs?: number;
  /**
   * Roll segments often with no name sync between rolls: payloads mostly large (about
   * four times the bytes on average), and the workload's own checkpoints and compactions
   * (each syncs the segment names) a fifth as often. So two segments are often activated
   * with no dir sync between them, above all on even seeds (rare background checkpoints):
   * the window in which a POSIX-ordered cut could keep segment N+1's name and lose N's
   * (c3e0949).
   * @default true for seeds 4-7, 12-15, 20-23, …
   */
  rollOften?: boolean;
  /**
   * Arm a failing fs call now and then (test/helpers/power-loss-fs.ts, "Faults"): an
   * fdatasync, writev or dir sync, about one in 250 steps.
   * @default true for seeds 8-15, 24-31, …
   */
  faults?: boolean;
  log?: (line: string) => void;
}

export interface PowerLossResult {
  seed: number;
  mode: string;
  names: NamesModel;
  steps: number;
  acked: number;
  moments: number;
  cuts: number;
  images: number;
  opened: number;
  fromCheckpoint: number;
  damaged: number;
  /** Images with a failure (judging stops after maxFailures of them). */
  failedImages: number;
  /** Jobs served after recovery, summed over images, by how they compare with the ledger. */
  jobs: { acked: number; inFlight: number; older: number; absentUnacked: number; checkpointed: number };
  /** Jobs and blobs the prefix rule asked something of (a write at or before the newest kept one), summed over judged images. */
  prefixHeld: number;
  fsCalls: PowerLossFs["counts"];
  segmentsRetired: number;
  /** Faults armed and fired, and what failed by them (zeros off the fault seeds). */
  faults: FaultStats;
  failures: string[];
}

const SEGMENT_BYTES = 64 * 1024;

export async function runPowerLoss(options: PowerLossOptions): Promise<PowerLossResult> {
  const { seed, mode } = options;
  const names = options.names ?? "journal";
  const steps = options.steps ?? 400;
  const segmentBytes = options.segmentBytes ?? SEGMENT_BYTES;
  const sync = mode === "fsync";
  const random = prng(seed);
  const checkpointEveryMs = options.checkpointEveryMs ?? (seed % 2 === 0 ? 60_000 : 20);
  const storeOptions = { segmentBytes, syncDirs: sync, cacheBytes: 256 * 1024, now: () => T0, checkpointEveryMs };
  const liveDir = tmpDir("zizq-power-live-");
  const pfs = new PowerLossFs(liveDir, names);
  const failures: string[] = [];
  const work: Workload = await runWorkload({
    seed, sync, steps, wantCuts: options.cuts ?? 40, liveDir, pfs, storeOptions, random, failures,
    backgroundSyncs: Math.floor(seed / 2) % 2 === 1,
    rollOften: options.rollOften ?? Math.floor(seed / 4) % 2 === 1,
    faults: options.faults ?? Math.floor(seed / 8) % 2 === 1,
  });
  const { jobs, blobs, taken } = work;

  // ---- judge every cut
  const result: PowerLossResult = {
    seed, mode, names, steps, acked: work.acked, moments: work.moments(), cuts: taken.length, images: 0, opened: 0, fromCheckpoint: 0, damaged: 0,
    failedImages: 0, jobs: { acked: 0, inFlight: 0, older: 0, absentUnacked: 0, checkpointed: 0 }, prefixHeld: 0, fsCalls: pfs.counts,
    segmentsRetired: work.segmentsRetired, faults: work.faults, failures,
  };
  const counts = await judgeCuts(
    taken, { seed, label: `${mode}/${names}`, liveDir, names, imagesPerCut: options.imagesPerCut ?? 2, maxFailures: options.maxFailures ?? 5, failures, log: options.log, random },
    async (dir, checkpoint, t, where) => judgeImage(dir, checkpoint, t, where, result),
  );
  Object.assign(result, counts);
  fs.rmSync(liveDir, { recursive: true, force: true });
  return result;

  /** Open a materialised dir, check it against the ledger, write once more, reopen. Returns whether it recovered from the checkpoint. */
  async function judgeImage(dir: string, checkpoint: boolean, t: Taken<Ledgers>, where: string, r: PowerLossResult): Promise<boolean> {
    const how = checkpoint ? "from checkpoint if usable" : "full scan";
    let s: Store;
    try {
      s = await openStore({ dir, ...storeOptions, checkpoint });
    } catch (err) {
      throw new Error(`the store refused to open after the power cut (${how}): ${(err as Error).message}`, { cause: err });
    }
    let closed = false;
    try {
      r.opened++;
      if (s.damage.length > 0) r.damaged++;
      const usedCheckpoint = s.recovery.from === "checkpoint";
      const served = serve(s);
      const recovered = `${where} [${how}, recovered by ${s.recovery.from}${s.recovery.reason ? `: ${s.recovery.reason}` : ""}]`;
      judge(served, t.ledger.ledger, t.ledger.checkpointed, t.ledger.appended, recovered, checkpoint ? r : undefined);
      const prefix = judgePrefix(prefixItems(served, t.ledger.ledger, t.ledger.appended));
      if (checkpoint) r.prefixHeld += prefix.held;
      if (prefix.failure) assert.fail(`${recovered}: ${prefix.failure}`);
      // Recovery must leave a log that takes new writes and reopens to the same state.
      const probe: JobMeta = { id: makeId(9_999_999), status: STATUS_READY, priority: 0, attempts: 0, readyAtMs: T0, queue: "a", type: "t" };
      await s.insert([{ meta: probe, payload: Buffer.from('"probe"') }], true);
      await s.close();
      closed = true;
      const again = await openStore({ dir, ...storeOptions, checkpoint });
      try {
        const after = serve(again);
        const probed = after.jobs.get(probe.id);
        assert.ok(probed && probed.payload === '"probe"', `${where} [${how}]: a synced write after recovery was lost on reopen`);
        after.jobs.delete(probe.id);
        assert.deepEqual(after, served, `${where} [${how}]: a reopen after recovery serves something else`);
      } finally {
        await again.close();
      }
      return usedCheckpoint;
    } finally {
      if (!closed) await s.close().catch(() => {});
    }
  }

  function judge(served: ServedAll, ledger: LedgerCut, checkpointed: LedgerCut, appendedAtCut: number, where: string, r?: PowerLossResult): void {
    for (const id of served.jobs.keys()) assert.ok(jobs.has(id), `${where}: job ${id} was never written`);
    for (const [id, e] of jobs) {
      const [issued, ackedN] = ledger.jobs.get(id) ?? [0, 0];
      const got = served.jobs.get(id);
      const written = e.versions.slice(0, issued);
      const gotText = what(got);
      const same = (v: Version | undefined): boolean => sameState(got, v);
      if (mode === "fsync") {
        // The last acknowledged write, or one issued after it by the cut: the one in
        // flight, or one told "failed" (which may be on disk or not: only what was
        // acknowledged is promised), each with any earlier failed ones under it.
        const last = ackedN > 0 ? written[ackedN - 1] : undefined;
        const inLog = (i: number): boolean => e.positions[i] !== undefined && e.positions[i]! < appendedAtCut;
        if (ackedN === 0 ? got === undefined : explains(e, ackedN - 1, got, inLog)) {
          if (r) r.jobs.acked++;
          continue;
        }
        let after = false;
        for (let j = ackedN; j < issued && !after; j++) after = explains(e, j, got, inLog);
        if (after) {
          if (r) r.jobs.inFlight++;
          continue;
        }
        const since = written.slice(ackedN).map((v, k) => `${e.failed.has(ackedN + k) ? "failed" : "in flight"}: ${what(v)}`);
        assert.fail(`${where}: job ${id} is ${gotText}; acknowledged: ${what(last)}${since.length > 0 ? `; since: ${since.join(" | ")}` : ""}`);
      }
      // Buffered: nothing older than the last completed checkpoint. Versions from the one
      // acknowledged when it began (durable) on are allowed; with none issued since, that
      // one exactly.
      const durableN = checkpointed.jobs.get(id)?.[1] ?? 0;
      if (durableN > 0) {
        const since = written.slice(durableN - 1);
        const held = `acknowledged before the last completed checkpoint: ${what(since[0])}${since.length > 1 ? `; written since: ${since.slice(1).map(what).join(" | ")}` : ""}`;
        if (since.length === 1) assert.ok(same(since[0]), `${where}: job ${id} is ${gotText}; ${held}`);
        else if (!got) assert.ok(since.some((v) => !v.meta), `${where}: job ${id} is absent; ${held}`);
        else {
          const present = since.filter((v) => v.meta);
          assert.ok(present.some((v) => normal(v.meta!) === normal(got.meta)), `${where}: job ${id} is older than the checkpoint: ${gotText}; ${held}`);
          assert.ok(present.some((v) => v.payload === got.payload), `${where}: job ${id} serves a payload older than the checkpoint: ${got.payload.slice(0, 80)}; ${held}`);
          for (const err of since[0].errors) assert.ok(got.errors.includes(err), `${where}: job ${id} lost an error record older than the checkpoint: ${err.slice(0, 80)}; ${held}`);
        }
        if (r) r.jobs.checkpointed++;
      }
      // Buffered: absent, or each part of it one that was written for it.
      if (!got) {
        if (r && ackedN > 0 && written[ackedN - 1].meta) r.jobs.absentUnacked++;
        continue;
      }
      const metas = written.filter((v) => v.meta).map((v) => normal(v.meta!));
      assert.ok(metas.includes(normal(got.meta)), `${where}: job ${id} has a state never written: ${normal(got.meta)}; written: ${metas.join(" | ")}`);
      assert.ok(written.some((v) => v.payload === got.payload), `${where}: job ${id} serves a payload never written: ${got.payload.slice(0, 80)}`);
      const errorsWritten = new Set(written.flatMap((v) => v.errors));
      for (const err of got.errors) assert.ok(errorsWritten.has(err), `${where}: job ${id} has an error record never written: ${err.slice(0, 80)}`);
      if (r) {
        if (ackedN > 0 && same(written[ackedN - 1])) r.jobs.acked++;
        else r.jobs.older++;
      }
    }
    for (const [key, e] of blobs) {
      const [issued, ackedN] = ledger.blobs.get(key) ?? [0, 0];
      const got = served.blobs.get(key);
      const written = e.versions.slice(0, issued);
      if (mode === "fsync") {
        // The last acknowledged value, or one written after it by the cut (in flight, or told failed).
        const ok = [ackedN > 0 ? written[ackedN - 1] : undefined, ...written.slice(ackedN).filter((_, k) => (e.positions[ackedN + k] ?? appendedAtCut) < appendedAtCut)];
        assert.ok(ok.includes(got), `${where}: blob ${key} is ${got}; acknowledged ${ok[0]}${ok.length > 1 ? `, written since (in flight or failed): ${ok.slice(1).join(" | ")}` : ""}`);
      } else {
        if (got !== undefined) assert.ok(written.includes(got), `${where}: blob ${key} is ${got}, never written`);
        const durableN = checkpointed.blobs.get(key)?.[1] ?? 0;
        if (durableN > 0) {
          const since = written.slice(durableN - 1);
          assert.ok(since.includes(got), `${where}: blob ${key} is ${got}; acknowledged before the last completed checkpoint: ${since[0]}, written since: ${since.slice(1).join(" | ")}`);
        }
      }
    }
  }

  /**
   * Every job and blob written by the cut, for the prefix rule (_power-prefix.ts): the log
   * positions of its versions issued by then (of those appended by then: a later append
   * cannot have been kept), and which of them the served state equals.
   */
  function prefixItems(served: ServedAll, ledger: LedgerCut, appendedAtCut: number): PrefixItem[] {
    const placed = (positions: readonly (number | undefined)[], issued: number) =>
      positions.slice(0, issued).map((p) => (p !== undefined && p < appendedAtCut ? p : undefined));
    const items: PrefixItem[] = [];
    for (const [id, e] of jobs) {
      const issued = ledger.jobs.get(id)?.[0] ?? 0;
      if (issued === 0) continue;
      const got = served.jobs.get(id);
      const positions = placed(e.positions, issued);
      items.push({
        name: `job ${id}`, positions, serves: (i) => explains(e, i, got, (k) => positions[k] !== undefined), failed: (i) => e.failed.has(i),
        absent: got === undefined, served: short(got), describe: (i) => `${e.failed.has(i) ? "failed: " : ""}${short(e.versions[i])}`,
      });
    }
    for (const [key, e] of blobs) {
      const issued = ledger.blobs.get(key)?.[0] ?? 0;
      if (issued === 0) continue;
      const got = served.blobs.get(key);
      items.push({
        name: `blob ${key}`, positions: placed(e.positions, issued), serves: (i) => e.versions[i] === got, failed: (i) => e.failed.has(i),
        absent: got === undefined, served: got ?? "absent", describe: (i) => `${e.failed.has(i) ? "failed: " : ""}${e.versions[i] ?? "absent"}`,
      });
    }
    return items;
  }
}
