// GET /jobs/take (API.md §3.6): a never-ending stream of jobs in the negotiated framing.
// The stream's backpressure drives the queue's credits: a congested socket stops
// delivery until it drains; a closed socket puts its jobs back to ready.

import type { H3 } from "h3";
import type { Queue } from "../../queue/queue.ts";
import { HOLD_WHILE_VALID, type HoldWhileValid } from "../auth.ts";
import type { Taker } from "../../queue/types.ts";
import { streamNotAcceptable } from "../errors.ts";
import { wireJob } from "../job-wire.ts";
import { STREAM_CONTENT_TYPE, streamFormat } from "../negotiate.ts";
import { parseTakeQuery } from "../../queue/query.ts";
import { type TakeStream, createTakeStream } from "../stream.ts";

export function takeRoutes(app: H3, queue: Queue, heartbeatMs: number, open: Set<TakeStream>): void {
  // HEAD: what GET would answer (its checks, its content type), without taking any job.
  app.on("HEAD", "/jobs/take", (event) => {
    const format = streamFormat(event.req.headers.get("accept"));
    if (!format) throw streamNotAcceptable();
    parseTakeQuery(event.url.search);
    return new Response(null, { status: 200, headers: { "content-type": STREAM_CONTENT_TYPE[format] } });
  });
  app.get("/jobs/take", (event) => {
    const format = streamFormat(event.req.headers.get("accept"));
    if (!format) throw streamNotAcceptable();
    const { queues, prefetch, leaseMs } = parseTakeQuery(event.url.search);
    let taker: Taker | undefined;
    let release: (() => void) | undefined;
    // The stream is over: its jobs go back to ready (taker.close) and its token lets go.
    const ended = () => {
      open.delete(stream);
      taker?.close();
      release?.();
    };
    const stream = createTakeStream({ format, heartbeatMs, request: event.runtime?.node?.req, onCancel: ended });
    open.add(stream);
    taker = queue.take({
      queues,
      prefetch,
      ...(leaseMs === undefined ? {} : { leaseMs }),
      workerId: event.req.headers.get("worker-id") ?? undefined,
      deliver: (j) => stream.push(wireJob(j.job, j.payloadJson)),
    });
    stream.onDrain(() => taker?.resume());
    // With access tokens: a reload that revokes this stream's token ends it (auth.ts); its
    // jobs go back to ready as on a disconnect.
    const hold = (event.runtime?.node?.req as unknown as Record<symbol, HoldWhileValid> | undefined)?.[HOLD_WHILE_VALID];
    release = hold?.(() => {
      stream.close(); // close() does not call onCancel
      ended();
    });
    return new Response(stream.body, { status: 200, headers: { "content-type": stream.contentType } });
  });
}
