// Media types of the two formats (CLIENT-API.md §2.3): RPC bodies and the take stream.

import type { Format } from "./types.ts";

export type { Format };

export const MEDIA_TYPES: Record<Format, { rpc: string; stream: string }> = {
  json: { rpc: "application/json", stream: "application/x-ndjson" },
  msgpack: { rpc: "application/msgpack", stream: "application/vnd.zizq.msgpack-stream" },
};
