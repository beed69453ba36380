// Query and manage jobs (API.md §3.11–3.18, §3.20): list with page links, count,
// delete and patch (one or by filter), error records, and reset.

import type { H3 } from "h3";
import { pathParam } from "../_path-param.ts";
import type { Queue } from "../../queue/queue.ts";
import { noContent, readRawBody, reply, replyFormat, withBody } from "../_io.ts";
import { wireJob } from "../job-wire.ts";
import {
  errorPagesFor, pagesFor, parseAttempt, parseErrorListQuery, parseFilterQuery, parseListQuery,
} from "../../queue/query.ts";
import { pathId } from "./jobs.ts";

export function manageRoutes(app: H3, queue: Queue, maxBodyBytes: number): void {
  app.get("/jobs", async (event) => {
    replyFormat(event);
    const req = parseListQuery(event.url.search);
    const { jobs, hasMore } = await queue.list(req);
    return reply(event, 200, {
      jobs: jobs.map((j) => wireJob(j.job, j.payloadJson)),
      pages: pagesFor(req, jobs.map((j) => j.job.id), hasMore),
    });
  });

  app.get("/jobs/count", async (event) => {
    replyFormat(event);
    return reply(event, 200, { count: await queue.count(parseFilterQuery(event.url.search)) });
  });

  app.delete("/jobs", async (event) => {
    replyFormat(event);
    return reply(event, 200, { deleted: await queue.deleteMany(parseFilterQuery(event.url.search)) });
  });

  app.patch("/jobs", async (event) => {
    replyFormat(event);
    const filter = parseFilterQuery(event.url.search);
    const patched = await withBody(event, maxBodyBytes, (body) => queue.patchMany(filter, body));
    return reply(event, 200, { patched });
  });

  app.delete("/jobs/:id", async (event) => {
    replyFormat(event);
    await queue.deleteOne(pathId(event));
    return noContent();
  });

  app.patch("/jobs/:id", async (event) => {
    replyFormat(event);
    const job = await withBody(event, maxBodyBytes, (body) => queue.patchOne(pathId(event), body));
    return reply(event, 200, wireJob(job));
  });

  app.get("/jobs/:id/errors", (event) => {
    replyFormat(event);
    const id = pathId(event);
    const req = parseErrorListQuery(event.url.search);
    const { errors, hasMore } = queue.errors(id, req);
    return reply(event, 200, { errors, pages: errorPagesFor(id, req, errors.map((e) => e.attempt), hasMore) });
  });

  app.get("/jobs/:id/errors/:attempt", (event) => {
    replyFormat(event);
    return reply(event, 200, queue.error(pathId(event), parseAttempt(pathParam(event, "attempt"))));
  });

  app.post("/reset", async (event) => {
    await readRawBody(event, maxBodyBytes);
    await queue.reset();
    return noContent();
  });
}
