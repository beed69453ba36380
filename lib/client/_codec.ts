// Body encoding for the two formats (CLIENT-API.md §2.3). Requests are encoded in the
// configured format; responses are decoded by their Content-Type. MessagePack goes through
// msgpackr, the repo's choice (docs/protocols.md), set up as the server's codec reads it:
// plain maps (no record extension), integers as ints, 64-bit integers decoded to numbers.

import { type Options, Packr, Unpackr } from "msgpackr";
import type { Format } from "./types.ts";

const packr = new Packr({ useRecords: false, variableMapSize: true, encodeUndefinedAsNil: true } as Options);
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number" } as Options);

export function encodeBody(format: Format, body: unknown): string | Buffer {
  return format === "json" ? JSON.stringify(body) : packr.pack(body);
}

export const isMsgpack = (contentType: string | string[] | undefined): boolean =>
  String(contentType ?? "").includes("msgpack");

/** Decodes a whole response body; throws SyntaxError (JSON) or a msgpack error as the official one. */
export function decodeBody(contentType: string | string[] | undefined, bytes: Buffer): unknown {
  return isMsgpack(contentType) ? unpackr.unpack(bytes) : JSON.parse(bytes.toString("utf8"));
}

export const decodeMsgpack = (bytes: Buffer): unknown => unpackr.unpack(bytes);
