// The job object as it goes on the wire (API.md §2.1): the queue's JobView with the
// payload (stored JSON text, spliced verbatim) placed right after `status`, and the
// enqueue-only `duplicate`/`folded` flags placed before `batch`, in the reference order.
// `backoff.exponent` is an f32 in the reference (JSON "2.0", MessagePack float32).
//
// JSON is written straight from the view (jsonText); MessagePack packs the object form
// (toJSON). test/http/job-wire.test.ts checks that the two agree for every optional field.

import { floatToJson } from "./_msgpack-json.ts";
import type { JobView } from "../queue/types.ts";
import { encodeJson, Float32, RawJson, SelfWriting } from "./codec.ts";

export interface EnqueueFlags {
  duplicate: boolean;
  folded: boolean;
}

export class WireJob extends SelfWriting {
  constructor(readonly view: JobView, readonly payloadJson?: string, readonly flags?: EnqueueFlags) {
    super();
  }

  /** The generic form: what MessagePack packs, and what jsonText must equal as JSON. */
  toJSON(): Record<string, unknown> {
    const { id, type, queue, priority, status, batch, budgets, ...rest } = this.view;
    const out: Record<string, unknown> = { id, type, queue, priority, status };
    if (this.payloadJson !== undefined) out.payload = new RawJson(this.payloadJson);
    Object.assign(out, rest);
    // Reassigning an existing key keeps its place in the field order.
    if (rest.backoff) out.backoff = { ...rest.backoff, exponent: new Float32(rest.backoff.exponent) };
    if (this.flags) {
      out.duplicate = this.flags.duplicate;
      out.folded = this.flags.folded;
    }
    if (batch !== undefined) out.batch = batch;
    if (budgets !== undefined) out.budgets = budgets;
    return out;
  }

  jsonText(): string {
    const v = this.view;
    // Ids are [0-9a-z] and statuses fixed words: neither needs escaping.
    let s = `{"id":"${v.id}","type":${nameJson(v.type)},"queue":${nameJson(v.queue)},"priority":${v.priority},"status":"${v.status}"`;
    if (this.payloadJson !== undefined) s += `,"payload":${this.payloadJson}`;
    s += `,"ready_at":${v.ready_at},"attempts":${v.attempts}`;
    if (v.retry_limit !== undefined) s += `,"retry_limit":${v.retry_limit}`;
    if (v.backoff !== undefined) {
      const b = v.backoff;
      s += `,"backoff":{"exponent":${floatToJson(b.exponent)},"base_ms":${b.base_ms},"jitter_ms":${b.jitter_ms}}`;
    }
    if (v.dequeued_at !== undefined) s += `,"dequeued_at":${v.dequeued_at}`;
    if (v.failed_at !== undefined) s += `,"failed_at":${v.failed_at}`;
    if (v.retention !== undefined) s += `,"retention":${encodeJson(v.retention)}`;
    if (v.purge_at !== undefined) s += `,"purge_at":${v.purge_at}`;
    if (v.completed_at !== undefined) s += `,"completed_at":${v.completed_at}`;
    if (v.unique_key !== undefined) s += `,"unique_key":${JSON.stringify(v.unique_key)}`;
    if (v.unique_while !== undefined) s += `,"unique_while":"${v.unique_while}"`;
    if (this.flags) s += `,"duplicate":${this.flags.duplicate},"folded":${this.flags.folded}`;
    if (v.batch !== undefined) s += `,"batch":${encodeJson(v.batch)}`;
    if (v.budgets !== undefined) s += `,"budgets":${encodeJson(v.budgets)}`;
    return s + "}";
  }
}

// The JSON text of the last two names written: a bulk response or a take burst writes the
// same queue and type for job after job, and JSON.stringify made a new string each time.
const lastNames = ["", "\"\"", "", "\"\""];
let lastNext = 0;

function nameJson(name: string): string {
  if (name === lastNames[0]) return lastNames[1];
  if (name === lastNames[2]) return lastNames[3];
  const json = JSON.stringify(name);
  lastNames[lastNext] = name;
  lastNames[lastNext + 1] = json;
  lastNext = 2 - lastNext;
  return json;
}

export function wireJob(view: JobView, payloadJson?: string, flags?: EnqueueFlags): WireJob {
  return new WireJob(view, payloadJson, flags);
}
