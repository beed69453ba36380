// The state the store's write paths share (store.ts and the store-*.ts operations): the
// table, the log, the blobs, and what memory holds ahead of the log (payloads, states and
// blob writes still on their way). One per open store, made by Store's constructor;
// Store exposes the public parts and passes this to each operation.

import { StorageError } from "./errors.ts";
import type { JobTable } from "./job-table.ts";
import type { LogWriter } from "./log-writer.ts";
import type { BlobEntry } from "./replay.ts";
import type { SegmentSet } from "./segment-set.ts";

export class StoreState {
  /**
   * Blob writes (puts, deletes) appended and not yet settled, by blob key. Memory shows a
   * blob's new state only once its write lands, so a compaction copy planned meanwhile
   * would copy the old state and land after the new one: a restart would bring back the
   * old value, or a deleted budget or cron group. copyBlobs waits for these first.
   */
  readonly blobWrites = new Map<string, Promise<void>>();
  /** Payloads appended but not yet written (folds), served from memory until then. */
  readonly pendingPayloads = new Map<number, Buffer>();
  /**
   * Slots whose state was applied to memory while its write is still on its way (update,
   * fail, a fold's rewrite), with how many such writes. Compaction must not snapshot
   * them (stateInFlight): its copy would carry a state the log may never get.
   */
  readonly statesInFlight = new Map<number, number>();
  /** Bumped by reset(): an insert appended before a reset must not be applied after it. */
  epoch = 0;
  closed = false;

  constructor(
    readonly table: JobTable,
    readonly writer: LogWriter,
    readonly segments: SegmentSet,
    /** Store.blobs: the same map. */
    readonly blobs: Map<string, BlobEntry>,
  ) {}
}

export function assertOpen(s: StoreState): void {
  if (s.closed) throw new StorageError("io", "store is closed");
}
