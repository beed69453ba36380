// The job object as it goes on the wire (API.md §2.1): the queue's JobView with the
// payload (a RawJson, spliced verbatim into JSON) placed right after `status`, and the
// enqueue-only `duplicate`/`folded` flags placed before `batch`, in the reference order.
// `backoff.exponent` is marked Float32: the reference writes it as an f32 (JSON "2.0").

import type { JobView } from "../queue/types.ts";
import { Float32, RawJson } from "./codec.ts";

export function wireJob(view: JobView, payloadJson?: string, flags?: { duplicate: boolean; folded: boolean }): Record<string, unknown> {
  const { id, type, queue, priority, status, batch, budgets, ...rest } = view;
  const out: Record<string, unknown> = { id, type, queue, priority, status };
  if (payloadJson !== undefined) out.payload = new RawJson(payloadJson);
  Object.assign(out, rest);
  // Reassigning an existing key keeps its place in the field order.
  if (rest.backoff) out.backoff = { ...rest.backoff, exponent: new Float32(rest.backoff.exponent) };
  if (flags) {
    out.duplicate = flags.duplicate;
    out.folded = flags.folded;
  }
  if (batch !== undefined) out.batch = batch;
  if (budgets !== undefined) out.budgets = budgets;
  return out;
}
