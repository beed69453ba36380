// The queue's wire-shaped views to the client's resource data, through the client's own
// converters (lib/client/_wire.ts), so an embedded Job has exactly the keys, undefined
// members and defaults that a Job read from an HTTP response has. The queue's views are
// API.md §2.1 objects already; only the payload (stored JSON text) is parsed here.

import type { CronEntry as CronEntryView, CronGroup as CronGroupView, CronTemplate } from "../queue/cron.ts";
import type { EnqueueResult, JobView } from "../queue/types.ts";
import { cronEntryIn, cronGroupIn, jobIn } from "../client/_wire.ts";
import type { CronEntryData, CronGroupData, JobData } from "../client/types.ts";

export { errorIn, cronEntryOut, enqueueOut, failureOut, updateOut } from "../client/_wire.ts";

export function toJobData(view: JobView, payloadJson?: string, result?: EnqueueResult): JobData {
  const wire: Record<string, unknown> = { ...view };
  if (payloadJson !== undefined) wire.payload = JSON.parse(payloadJson);
  if (result) {
    wire.duplicate = result.duplicate;
    wire.folded = result.folded;
  }
  return jobIn(wire);
}

const templateWire = ({ payloadJson, ...rest }: CronTemplate) => ({ ...rest, payload: JSON.parse(payloadJson) });

export const toCronEntryData = (e: CronEntryView): CronEntryData => cronEntryIn({ ...e, job: templateWire(e.job) });

export const toCronGroupData = (g: CronGroupView): CronGroupData =>
  cronGroupIn({ ...g, entries: g.entries.map((e) => ({ ...e, job: templateWire(e.job) })) });
