// Reads a take response body into job objects (CLIENT-API.md §3.3.9). The parser follows
// the response Content-Type: msgpack → 4-byte big-endian length frames (length 0 is a
// heartbeat), otherwise NDJSON (blank lines are heartbeats). Ending the iteration early
// destroys the body, so the connection closes and the server requeues what was not acked.

import type { Readable } from "node:stream";
import { decodeMsgpack, isMsgpack } from "./_codec.ts";
import type { Wire } from "./_wire.ts";

export async function* readFrames(body: Readable, contentType: string | string[] | undefined): AsyncGenerator<Wire> {
  try {
    if (isMsgpack(contentType)) yield* msgpackFrames(body);
    else yield* ndjsonLines(body);
  } finally {
    body.destroy();
  }
}

async function* ndjsonLines(body: Readable): AsyncGenerator<Wire> {
  let rest = "";
  for await (const chunk of body) {
    const text = rest + (chunk as Buffer).toString("utf8");
    let start = 0;
    for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n", start)) {
      const line = text.slice(start, nl).trim();
      start = nl + 1;
      if (line) yield JSON.parse(line) as Wire;
    }
    rest = text.slice(start);
  }
  if (rest.trim()) yield JSON.parse(rest) as Wire;
}

/**
 * Largest MessagePack frame accepted: a job frame is at most the server's body limit (16
 * MiB by default) plus its fields. A bad length prefix (0xFFFFFFF0) had the reader buffer
 * toward 4 GiB while heartbeats kept the stream alive: no error, no reconnect.
 */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;

async function* msgpackFrames(body: Readable): AsyncGenerator<Wire> {
  let buf: Buffer = Buffer.alloc(0);
  for await (const chunk of body) {
    buf = buf.length ? Buffer.concat([buf, chunk as Buffer]) : (chunk as Buffer);
    let at = 0;
    while (buf.length - at >= 4) {
      const length = buf.readUInt32BE(at);
      if (length > MAX_FRAME_BYTES) throw new Error(`take stream: a frame of ${length} bytes (more than ${MAX_FRAME_BYTES})`);
      if (buf.length - at - 4 < length) break;
      if (length > 0) {
        const frame = buf.subarray(at + 4, at + 4 + length);
        at += 4 + length;
        yield decodeMsgpack(frame) as Wire;
      } else {
        at += 4;
      }
    }
    buf = buf.subarray(at);
  }
  // As NDJSON's cut-off last line is a SyntaxError: a stream cut inside a frame is an
  // error (the Worker reconnects after a delay), not a clean end.
  if (buf.length > 0) throw new Error(`take stream: ended inside a frame (${buf.length} bytes left)`);
}

/**
 * `gen`, with return() and throw() calling `close` first. A generator that was never
 * iterated does not run its finally block on return(), so the body (or the embedded take)
 * stayed open: its jobs stayed in flight and the process could not exit.
 */
export function closingOnReturn<T>(gen: AsyncGenerator<T>, close: () => void): AsyncGenerator<T> {
  const ret = gen.return.bind(gen);
  const thr = gen.throw.bind(gen);
  gen.return = (value) => {
    close();
    return ret(value);
  };
  gen.throw = (err) => {
    close();
    return thr(err);
  };
  return gen;
}
