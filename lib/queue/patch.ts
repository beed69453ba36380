// PATCH /jobs/{id} and PATCH /jobs (API.md §3.15–3.16): merge-patch of the mutable
// fields. Key absent = unchanged, null = back to the server default, value = set.
// Guarantee: the index follows at once: a new priority or queue counts at the next
// take, and a ready_at change moves the job between scheduled and ready.

import type { JobMeta } from "../storage/codec.ts";
import { STATUS_READY, STATUS_SCHEDULED } from "../storage/format.ts";
import type { JobTable } from "../storage/job-table.ts";
import { STATUS_NAME, type JobOptions, cleanOptions, isTerminal, optionsOf, withMeta } from "./job.ts";
import { QueueError, type Backoff, type Retention } from "./types.ts";
import {
  U16_MAX, U32_MAX, U64_MAX, expectObject, expectString, expectUint, nameError, parseBackoff,
} from "./validate.ts";

/** Present keys only; null means "clear". */
export interface PatchInput {
  queue?: string;
  priority?: number;
  readyAtMs?: number | null;
  retryLimit?: number | null;
  backoff?: Backoff | null;
  retention?: { completed_ms?: number | null; dead_ms?: number | null } | null;
}

export function parsePatch(raw: unknown): PatchInput {
  const o = expectObject(raw, "struct PatchRequest");
  const out: PatchInput = {};
  if ("queue" in o) {
    if (o.queue === null) throw new QueueError("unprocessable", "queue cannot be null");
    const queue = expectString(o.queue, "queue");
    const problem = nameError(queue, "queue");
    if (problem) throw new QueueError("unprocessable", problem);
    out.queue = queue;
  }
  if ("priority" in o) {
    if (o.priority === null) throw new QueueError("unprocessable", "priority cannot be null");
    out.priority = expectUint(o.priority, "priority", U16_MAX, "u16");
  }
  if ("ready_at" in o) out.readyAtMs = o.ready_at === null ? null : expectUint(o.ready_at, "ready_at", U64_MAX, "u64");
  if ("retry_limit" in o) out.retryLimit = o.retry_limit === null ? null : expectUint(o.retry_limit, "retry_limit", U32_MAX, "u32");
  if ("backoff" in o) out.backoff = o.backoff === null ? null : parseBackoff(o.backoff);
  if ("retention" in o) {
    if (o.retention === null) {
      out.retention = null;
    } else {
      const r = expectObject(o.retention, "struct RetentionPatch");
      const sub: { completed_ms?: number | null; dead_ms?: number | null } = {};
      for (const k of ["completed_ms", "dead_ms"] as const) {
        if (k in r) sub[k] = r[k] === null ? null : expectUint(r[k], `retention.${k}`, U64_MAX, "u64");
      }
      out.retention = sub;
    }
  }
  return out;
}

/** The job's state after the patch; throws 422 for terminal jobs. */
export function patchedMeta(table: JobTable, slot: number, patch: PatchInput, nowMs: number): JobMeta {
  const status = table.status[slot];
  if (isTerminal(status)) {
    throw new QueueError("unprocessable", `cannot patch job ${table.idOf(slot)} in ${STATUS_NAME[status]} status`);
  }
  const changes: Partial<JobMeta> = {};
  if (patch.queue !== undefined) changes.queue = patch.queue;
  if (patch.priority !== undefined) changes.priority = patch.priority;
  if (patch.readyAtMs !== undefined) {
    if (patch.readyAtMs === null) {
      if (status === STATUS_SCHEDULED) Object.assign(changes, { readyAtMs: nowMs, status: STATUS_READY });
    } else {
      changes.readyAtMs = patch.readyAtMs;
      if (status === STATUS_READY && patch.readyAtMs > nowMs) changes.status = STATUS_SCHEDULED;
      if (status === STATUS_SCHEDULED && patch.readyAtMs <= nowMs) changes.status = STATUS_READY;
    }
  }
  const options: JobOptions = { ...optionsOf(table, slot) };
  let optionsChanged = false;
  if (patch.retryLimit !== undefined) {
    options.retry_limit = patch.retryLimit ?? undefined;
    optionsChanged = true;
  }
  if (patch.backoff !== undefined) {
    options.backoff = patch.backoff ?? undefined;
    optionsChanged = true;
  }
  if (patch.retention !== undefined) {
    options.retention = mergeRetention(options.retention, patch.retention);
    optionsChanged = true;
  }
  const meta = withMeta(table, slot, changes);
  if (optionsChanged) {
    const cleaned = cleanOptions(options);
    if (cleaned) meta.options = cleaned as Record<string, unknown>;
    else delete meta.options;
  }
  return meta;
}

function mergeRetention(current: Retention | undefined, patch: PatchInput["retention"]): Retention | undefined {
  if (patch === null || patch === undefined) return patch === null ? undefined : current;
  const out: Retention = { ...current };
  for (const k of ["completed_ms", "dead_ms"] as const) {
    if (!(k in patch)) continue;
    const v = patch[k];
    if (v === null || v === undefined) delete out[k];
    else out[k] = v;
  }
  return out.completed_ms === undefined && out.dead_ms === undefined ? undefined : out;
}
