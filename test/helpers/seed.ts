// Jobs in every status on a real server, for the admin/dashboard tests: per queue, one
// in flight (held by the returned take stream), one ready, one scheduled, one completed
// (retained), one dead, the dead one with an error record and a backtrace.

import { type Json, type TakeStream, enqueue, openTake, req } from "../http/_client.ts";

export interface Seeded {
  take: TakeStream;
  byStatus: Record<string, Json[]>;
}

export async function seedEveryStatus(base: string, queues: string[], payload: (q: string, i: number) => unknown = (q, i) => ({ q, i })): Promise<Seeded> {
  const byStatus: Record<string, Json[]> = { scheduled: [], ready: [], in_flight: [], completed: [], dead: [] };
  // Credits = one per queue: each round takes (and acks or kills) one job at a time, and
  // ends holding one in-flight job, so at the end the stream has no credit left and the
  // ready jobs stay ready.
  const take = await openTake(base, `queue=${queues.join(",")}&prefetch=${queues.length}`);
  let taken = 0;
  const common = { type: "send_email", retry_limit: 0, retention: { completed_ms: 3_600_000, dead_ms: 3_600_000 } };
  for (const q of queues) {
    const a = await enqueue(base, { ...common, queue: q, payload: payload(q, 0) });
    await take.waitJobs(++taken, 20_000);
    let r = await req(base, "POST", `/jobs/${a.id}/success`);
    if (r.status !== 204) throw new Error(`ack: ${r.status} ${r.text}`);
    const b = await enqueue(base, { ...common, queue: q, payload: payload(q, 1), unique_key: `key-${q}` });
    await take.waitJobs(++taken, 20_000);
    r = await req(base, "POST", `/jobs/${b.id}/failure`, { message: "SMTP said no", error_type: "SmtpError", backtrace: "at send (mail.ts:12)\nat run (worker.ts:40)" });
    if (r.status !== 200) throw new Error(`nack: ${r.status} ${r.text}`);
    const c = await enqueue(base, { ...common, queue: q, payload: payload(q, 2) });
    await take.waitJobs(++taken, 20_000);
    byStatus.completed.push(a);
    byStatus.dead.push(b);
    byStatus.in_flight.push(c);
  }
  for (const q of queues) {
    byStatus.ready.push(await enqueue(base, { queue: q, type: "resize_image", payload: payload(q, 3) }));
    byStatus.scheduled.push(await enqueue(base, { queue: q, type: "report", payload: payload(q, 4), ready_at: Date.now() + 3_600_000 }));
  }
  return { take, byStatus };
}
