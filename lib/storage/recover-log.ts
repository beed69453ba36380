// Log recovery at open: rebuild the job table, its indexes and the blobs from the
// checkpoint and the log after it when the checkpoint is usable (its log before it
// verified meanwhile), else from a scan of every segment. Runs once, before the store
// serves anything.

import { type BlobEntry, createReplayVisitor, rebuildIndexes } from "./replay.ts";
import { type LoadedCheckpoint, loadCheckpoint } from "./checkpoint.ts";
import { type FsPort, nodeFs } from "./fs-port.ts";
import { JobTable } from "./job-table.ts";
import { type Damage, type ScanResult, scanSegments } from "./recover.ts";

/**
 * How open() rebuilt the table: from a checkpoint plus the log after it, or a full scan
 * (and why); `replayedBytes`, the log it replayed (after the checkpoint, or all of it):
 * what a slow restart spent its replay on (the server logs it).
 */
export interface Recovery {
  from: "checkpoint" | "scan";
  reason?: string;
  replayedBytes?: number;
}

/**
 * Rebuild the table from the log, and its indexes: from the checkpoint and the log after
 * it when the checkpoint is usable, else from every segment.
 */
export async function recoverLog(
  fs: FsPort, dir: string, segDir: string, segmentBytes: number, useCheckpoint: boolean, nowMs: () => number, verifyThreadBytes = Infinity,
): Promise<{
  table: JobTable; blobs: Map<string, BlobEntry>; scan: ScanResult; recovery: Recovery;
  /** The checkpoint's log position, when the table came from one. */
  at?: { segment: number; offset: number };
}> {
  const fullScan = async (reason: string) => {
    const table = new JobTable();
    const blobs = new Map<string, BlobEntry>();
    const scan = await scanSegments(fs, segDir, segmentBytes, createReplayVisitor(table, blobs));
    rebuildIndexes(table, nowMs());
    return { table, blobs, scan, recovery: { from: "scan" as const, reason } };
  };
  if (useCheckpoint) {
    const table = new JobTable();
    const blobs = new Map<string, BlobEntry>();
    // Once the header matches the log, the log before the checkpoint is read and verified
    // while the checkpoint's chunks load (both mostly wait on reads); replay of the log
    // after it waits for the load, and is dropped if the load fails.
    let scanning: Promise<ScanResult | undefined> | undefined;
    // Loaded when used, as its own chunk of the bundle, so that the worker file it starts
    // sits beside it (verify-thread.ts).
    const verifyBefore = fs === nodeFs ? (await import("./verify-thread.ts")).verifyOffThread(fs, segDir, segmentBytes, verifyThreadBytes) : undefined;
    const loading: Promise<LoadedCheckpoint | string> = loadCheckpoint(fs, dir, table, blobs, (from) => {
      const loadedWell = () => loading.then((r) => typeof r === "object", () => false); // a throw closes the scan's files too
      scanning = scanSegments(fs, segDir, segmentBytes, createReplayVisitor(table, blobs), from, loadedWell, verifyBefore);
      scanning.catch(() => {}); // awaited below, after the load: not an unhandled rejection meanwhile
    });
    const loaded = await loading;
    const scan = await scanning;
    let reason: string;
    if (typeof loaded === "object") {
      // Defined: a load that succeeded started the scan and let its gate through.
      // Indexed while the log before the checkpoint may still be being verified on
      // another thread: wasted only in the rare case that finds damage.
      rebuildIndexes(table, nowMs());
      let early: Damage[];
      try {
        early = (await scan!.verifying) ?? [];
      } catch (err) {
        for (const s of scan!.segments) await fs.close(s.fd).catch(() => {});
        throw err;
      }
      scan!.damage.unshift(...early);
      const before = scan!.damage.find((d) => d.segment < loaded.segment || (d.segment === loaded.segment && d.offset < loaded.offset));
      if (!before) return { table, blobs, scan: scan!, recovery: { from: "checkpoint" }, at: loaded };
      // The checkpoint stands for records that are damaged now: only a full scan knows
      // what the log still says (and reports the damage as it always did).
      for (const s of scan!.segments) await fs.close(s.fd).catch(() => {});
      reason = `damage before the checkpoint (segment ${before.segment} offset ${before.offset})`;
    } else {
      reason = loaded;
    }
    return fullScan(reason);
  }
  return fullScan("checkpoints are off");
}

/** Log bytes after the checkpoint position (all of them after a full scan), up to the head. */
export function replayedBytes(scan: ScanResult, at: { segment: number; offset: number } | undefined): number {
  let bytes = 0;
  for (const s of scan.segments) {
    const end = s.no === scan.headNo ? scan.cursor : s.bytes;
    if (at === undefined || s.no > at.segment) bytes += end;
    else if (s.no === at.segment) bytes += Math.max(0, end - at.offset);
  }
  return bytes;
}
