// The store's blobs (budgets, cron groups, paused queues: a value by namespace and key)
// beside the jobs: a delete written before memory drops the blob, puts and deletes
// tracked while in flight (compaction waits for them before copying a blob), and blobs
// noted in memory once durable. Puts go through insert (store-insert.ts).

import { encodeBlobBody, frameRecord } from "./codec.ts";
import { RECORD_BLOB_DELETE } from "./format.ts";
import type { Location } from "./log-writer.ts";
import { blobKey } from "./replay.ts";
import type { BlobWrite } from "./store.ts";
import { appendGroup } from "./_append.ts";
import { type StoreState, assertOpen } from "./_store-state.ts";

/** Count blob writes as in flight until `done` settles (StoreState.blobWrites). */
export function trackBlobWrites(state: StoreState, blobs: readonly { namespace: number; key: string }[], done: Promise<void>): void {
  const settled = done.then(() => {}, () => {});
  const keys = blobs.map((b) => blobKey(b.namespace, b.key));
  for (const k of keys) state.blobWrites.set(k, settled);
  void settled.then(() => {
    for (const k of keys) if (state.blobWrites.get(k) === settled) state.blobWrites.delete(k);
  });
}

/** Blobs just written: in memory, with where they are on disk. */
export function noteBlobs(state: StoreState, blobs: readonly BlobWrite[], frames: readonly Buffer[], locations: readonly Location[]): void {
  blobs.forEach((b, i) => state.blobs.set(blobKey(b.namespace, b.key), { value: b.value, ...locations[i], length: frames[i].length }));
}

/**
 * Remove a blob once its delete is written. Dropped from memory before the write, a
 * refused delete (a 507 for DELETE /budgets/{key}, DELETE /crons/{group}) left the blob
 * out of every later checkpoint and compaction copy while the budget or group was still
 * served, so a restart lost it. A put appended after this delete lands after it.
 */
export async function deleteBlob(state: StoreState, namespace: number, key: string, sync: boolean): Promise<void> {
  assertOpen(state);
  const { done } = appendGroup(state, [frameRecord(RECORD_BLOB_DELETE, encodeBlobBody(namespace, key))], sync);
  trackBlobWrites(state, [{ namespace, key }], done);
  await done;
  state.blobs.delete(blobKey(namespace, key));
}

/** The values of one namespace's blobs, by key. */
export function blobsIn(state: StoreState, namespace: number): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const prefix = blobKey(namespace, "");
  for (const [k, v] of state.blobs) if (k.startsWith(prefix)) out.set(k.slice(prefix.length), v.value);
  return out;
}
