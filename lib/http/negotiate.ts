// Content negotiation (API.md §1.2, §1.3): which body format a request carries and which
// format the client accepts. Plain substring checks in the documented order, exactly as
// the reference does; no q-values, no wildcard matching beyond `*/*`.

export type BodyFormat = "json" | "msgpack";
export type StreamFormat = "ndjson" | "msgpack" | "sse";

/** Response format for non-streaming endpoints; null → 406 (always answered in JSON). */
export function responseFormat(accept: string | null | undefined): BodyFormat | null {
  if (accept === null || accept === undefined) return "json";
  if (accept.includes("application/msgpack")) return "msgpack";
  if (accept.includes("application/json") || accept.includes("*/*")) return "json";
  return null;
}

/** Request body format; null → 415. */
export function requestFormat(contentType: string | null | undefined): BodyFormat | null {
  if (contentType === null || contentType === undefined) return "json";
  if (contentType.includes("application/msgpack")) return "msgpack";
  if (contentType.includes("application/json")) return "json";
  return null;
}

/** Take-stream format (`GET /jobs/take`); null → 406. */
export function streamFormat(accept: string | null | undefined): StreamFormat | null {
  if (accept === null || accept === undefined) return "ndjson";
  if (accept.includes("text/event-stream")) return "sse";
  if (accept.includes("application/vnd.zizq.msgpack-stream") || accept.includes("application/msgpack")) {
    return "msgpack";
  }
  if (accept.includes("application/x-ndjson") || accept.includes("application/json") || accept.includes("*/*")) {
    return "ndjson";
  }
  return null;
}

/** Response Content-Type of each format (§1.2: exactly these, no charset parameter). */
export const BODY_CONTENT_TYPE: Readonly<Record<BodyFormat, string>> = {
  json: "application/json",
  msgpack: "application/msgpack",
};

export const STREAM_CONTENT_TYPE: Readonly<Record<StreamFormat, string>> = {
  ndjson: "application/x-ndjson",
  msgpack: "application/vnd.zizq.msgpack-stream",
  sse: "text/event-stream",
};

/** `supported` lists of the 406/415 bodies (API.md §1.2, §1.3). */
export const SUPPORTED_BODY_TYPES: readonly string[] = ["application/json", "application/msgpack"];
export const SUPPORTED_STREAM_TYPES: readonly string[] = [
  "text/event-stream",
  "application/x-ndjson",
  "application/vnd.zizq.msgpack-stream",
];
