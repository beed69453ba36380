// Power loss under the queue layer: a seeded workload (_queue-workload.ts) drives a Queue
// (lib/queue/queue.ts) over a Store on the simulated disk of test/helpers/power-loss-fs.ts,
// with a manual clock, up to 4 operations in flight: enqueue (single and bulk; unique keys
// in all three scopes; ready_at in the future; retry limits, backoff and retention;
// batches, whose folds rewrite the open batch job; a budget binding, cost 1 or 2, made by
// create_with: two concurrency budgets and two `time_based` drip buckets, one with a
// burst), budget policy writes through Queue.budgets (POST, PUT, PATCH: allocation, burst
// set or cleared, duration, a strategy switch, `{}`; DELETE; refusals included: 409 while
// jobs draw on it, 422 from the shrink guard), rebinds of queued jobs to one budget or
// none (Queue.mutateJobBudgets, as PUT /jobs/{id}/budgets, create_with in the same write),
// take (one take stream at a time, as a worker holds it, with a lease of
// 0, 1.5 s or 4 s; --max-abandons 2), ack (single and bulk), nack (retry, retry_at, kill),
// heartbeats, lease expiries (the workload fires the LeaseBook at the manual clock), dropped
// streams (abandonments; the 2nd kills the job), retries of dead and retained completed
// jobs (one, or several by id in one call), patches, deletes (single and bulk), queue
// pauses, a cron group (put, pause, firings), the reaper, checkpoints, compaction, clean
// restarts and resets, both with writes in flight (not drained). Cuts and images as in
// power-loss.ts (shared: _power-cuts.ts). Each image is opened as a server opens it
// (store, then Queue, at the cut's clock) and judged (_queue-judge.ts) on what a user of
// the queue relies on; the ledger of what each caller was told is _queue-model.ts.
//
//  Every job (keyed by the tag in its payload: the caller knows the id only once told)
//  is compared as a user sees it: its job view (API.md §2.1) without `dequeued_at` (a
//  take writes nothing, so a crash may bring back an older one; docs/api.md), with
//  scheduled, ready and in_flight as one "pending" status (taking and promotion write
//  nothing; ready_at is compared exactly), a job past its purge_at as absent (§4.2:
//  invisible everywhere), its payload and its error records.
//
//  Writes the server makes by itself count as writes on the job, answered when they land
//  (the queue's `dead` event): a lease expiry (a failed attempt, error `lease expired
//  after 4s`) and an abandon kill (dead, error `abandoned 2 times`; deleted with a dead
//  retention of 0). A worker's late ack after either is a 404 (checked live).
//
//  fsync mode (enqueue and write sync): every job is in the state of its last
//    acknowledged write (in log order), or of a write still in flight on it at the cut
//    (an enqueue not yet answered may be there or not; a duplicate answer wrote
//    nothing); pause states, the cron group and each budget likewise (last answered, or
//    in flight): a budget is served with exactly the policy and timestamps of that
//    write (a policy write, or the enqueue or rebind whose create_with made it), or is
//    absent if that write deleted it or a reset did.
//  buffered mode: every job served is exactly as one write issued for it left it (view,
//    payload and error records together: a cut keeps a prefix of the log), or absent;
//    and nothing acknowledged before the last completed checkpoint (which syncs the log
//    before it) is older or absent unless a later write made it so. Pause states, the
//    cron group and budgets likewise (a budget as one write issued for it left it, and
//    not older than the last completed checkpoint). (Cross-job checks below hold in every
//    mode: a prefix of the log never shows a later write without an earlier one.)
//  enqueue-fsync mode (`--enqueue-commit-mode fsync`, other writes buffered): as
//    buffered, and an answered enqueue that created a job is there (in a state written
//    for it) unless a write since removed it (an ack, a delete, a death, a reset, a purge).
//  all modes:
//   - no job comes back in flight (leases are not stored: a worker's jobs are ready
//     again after a restart, attempts unchanged), and a take stream then gets every
//     ready job of an unpaused queue but those its time_based budgets' tokens leave
//     parked. Tokens are not stored (API-budgets.md §2.11): every budget is loaded full
//     at the recovery clock, and the judge's clock stands still (no drip). So the jobs
//     handed out that draw on a time_based budget cost at most its capacity, and are
//     exactly those a full bucket pays for, best (priority, id) first, a head it cannot
//     pay blocking the rest of its (budget, queue) group (§2.7, strict FIFO);
//   - attempts and error history agree, retries included: a job served with k error
//     records has them for attempts 1..k, and k - attempts is 0 or the number of records
//     it had when one of its retries issued before the cut was made (a retry sets
//     attempts to 0 and keeps the history; later failures number on from it). A retried
//     job is otherwise judged as any job: in fsync mode an answered retry holds (ready or
//     scheduled, attempts 0, no purge_at or completed_at, every earlier error record);
//     in buffered mode it is as retried or as before the retry, history and all;
//   - a cron entry fired each occurrence at most once, its jobs (ready_at = the firing
//     time) are exactly the firings its served schedule says happened (a firing and
//     its schedule are one write), and last/next_enqueue_at agree;
//   - a unique key blocks a new enqueue after recovery iff a served job with that key
//     is in the key's scope (API.md §4.3; a retried job takes its key back); an `active`
//     key has at most one unfinished job, an `exists` key at most one job;
//   - a bulk enqueue, and a bulk retry, is all or nothing: of the jobs it changed and
//     nothing was written on since, all or none are as it left them;
//   - a budget an unfinished job draws on exists, and its capacity covers the job's cost
//     (the delete and shrink guards, §2.9–2.10: else the job is never handed out);
//   - after recovery, jobs no budget parks are handed out in (priority, id) order;
//   - writes made after recovery (the probes, acks of everything taken) survive a clean
//     reopen, which serves the same.
//
//  With writes in flight: a clean restart closes the store under them; each write
//  appended before the close lands and is answered (and judged as above), one not yet
//  appended (waiting for a lock) is refused ("store is closed") and wrote nothing. A
//  reset lands each write in flight before or after its RESET record, whole: the ledger
//  takes a job's (a blob's) state when the RESET record lands (before memory is cleared)
//  as the state a write appended before it left, and orders answers by the log (a blob
//  there when its write is answered after a reset landed was written after the record).
//
//  Checked live, against the workload's own count: the queue kills a job at exactly its
//  2nd abandonment (dropped stream or expired lease, counts cleared by a retry, a reset
//  or a restart), and puts every other abandoned job back to ready.
//
// Half the seeds (2, 3, 6, 7, …) sync the head in the background every 8 KiB, as buffered
// mode does every 8 MiB of a big store's segments (log-writer.ts, syncInBackground).
//
// Not exercised: token state across a cut (not stored, so a restart forgives spending,
// §2.11: nothing to judge beyond the full bucket at recovery), the drip after recovery
// (the judge's clock stands still; the live workload's drip runs on its manual clock,
// unjudged), jobs drawing on several budgets, budgets in cron templates, the bulk
// job-budget routes, write errors (EIO, ENOSPC) with power loss, the cron, lease and drip
// timers themselves (the workload fires them, the clock being manual).
//
// `npm run reliability -- --only power-loss-queue` runs the long version; the reduced one
// is test/queue/power-loss-queue.test.ts.

import type { NamesModel, PowerLossFs } from "../../test/helpers/power-loss-fs.ts";
import { judgeCuts } from "./_power-cuts.ts";
import { type JudgeCounts, createJudge } from "./_queue-judge.ts";
import type { Mode } from "./_queue-options.ts";
import { runWorkload } from "./_queue-workload.ts";

export interface QueuePowerLossOptions {
  seed: number;
  /** "enqueue-fsync": `--enqueue-commit-mode fsync` over buffered writes. */
  mode: Mode;
  names?: NamesModel;
  steps?: number;
  cuts?: number;
  imagesPerCut?: number;
  /** Stop judging after this many failed images. @default 5 */
  maxFailures?: number;
  log?: (line: string) => void;
}

export interface QueuePowerLossResult extends JudgeCounts {
  seed: number;
  mode: string;
  names: NamesModel;
  steps: number;
  /** Operations answered (each enqueue, ack, nack, delete, retry, pause, cron write, budget write, rebind, reset, lease expiry, kill). */
  acked: number;
  ops: Record<string, number>;
  moments: number;
  cuts: number;
  images: number;
  fromCheckpoint: number;
  failedImages: number;
  fsCalls: PowerLossFs["counts"];
  segmentsRetired: number;
  failures: string[];
}

export async function runQueuePowerLoss(options: QueuePowerLossOptions): Promise<QueuePowerLossResult> {
  const { seed, mode } = options;
  const names = options.names ?? "journal";
  const steps = options.steps ?? 400;
  const live = await runWorkload({ seed, mode, names, steps, cuts: options.cuts ?? 40 });
  const result: QueuePowerLossResult = {
    seed, mode, names, steps, acked: live.acked, ops: live.ops, moments: live.moments, cuts: live.taken.length, images: 0, opened: 0, fromCheckpoint: 0, failedImages: 0,
    jobs: { acked: 0, inFlight: 0, older: 0, checkpointed: 0, cron: 0, retried: 0 }, probes: { unique: 0, duplicates: 0, taken: 0, parked: 0 },
    fsCalls: live.pfs.counts, segmentsRetired: live.segmentsRetired, failures: live.failures,
  };
  if (result.failures.length > 0) return result;
  const judgeImage = createJudge(seed, mode, live.world, result);
  const counts = await judgeCuts(
    live.taken,
    { seed, label: `queue ${mode}/${names}`, liveDir: live.liveDir, names, imagesPerCut: options.imagesPerCut ?? 2, maxFailures: options.maxFailures ?? 5, failures: result.failures, log: options.log, random: live.random },
    judgeImage,
  );
  Object.assign(result, counts);
  return result;
}
