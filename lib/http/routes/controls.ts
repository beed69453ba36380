// Production controls (extensions, docs/api.md "Extensions"): pause and resume a queue,
// one queue's state and counts, retry dead jobs (one or by filter), and lease heartbeats.
// Handlers only translate: the rules live in lib/queue (pauses.ts, retry.ts, lease.ts).

import type { H3, H3Event } from "h3";
import { pathParam } from "../_path-param.ts";
import type { Queue } from "../../queue/queue.ts";
import { noContent, readRawBody, reply, replyFormat, withBody } from "../_io.ts";
import { wireJob } from "../job-wire.ts";
import { parseFilterQuery } from "../../queue/query.ts";
import { pathId } from "./jobs.ts";

const queueName = (event: H3Event): string => pathParam(event, "queue");

/** An optional body: none (or empty) is `undefined`, anything else is decoded as usual. */
async function optionalBody<T>(event: H3Event, maxBodyBytes: number, run: (value: unknown) => Promise<T>): Promise<T> {
  const declared = event.req.headers.get("content-length");
  const chunked = event.req.headers.get("transfer-encoding");
  if ((declared === null || declared === "0") && chunked === null) {
    await readRawBody(event, maxBodyBytes);
    return run(undefined);
  }
  return withBody(event, maxBodyBytes, run);
}

export function controlRoutes(app: H3, queue: Queue, maxBodyBytes: number): void {
  app.get("/queues/:queue", (event) => {
    replyFormat(event);
    return reply(event, 200, queue.queueView(queueName(event)));
  });

  app.post("/queues/:queue/pause", async (event) => {
    replyFormat(event);
    await readRawBody(event, maxBodyBytes);
    return reply(event, 200, await queue.setPaused(queueName(event), true));
  });

  app.post("/queues/:queue/resume", async (event) => {
    replyFormat(event);
    await readRawBody(event, maxBodyBytes);
    return reply(event, 200, await queue.setPaused(queueName(event), false));
  });

  app.post("/jobs/retry", async (event) => {
    replyFormat(event);
    const filter = parseFilterQuery(event.url.search);
    const retried = await optionalBody(event, maxBodyBytes, (body) => queue.retryMany(filter, body));
    return reply(event, 200, { retried });
  });

  app.post("/jobs/:id/heartbeat", async (event) => {
    await readRawBody(event, maxBodyBytes);
    queue.heartbeat(pathId(event), event.req.headers.get("worker-id") ?? undefined);
    return noContent();
  });

  app.post("/jobs/:id/retry", async (event) => {
    replyFormat(event);
    const job = await optionalBody(event, maxBodyBytes, (body) => queue.retryOne(pathId(event), body));
    return reply(event, 200, wireJob(job));
  });
}
