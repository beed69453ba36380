// The job lifecycle endpoints (API.md §3.4–3.10): enqueue, bulk enqueue, ack, bulk ack,
// nack and get. Handlers only translate: the rules live in lib/queue.

import type { H3, H3Event } from "h3";
import { pathParam } from "../_path-param.ts";
import type { Queue } from "../../queue/queue.ts";
import type { EnqueueResult } from "../../queue/types.ts";
import { noContent, readRawBody, reply, replyFormat, withBody } from "../_io.ts";
import { PAYLOAD_PATHS } from "../codec.ts";
import { wireJob } from "../job-wire.ts";

// The result itself carries the flags (EnqueueFlags): no object of its own per job.
const enqueued = (r: EnqueueResult) => wireJob(r.job, undefined, r);

export function pathId(event: H3Event): string {
  return pathParam(event, "id");
}

export function jobRoutes(app: H3, queue: Queue, maxBodyBytes: number): void {
  app.post("/jobs", async (event) => {
    replyFormat(event); // 406 before reading the body
    const result = await withBody(event, maxBodyBytes, (body) => queue.enqueue(body), PAYLOAD_PATHS.enqueue);
    return reply(event, result.created ? 201 : 200, enqueued(result));
  });

  app.post("/jobs/bulk", async (event) => {
    replyFormat(event);
    const results = await withBody(event, maxBodyBytes, (body) => queue.enqueueBulk(body), PAYLOAD_PATHS.bulkEnqueue);
    const allOld = results.length > 0 && results.every((r) => !r.created);
    return reply(event, allOld ? 200 : 201, { jobs: results.map(enqueued) });
  });

  app.post("/jobs/success", async (event) => {
    replyFormat(event);
    const notFound = await withBody(event, maxBodyBytes, (body) => queue.completeMany(body));
    return notFound.length === 0 ? noContent() : reply(event, 422, { not_found: notFound });
  });

  app.post("/jobs/:id/success", async (event) => {
    // No body expected; drain whatever was sent so keep-alive stays usable.
    await readRawBody(event, maxBodyBytes);
    await queue.complete(pathId(event));
    return noContent();
  });

  app.post("/jobs/:id/failure", async (event) => {
    replyFormat(event);
    const job = await withBody(event, maxBodyBytes, (body) => queue.fail(pathId(event), body));
    return reply(event, 200, wireJob(job));
  });

  app.get("/jobs/:id", (event) => {
    replyFormat(event);
    const { job, payloadJson } = queue.get(pathId(event));
    return reply(event, 200, wireJob(job, payloadJson));
  });
}
