// The job object as it goes on the wire (API.md §2.1): the queue's JobView with the
// payload (stored JSON text, spliced verbatim) placed right after `status`, and the
// enqueue-only `duplicate`/`folded` flags placed before `batch`, in the reference order.
// `backoff.exponent` is an f32 in the reference (JSON "2.0", MessagePack float32).
//
// JSON is written straight from the view (jsonText), and so is MessagePack for the jobs
// of take streams and single-job responses (msgpackInto: every field but retention,
// batch and budgets); the rest packs the object form (toJSON). test/http/job-wire.test.ts
// checks that they agree, byte for byte, for every optional field.

import { floatToJson } from "./_msgpack-json.ts";
import { type ByteSink, writeJsonAsMsgpack } from "./_json-msgpack.ts";
import { keyBytes, writeBool, writeFloat32, writeMapHeader, writeRaw, writeString, writeUint } from "./_msgpack-write.ts";
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

  /**
   * Appends the MessagePack map packr writes for toJSON() to `sink`; false, with nothing
   * written, for a job this writer leaves to the generic path (retention, batch or
   * budgets; a number outside the u64 range it encodes).
   */
  msgpackInto(sink: ByteSink): boolean {
    const v = this.view;
    if (v.retention !== undefined || v.batch !== undefined || v.budgets !== undefined) return false;
    const start = sink.length;
    let entries = 7 + (this.payloadJson !== undefined ? 1 : 0) + (this.flags ? 2 : 0);
    if (v.retry_limit !== undefined) entries++;
    if (v.backoff !== undefined) entries++;
    if (v.dequeued_at !== undefined) entries++;
    if (v.failed_at !== undefined) entries++;
    if (v.purge_at !== undefined) entries++;
    if (v.completed_at !== undefined) entries++;
    if (v.unique_key !== undefined) entries++;
    if (v.unique_while !== undefined) entries++;
    writeMapHeader(sink, entries);
    writeRaw(sink, K.id);
    writeString(sink, v.id);
    writeRaw(sink, K.type);
    writeString(sink, v.type);
    writeRaw(sink, K.queue);
    writeString(sink, v.queue);
    writeRaw(sink, K.priority);
    let ok = writeUint(sink, v.priority);
    writeRaw(sink, K.status);
    writeString(sink, v.status);
    if (this.payloadJson !== undefined) {
      writeRaw(sink, K.payload);
      // A float64 in the payload that the generic path would mistake for a large integer
      // is kept apart there (codec.ts, "shield"); here nothing is walked afterwards, so
      // the transcoder's bytes are the value as they are.
      writeJsonAsMsgpack(this.payloadJson, sink);
    }
    writeRaw(sink, K.ready_at);
    ok &&= writeUint(sink, v.ready_at);
    writeRaw(sink, K.attempts);
    ok &&= writeUint(sink, v.attempts);
    if (v.retry_limit !== undefined) {
      writeRaw(sink, K.retry_limit);
      ok &&= writeUint(sink, v.retry_limit);
    }
    if (v.backoff !== undefined) {
      writeRaw(sink, K.backoff);
      writeMapHeader(sink, 3);
      writeRaw(sink, K.exponent);
      writeFloat32(sink, v.backoff.exponent);
      writeRaw(sink, K.base_ms);
      ok &&= writeUint(sink, v.backoff.base_ms);
      writeRaw(sink, K.jitter_ms);
      ok &&= writeUint(sink, v.backoff.jitter_ms);
    }
    ok &&= optionalUint(sink, K.dequeued_at, v.dequeued_at);
    ok &&= optionalUint(sink, K.failed_at, v.failed_at);
    ok &&= optionalUint(sink, K.purge_at, v.purge_at);
    ok &&= optionalUint(sink, K.completed_at, v.completed_at);
    if (v.unique_key !== undefined) {
      writeRaw(sink, K.unique_key);
      writeString(sink, v.unique_key);
    }
    if (v.unique_while !== undefined) {
      writeRaw(sink, K.unique_while);
      writeString(sink, v.unique_while);
    }
    if (this.flags) {
      writeRaw(sink, K.duplicate);
      writeBool(sink, this.flags.duplicate);
      writeRaw(sink, K.folded);
      writeBool(sink, this.flags.folded);
    }
    if (!ok) sink.length = start;
    return ok;
  }
}

function optionalUint(sink: ByteSink, key: Buffer, value: number | undefined): boolean {
  if (value === undefined) return true;
  writeRaw(sink, key);
  return writeUint(sink, value);
}

/** The keys msgpackInto writes, each encoded once. */
const K = Object.fromEntries(
  ["id", "type", "queue", "priority", "status", "payload", "ready_at", "attempts", "retry_limit", "backoff", "exponent", "base_ms",
    "jitter_ms", "dequeued_at", "failed_at", "purge_at", "completed_at", "unique_key", "unique_while", "duplicate", "folded"]
    .map((key) => [key, keyBytes(key)]),
) as Record<string, Buffer>;

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
