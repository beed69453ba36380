// The job object as it goes on the wire (API.md §2.1): the queue's JobView with the
// payload (a RawJson, spliced verbatim into JSON) placed right after `status`, and the
// enqueue-only `duplicate`/`folded` flags placed before `batch`, in the reference order.

import type { JobView } from "../queue/types.ts";
import { RawJson } from "./codec.ts";

export function wireJob(view: JobView, payloadJson?: string, flags?: { duplicate: boolean; folded: boolean }): Record<string, unknown> {
  const { id, type, queue, priority, status, batch, ...rest } = view;
  const out: Record<string, unknown> = { id, type, queue, priority, status };
  if (payloadJson !== undefined) out.payload = new RawJson(payloadJson);
  Object.assign(out, rest);
  if (flags) {
    out.duplicate = flags.duplicate;
    out.folded = flags.folded;
  }
  if (batch !== undefined) out.batch = batch;
  return out;
}
