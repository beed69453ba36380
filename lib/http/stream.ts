// Take-stream transport (API.md §1.3, §3.6): frames jobs as NDJSON, length-prefixed
// MessagePack or SSE, sends heartbeats after `heartbeatMs` of silence, reports congestion,
// and tells its owner once when the client goes away. No queue logic: the route connects
// push()/onDrain() to the queue's deliver()/resume() and onCancel to taker.close().

import { encodeJson, encodeMsgpack, FRAME_PREFIX_BYTES } from "./codec.ts";
import { STREAM_CONTENT_TYPE, type StreamFormat } from "./negotiate.ts";

/** The empty frame of each format (clients skip them). */
export const HEARTBEAT_FRAMES: Readonly<Record<StreamFormat, Uint8Array>> = {
  ndjson: Buffer.from("\n"),
  msgpack: new Uint8Array(4),
  sse: Buffer.from(": heartbeat\n\n"),
};

/**
 * One job frame. `job` is a job object whose payload is a RawJson (or any value).
 * Requires: RawJson texts are compact JSON (no raw newline), or NDJSON/SSE framing breaks.
 */
export function frameJob(job: object, format: StreamFormat): Uint8Array {
  if (format === "msgpack") return msgpackFrame(job);
  return Buffer.from(textFrame(job, format));
}

function textFrame(job: object, format: "ndjson" | "sse"): string {
  return format === "ndjson" ? encodeJson(job) + "\n" : "data: " + encodeJson(job) + "\n\n";
}

function msgpackFrame(job: object): Uint8Array {
  const frame = encodeMsgpack(job, true);
  new DataView(frame.buffer, frame.byteOffset, FRAME_PREFIX_BYTES).setUint32(0, frame.length - FRAME_PREFIX_BYTES);
  return frame;
}

export interface TakeStreamOptions {
  format: StreamFormat;
  /** Silence after which an empty frame is sent; restarts after every frame. @default 3000 */
  heartbeatMs?: number;
  /** Called exactly once when the client goes away (not when close() is called). */
  onCancel: () => void;
  /** Bytes queued in the stream before push() reports congestion. @default 16384 */
  highWaterMarkBytes?: number;
  /**
   * The Node request, when there is one. Node's HTTP/2 compatibility layer does not always
   * close a server stream that the client reset with NO_ERROR (the request side unread):
   * the response never closes, the body is never cancelled, and the stream's jobs stayed
   * in flight until the whole session closed (3 of 15 runs of test/http/stream.test.ts,
   * five at once). The request's 'aborted' event still comes, so it cancels too.
   */
  request?: { once(event: "aborted", listener: () => void): unknown };
}

export interface TakeStream {
  /** Return this from the h3 handler (with `contentType`); never ends until close(). */
  body: ReadableStream<Uint8Array>;
  contentType: string;
  /** Queue one job frame. Returns false when congested: wait for onDrain before more. */
  push(job: object): boolean;
  /** `cb` runs each time the stream has room again after push() returned false. */
  onDrain(cb: () => void): void;
  /** End the stream from the server side (e.g. shutdown). Idempotent; no onCancel. */
  close(): void;
}

/**
 * Creates a take stream. Guarantees: the first (empty) chunk is queued at once, so the
 * response headers flush before any job exists; jobs pushed in the same tick go out as one
 * chunk; after cancel or close no timer is left and push() returns false.
 */
export function createTakeStream(opts: TakeStreamOptions): TakeStream {
  const { format, onCancel } = opts;
  const heartbeatMs = opts.heartbeatMs ?? 3000;
  const heartbeat = HEARTBEAT_FRAMES[format];
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let ended = false;
  let congested = false;
  const drainCallbacks: (() => void)[] = [];
  // Frames pushed this tick, flushed together in a microtask. Invariant: pendingBytes is
  // the byte size of `pending` (text length is a lower bound for UTF-8, good enough here).
  let pending: (string | Uint8Array)[] = [];
  let pendingBytes = 0;
  let flushScheduled = false;

  const send = (chunk: Uint8Array): void => {
    controller.enqueue(chunk);
    timer.refresh(); // silence restarts from now
  };
  const timer = setTimeout(function beat() {
    if (ended) return;
    controller.enqueue(heartbeat);
    timer.refresh();
  }, heartbeatMs);

  const flush = (): void => {
    flushScheduled = false;
    if (ended || pending.length === 0) return;
    const parts = pending;
    pending = [];
    pendingBytes = 0;
    if (parts.length === 1) {
      const only = parts[0];
      send(typeof only === "string" ? Buffer.from(only) : only);
    } else if (format === "msgpack") {
      send(Buffer.concat(parts as Uint8Array[]));
    } else {
      send(Buffer.from((parts as string[]).join("")));
    }
  };
  const end = (): void => {
    ended = true;
    clearTimeout(timer);
    pending = [];
    drainCallbacks.length = 0;
  };
  opts.request?.once("aborted", () => {
    if (ended) return;
    end();
    onCancel();
    try {
      controller.close(); // the adapter's reader ends, and with it the response
    } catch { /* already closed or errored */ }
  });

  const body = new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
        // An empty chunk makes the Node adapter write (and so flush) the headers now;
        // without it HTTP/1.1 headers wait for the first job (measured 167 ms vs 2–4 ms).
        c.enqueue(new Uint8Array(0));
      },
      pull() {
        // Called whenever the queue drops below its high-water mark.
        if (!congested || ended) return;
        congested = false;
        for (const cb of drainCallbacks.slice()) cb();
      },
      cancel() {
        if (ended) return;
        end();
        onCancel();
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: opts.highWaterMarkBytes ?? 16_384 }),
  );

  return {
    body,
    contentType: STREAM_CONTENT_TYPE[format],
    push(job) {
      if (ended) return false;
      const frame = format === "msgpack" ? msgpackFrame(job) : textFrame(job, format);
      pending.push(frame);
      pendingBytes += frame.length;
      if (!flushScheduled) {
        flushScheduled = true;
        queueMicrotask(flush);
      }
      const room = (controller.desiredSize ?? 0) - pendingBytes;
      if (room <= 0) congested = true;
      return room > 0;
    },
    onDrain(cb) {
      drainCallbacks.push(cb);
    },
    close() {
      if (ended) return;
      flush();
      end();
      controller.close();
    },
  };
}
