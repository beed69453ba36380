// Storage failures seen from the queue: a full disk becomes a `full` QueueError (507)
// and a write too large for a segment an `invalid_argument` (400); anything else (io,
// corrupt) stays as it is and reaches the client as a logged 500.

import { StorageError } from "../storage/errors.ts";
import { QueueError } from "./types.ts";

export function toQueueError(err: unknown): unknown {
  if (!(err instanceof StorageError)) return err;
  if (err.kind === "full") return new QueueError("full", `storage is full: ${err.message}`);
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
