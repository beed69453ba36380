// Storage failures seen from the queue: a full disk becomes a `full` QueueError (507), the
// open-file limit an `unavailable` one (503), and a write too large for a segment an
// `invalid_argument` (400); anything else (io, corrupt) stays as it is and reaches the
// client as a logged 500.

import { StorageError } from "../storage/errors.ts";
import { QueueError } from "./types.ts";

export function toQueueError(err: unknown): unknown {
  if (!(err instanceof StorageError)) return err;
  if (err.kind === "full") return new QueueError("full", `storage is full: ${err.message}`, undefined, err);
  // Not err.message: it names a file under --dir, which is the operator's to read (the
  // server logs it), not every client's.
  if (err.kind === "no_files") {
    return new QueueError("unavailable", "the server is at its open-file limit (EMFILE); nothing was written, retry later", undefined, err);
  }
  if (err.kind === "too_large") return new QueueError("invalid_argument", `request too large for storage: ${err.message}`);
  return err;
}

/** Await `work`, translating storage errors. */
export async function guarded<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    throw toQueueError(err);
  }
}

/**
 * A write the storage refused for want of a resource (disk space, open files): the client
 * hears a 507/503, and the operator must hear it too, though it is not a server fault.
 */
export function isStorageRefusal(err: unknown): err is QueueError {
  return err instanceof QueueError && err.cause instanceof StorageError && (err.code === "full" || err.code === "unavailable");
}
