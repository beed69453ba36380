// Replay visited records into a job table and blob map: last writer wins per job id, in
// log order. Runs with the table's indexes off; rebuildIndexes() then turns in-flight
// jobs back into ready ones and indexes everything in id order.

import { checkIdList, decodeBlobBody, decodeErrorHead, decodeJobBody, jobOptionsBytes, latin1 } from "./codec.ts";
import {
  ID_BYTES, RECORD_BLOB, RECORD_BLOB_DELETE, RECORD_DELETE, RECORD_ERROR, RECORD_JOB, RECORD_META, RECORD_RESET,
  STATUS_IN_FLIGHT, STATUS_READY, STATUS_SCHEDULED,
} from "./format.ts";
import { parseIdAscii } from "./id-index.ts";
import type { ErrorLocation, JobTable } from "./job-table.ts";
import type { RecordVisitor } from "./recover.ts";

export interface BlobEntry {
  value: Buffer;
  segment: number;
  offset: number;
  length: number;
}

export const blobKey = (namespace: number, key: string): string => `${namespace}\u0000${key}`;

export function createReplayVisitor(table: JobTable, blobs: Map<string, BlobEntry>): RecordVisitor {
  // ERROR records of jobs not seen yet. A job's oldest JOB record can be compacted away
  // while a newer one (a rewrite: a batch fold) lives on, so its ERROR records may come
  // before the first JOB record replay sees. Dropping them lost the job's error history.
  const earlyErrors = new Map<string, ErrorLocation[]>();
  // A JOB record's id, parsed once from its bytes for both the lookup and add(): parsing
  // the text twice was a fifth of a JOB record's replay (a bulk load's tail after P).
  const idWords = new Uint32Array(4);
  return (type, buf, bodyStart, end, segment, offset) => {
    switch (type) {
      case RECORD_JOB: {
        const { meta, payloadStart } = decodeJobBody(buf, bodyStart, end);
        const location = { segment, offset: payloadStart, length: end - payloadStart, recordOffset: offset, recordLength: end - offset };
        // Not an id: add() throws as it did when it parsed meta.id itself.
        const parsed = parseIdAscii(buf, bodyStart, idWords, 0);
        const slot = parsed ? table.slotById.getWords(idWords, 0) : undefined;
        if (slot === undefined) {
          const added = table.add(meta, location, jobOptionsBytes(buf, bodyStart), parsed ? idWords : undefined);
          if (earlyErrors.size > 0) { // rare: no Map lookup (a string hash) per job otherwise
            for (const e of earlyErrors.get(meta.id) ?? []) addErrorLocation(table, added, e);
            earlyErrors.delete(meta.id);
          }
        } else {
          table.update(slot, meta, jobOptionsBytes(buf, bodyStart));
          table.setLocation(slot, location);
        }
        break;
      }
      case RECORD_META: {
        const { meta } = decodeJobBody(buf, bodyStart, end);
        const slot = table.slotById.getAscii(buf, bodyStart);
        // A META whose JOB was lost to corruption has no payload to serve: skip it.
        if (slot !== undefined) table.update(slot, meta, jobOptionsBytes(buf, bodyStart));
        break;
      }
      case RECORD_DELETE:
        // By the ids' bytes, not decodeIds(): a string per id was a third of this case's
        // cost, and acks make most of a busy log's tail (id-index.ts, parseIdAscii).
        checkIdList(bodyStart, end);
        for (let pos = bodyStart; pos < end; pos += ID_BYTES) {
          const slot = table.slotById.getAscii(buf, pos);
          if (slot !== undefined) table.free(slot);
          if (earlyErrors.size > 0) earlyErrors.delete(latin1(buf, pos, pos + ID_BYTES));
        }
        break;
      case RECORD_ERROR: {
        const { id, attempt } = decodeErrorHead(buf, bodyStart);
        const slot = table.slotById.get(id);
        const location = { attempt, segment, offset, length: end - offset };
        if (slot !== undefined) addErrorLocation(table, slot, location);
        else earlyErrors.set(id, [...earlyErrors.get(id) ?? [], location]);
        break;
      }
      case RECORD_RESET:
        table.clear();
        blobs.clear();
        earlyErrors.clear();
        break;
      case RECORD_BLOB: {
        const { namespace, key, valueStart } = decodeBlobBody(buf, bodyStart, end);
        blobs.set(blobKey(namespace, key), { value: Buffer.from(buf.subarray(valueStart, end)), segment, offset, length: end - offset });
        break;
      }
      case RECORD_BLOB_DELETE: {
        const { namespace, key } = decodeBlobBody(buf, bodyStart, end);
        blobs.delete(blobKey(namespace, key));
        break;
      }
    }
  };
}

/** Record where an error record lives; a later copy of the same attempt replaces it. */
export function addErrorLocation(table: JobTable, slot: number, location: ErrorLocation): void {
  let extras = table.extras.get(slot);
  if (!extras) table.extras.set(slot, (extras = {}));
  const errors = (extras.errors ??= []);
  const i = errors.findIndex((e) => e.attempt >= location.attempt);
  if (i === -1) errors.push(location);
  else if (errors[i].attempt === location.attempt) errors[i] = location;
  else errors.splice(i, 0, location);
}

/**
 * After replay: in-flight jobs become ready (nobody holds them any more), due scheduled
 * jobs are promoted, and every job is indexed in id order so bucket appends stay O(1).
 */
export function rebuildIndexes(table: JobTable, nowMs: number): void {
  table.indexing = true;
  const slots = table.orderedSlots();
  const { status, readyAt } = table;
  for (let i = 0; i < slots.length; i++) {
    const slot = slots[i];
    const s = status[slot];
    if (s === STATUS_IN_FLIGHT) status[slot] = STATUS_READY;
    else if (s === STATUS_SCHEDULED && readyAt[slot] <= nowMs) status[slot] = STATUS_READY;
  }
  // Freed by replay but still listed slots (the order drops them once a third are dead)
  // are skipped there.
  table.indexInIdOrder(slots);
}
