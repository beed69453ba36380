// Store.fail: a failed attempt as the job's new state and its error record, in one
// atomic group. The state is applied at once and rolled back if the write fails; the
// error record's place is noted once it lands.

import { type JobMeta, encodeErrorBody, encodeJobRecord, frameRecord } from "./codec.ts";
import { RECORD_ERROR, RECORD_HEADER_BYTES, RECORD_META } from "./format.ts";
import { addErrorLocation } from "./replay.ts";
import { appendGroup, refuseIfFull } from "./_append.ts";
import { applyMeta, stateLanded } from "./_apply-meta.ts";
import { type StoreState, assertOpen } from "./_store-state.ts";

/**
 * Record a failure: the job's new state and its error record, atomically. `accepted`
 * runs synchronously once the write is taken, before the new state is applied; a
 * refused write rejects without calling it and changes nothing. No reserve covers a
 * failure (a job may fail any number of times; its reserve is for the one completion),
 * so on a full disk it is refused when it would eat the room kept for acks
 * (LogWriter.refusalFor), as update() is: heavy nacking there used to use that room
 * up, and then every write failed, acks included, until space came back. `reserved`:
 * a kill the server itself decides (a poison job's last abandonment), whose dead state
 * takes the place of the completion its reserve was kept for and must not be refused,
 * or the job would be handed out again; its error record is written only if it fits
 * beyond the reserve (it is not covered: a run of kills used the room kept for acks).
 */
export async function fail(
  state: StoreState, slot: number, meta: JobMeta, attempt: number, record: unknown, sync: boolean,
  extra: { accepted?: () => void; reserved?: boolean },
): Promise<void> {
  assertOpen(state);
  let frames = [
    encodeJobRecord(RECORD_META, meta),
    frameRecord(RECORD_ERROR, encodeErrorBody(meta.id, attempt, record)),
  ];
  if (!extra.reserved) {
    refuseIfFull(state, frames, [slot]);
  } else if (state.writer.refusalFor(RECORD_HEADER_BYTES + frames[1].length)) {
    // The reserve covers the dead state (it stands for the completion), not the error
    // record: on a full disk the kill is written without it, its history one record short.
    frames = [frames[0]];
  }
  // Appended before anything changes: a record too large for a segment throws here.
  const { locations, done } = appendGroup(state, frames, sync);
  extra.accepted?.();
  const undo = applyMeta(state, slot, meta, frames[0]);
  try {
    await done;
  } catch (err) {
    undo();
    throw err;
  } finally {
    stateLanded(state, slot);
  }
  if (frames.length > 1 && state.table.sameJob(slot, meta.id)) {
    addErrorLocation(state.table, slot, { attempt, ...locations[1], length: frames[1].length });
  }
}
