// The cron endpoints (API.md §3.19): groups and entries, translated to the queue's cron
// book, with the §2.4 shapes in the reference field order. Unexpected failures answer
// `500 {"error":"internal error"}`, the reference's wording for cron handlers.

import type { H3, H3Event } from "h3";
import { pathParam } from "../_path-param.ts";
import type { CronEntry, CronGroup, CronTemplate } from "../../queue/cron.ts";
import type { Queue } from "../../queue/queue.ts";
import { noContent, reply, replyFormat, withBody } from "../_io.ts";
import { Float32, PAYLOAD_PATHS, RawJson } from "../codec.ts";
import { HttpError, isDeliberate } from "../errors.ts";

/** The template as §2.4 orders it: priority always, unique_while only if given. */
function wireTemplate(t: CronTemplate): Record<string, unknown> {
  const out: Record<string, unknown> = { type: t.type, queue: t.queue, priority: t.priority, payload: new RawJson(t.payloadJson) };
  if (t.retry_limit !== undefined) out.retry_limit = t.retry_limit;
  if (t.backoff !== undefined) out.backoff = { ...t.backoff, exponent: new Float32(t.backoff.exponent) };
  if (t.retention !== undefined) out.retention = t.retention;
  if (t.unique_key !== undefined) out.unique_key = t.unique_key;
  if (t.unique_while !== undefined) out.unique_while = t.unique_while;
  if (t.batch !== undefined) out.batch = t.batch;
  if (t.budgets !== undefined) out.budgets = t.budgets.map((b) => ({ key: b.key, cost: b.cost }));
  return out;
}

export function wireEntry(e: CronEntry): Record<string, unknown> {
  const out: Record<string, unknown> = { name: e.name, expression: e.expression };
  if (e.timezone !== undefined) out.timezone = e.timezone;
  out.paused = e.paused;
  if (e.paused_at !== undefined) out.paused_at = e.paused_at;
  if (e.resumed_at !== undefined) out.resumed_at = e.resumed_at;
  out.job = wireTemplate(e.job);
  if (e.next_enqueue_at !== undefined) out.next_enqueue_at = e.next_enqueue_at;
  if (e.last_enqueue_at !== undefined) out.last_enqueue_at = e.last_enqueue_at;
  return out;
}

export function wireGroup(g: CronGroup): Record<string, unknown> {
  const out: Record<string, unknown> = { name: g.name, paused: g.paused };
  if (g.timezone !== undefined) out.timezone = g.timezone;
  if (g.paused_at !== undefined) out.paused_at = g.paused_at;
  if (g.resumed_at !== undefined) out.resumed_at = g.resumed_at;
  out.entries = g.entries.map(wireEntry);
  return out;
}

const param = pathParam;

export function cronRoutes(app: H3, queue: Queue, maxBodyBytes: number, logError: (err: unknown) => void): void {
  const crons = queue.crons;
  type Handler = (event: H3Event) => unknown;
  // Deliberate errors (400/404/409/…) pass through the app's mapping unchanged; anything
  // else is logged in full here and answered with the cron handlers' own 500 body.
  const guard = (handler: Handler): Handler => async (event) => {
    try {
      return await handler(event);
    } catch (err) {
      if (isDeliberate(err)) throw err;
      logError(err);
      throw new HttpError(500, "internal error");
    }
  };

  app.get("/crons", guard((event) => reply(event, 200, { crons: crons.names() })));

  app.delete("/crons", guard(async (event) => {
    replyFormat(event);
    return reply(event, 200, { deleted: await crons.deleteAll() });
  }));

  app.get("/crons/:group", guard((event) => {
    replyFormat(event);
    return reply(event, 200, wireGroup(crons.getGroup(param(event, "group"))));
  }));

  app.put("/crons/:group", guard(async (event) => {
    replyFormat(event);
    const group = await withBody(event, maxBodyBytes, (body) => crons.putGroup(param(event, "group"), body), PAYLOAD_PATHS.cronGroup);
    return reply(event, 200, wireGroup(group));
  }));

  app.patch("/crons/:group", guard(async (event) => {
    replyFormat(event);
    const group = await withBody(event, maxBodyBytes, (body) => crons.patchGroup(param(event, "group"), body));
    return reply(event, 200, wireGroup(group));
  }));

  app.delete("/crons/:group", guard(async (event) => {
    replyFormat(event);
    await crons.deleteGroup(param(event, "group"));
    return noContent();
  }));

  app.post("/crons/:group/entries", guard(async (event) => {
    replyFormat(event);
    const entry = await withBody(event, maxBodyBytes, (body) => crons.putEntry(param(event, "group"), undefined, body), PAYLOAD_PATHS.cronEntry);
    return reply(event, 201, wireEntry(entry));
  }));

  app.get("/crons/:group/entries/:entry", guard((event) => {
    replyFormat(event);
    return reply(event, 200, wireEntry(crons.getEntry(param(event, "group"), param(event, "entry"))));
  }));

  app.put("/crons/:group/entries/:entry", guard(async (event) => {
    replyFormat(event);
    const entry = await withBody(
      event, maxBodyBytes, (body) => crons.putEntry(param(event, "group"), param(event, "entry"), body), PAYLOAD_PATHS.cronEntry,
    );
    return reply(event, 200, wireEntry(entry));
  }));

  app.patch("/crons/:group/entries/:entry", guard(async (event) => {
    replyFormat(event);
    const entry = await withBody(event, maxBodyBytes, (body) => crons.patchEntry(param(event, "group"), param(event, "entry"), body));
    return reply(event, 200, wireEntry(entry));
  }));

  app.delete("/crons/:group/entries/:entry", guard(async (event) => {
    replyFormat(event);
    await crons.deleteEntry(param(event, "group"), param(event, "entry"));
    return noContent();
  }));
}
