// Making the log durable up to the head, bytes and segment names, before a checkpoint is
// written or compaction deletes a segment: from the segment the last sync reached, so a
// call costs an fdatasync per segment written since (usually one) and one dir sync.
// Off the write path.

import type { Store } from "./store.ts";

export class LogSync {
  /**
   * Segments below this one were synced by syncLog in this process. 0 at open: a killed
   * process may have left the page cache ahead of the disk.
   */
  private syncedFrom = 0;

  constructor(private readonly store: Store) {}

  /**
   * Make the log written so far durable, bytes and segment names, before a checkpoint is:
   * the checkpoint points at payloads and error records in it, and a power cut that kept
   * the checkpoint but not those records served payloads of zeros and undecodable error
   * records (test/storage/power-loss.test.ts). A zero-filled end of a sealed segment reads
   * as its end, so the check of the log before P (recover.ts) cannot see what is missing.
   *
   * Up to the head as it is now, not only to P: the chunks are fuzzy, and hold states
   * applied while they were encoded (a job inserted, an error record added) whose records
   * are after P. Replay after P cannot restore those when the power cut lost them; synced
   * only up to P, a buffered-mode cut kept the checkpoint, lost the job's record after P,
   * and the store served the checkpoint's pointer into zeros.
   *
   * Segments from the one the last call synced up to the head:
   * writes only go to the head, and compaction's copies are synced as they are written.
   * Then their names: buffered mode syncs no dir when it activates a segment, so a cut
   * could keep the synced bytes of a segment and lose its rename (open then deletes it as a
   * spare, or finds a gap), and jobs acknowledged long before the checkpoint were gone or
   * deleted ones back (bench/reliability/power-loss.ts, buffered mode). So a completed
   * checkpoint is a point before which nothing is lost, in every mode. Off the write path,
   * once per checkpoint: an fdatasync per segment written since the last one (usually
   * one), one dir sync (none when every name is synced already: the fsync modes).
   * Checkpoints call it before they are written, compaction before it deletes a segment.
   * Requires: every append the caller's state may reflect has landed (writer.flush).
   */
  async sync(): Promise<void> {
    const store = this.store;
    const head = store.writer.head.segment;
    for (const no of store.segments.numbers()) {
      if (no < this.syncedFrom || no > head) continue;
      await store.writer.fdatasyncSegment(no, false);
    }
    await store.segments.syncNames();
    this.syncedFrom = Math.max(this.syncedFrom, head);
  }
}
