// Enqueue (API.md §3.4–3.5): validate every request first, then create jobs, answer
// unique-key duplicates with the holder, and fold batched payloads into their open
// batch, all written as one atomic group.
// Guarantee: a 201/200 is returned only after every record of the request is durable
// in the configured commit mode; a failure writes nothing.

import { STATUS_READY, STATUS_SCHEDULED } from "../storage/format.ts";
import { StorageError } from "../storage/errors.ts";
import type { BlobWrite, Rewrite } from "../storage/store.ts";
import type { JobTable } from "../storage/job-table.ts";
import type { QueueContext } from "./context.ts";
import { type JobOptions, cleanOptions, optionsOf, viewOf, viewOfMeta } from "./job.ts";
import { checkBatchExpressions, evalFold, evalWhen } from "./jq.ts";
import type { JobMeta } from "../storage/codec.ts";
import { type BindingRequest, bindingOptions, parseBindings } from "./budget-policy.ts";
import { payloadDepthError } from "./json-text.ts";
import { PayloadText, QueueError, type EnqueueResult, type UniqueWhile } from "./types.ts";
import {
  U16_MAX, U32_MAX, U64_MAX, expectObject, expectString, expectText, expectUint, missingField, nameError, parseBackoff,
  parseBatch, parseRetention, parseUniqueWhile,
} from "./validate.ts";

export interface EnqueueInput {
  type: string;
  queue: string;
  payloadJson: string;
  /** payloadJson as UTF-8, when the decoder had those bytes (PayloadText.bytes). */
  payloadBytes?: Buffer;
  priority: number;
  readyAtMs?: number;
  options: JobOptions;
  /** Requested bindings (create_with included); options.budgets is their stored form. */
  budgets?: BindingRequest[];
}

export const DEFAULT_PRIORITY = 32768;

/**
 * Decode and validate one enqueue request body, in the order of API.md §3.4. Fields are
 * read by name here, not through requireField/optional: one `o[key]` site shared by every
 * field and every request is megamorphic, and a bulk enqueue reads a dozen fields a job.
 */
export function parseEnqueue(raw: unknown): EnqueueInput {
  const o = expectObject(raw, "struct EnqueueRequest");
  const type = expectString("type" in o ? o.type : missingField("type"), "type");
  const queue = expectString("queue" in o ? o.queue : missingField("queue"), "queue");
  const payload = "payload" in o ? o.payload : missingField("payload");
  const priority = given(o.priority) ? expectUint(o.priority, "priority", U16_MAX, "u16") : DEFAULT_PRIORITY;
  const readyAtMs = given(o.ready_at) ? expectUint(o.ready_at, "ready_at", U64_MAX, "u64") : undefined;
  const uniqueKey = given(o.unique_key) ? expectText(o.unique_key, "unique_key") : undefined;
  const uniqueWhile = given(o.unique_while) ? expectString(o.unique_while, "unique_while") : undefined;
  const options: JobOptions = {
    retry_limit: given(o.retry_limit) ? expectUint(o.retry_limit, "retry_limit", U32_MAX, "u32") : undefined,
    backoff: given(o.backoff) ? parseBackoff(o.backoff) : undefined,
    retention: given(o.retention) ? parseRetention(o.retention) : undefined,
    batch: given(o.batch) ? parseBatch(o.batch) : undefined,
  };
  const nameProblem = nameError(type, "type") ?? nameError(queue, "queue");
  if (nameProblem) throw new QueueError("invalid_argument", nameProblem);
  if (uniqueWhile !== undefined && uniqueKey === undefined) throw new QueueError("invalid_argument", "unique_while requires unique_key");
  if (uniqueKey !== undefined && options.batch) throw new QueueError("invalid_argument", "unique_key and batch cannot be combined");
  if (uniqueKey !== undefined) {
    options.unique_key = uniqueKey;
    options.unique_while = uniqueWhile === undefined ? "queued" : parseUniqueWhile(uniqueWhile);
  }
  // In-process callers (and tests) may pass any JSON value; HTTP passes the exact text.
  const payloadJson = payload instanceof PayloadText ? payload.json : JSON.stringify(payload);
  const payloadBytes = payload instanceof PayloadText ? payload.bytes : undefined;
  const tooDeep = payloadDepthError(payloadJson);
  if (tooDeep) throw new QueueError("invalid_argument", tooDeep);
  const budgets = given(o.budgets) ? parseBindings(o.budgets) : undefined;
  if (budgets && budgets.length > 0) {
    options.budgets = bindingOptions(budgets).budgets;
    return { type, queue, payloadJson, payloadBytes, priority, readyAtMs, options, budgets };
  }
  return { type, queue, payloadJson, payloadBytes, priority, readyAtMs, options };
}

/** An optional field's value counts as given (absent and null both mean "not given", as optional()). */
const given = (v: unknown): boolean => v !== undefined && v !== null;

/** Compile and dry-run batch expressions (422 on failure), before anything is written. */
export async function checkBatches(inputs: readonly EnqueueInput[]): Promise<void> {
  for (const input of inputs) {
    const batch = input.options.batch;
    if (batch) await checkBatchExpressions(batch.when, batch.fold, input.payloadJson);
  }
}

/** `idWords[idAt..]`, when given, gets the new id's four words (Store.insert). */
function newMeta(ctx: QueueContext, input: EnqueueInput, nowMs: number, idWords?: Uint32Array, idAt = 0): JobMeta {
  const readyAtMs = input.readyAtMs ?? nowMs;
  const meta: JobMeta = {
    id: ctx.ids.next(nowMs, idWords, idAt),
    status: readyAtMs > nowMs ? STATUS_SCHEDULED : STATUS_READY,
    priority: input.priority,
    attempts: 0,
    readyAtMs,
    queue: input.queue,
    type: input.type,
  };
  // A job whose only options are its bindings shares one frozen options object.
  const o = input.options;
  const onlyBudgets = o.budgets !== undefined && o.retry_limit === undefined && o.backoff === undefined && o.retention === undefined
    && o.unique_key === undefined && o.batch === undefined;
  const options = onlyBudgets ? bindingOptions(o.budgets!) : cleanOptions(o);
  if (options) meta.options = options as Record<string, unknown>;
  return meta;
}

const created = (meta: JobMeta): EnqueueResult => ({ job: viewOfMeta(meta), created: true, duplicate: false, folded: false });

/**
 * Enqueue validated requests; results are in input order. `blobs` are written in the same
 * transaction (a cron firing and its group's new schedule), even when nothing else is.
 */
export async function enqueue(ctx: QueueContext, inputs: readonly EnqueueInput[], nowMs: number, blobs: readonly BlobWrite[] = []): Promise<EnqueueResult[]> {
  if (!inputs.some((i) => i.options.unique_key !== undefined || i.options.batch)) {
    const idWords = new Uint32Array(inputs.length * 4);
    const metas = inputs.map((input, i) => newMeta(ctx, input, nowMs, idWords, i * 4));
    const jobs = metas.map((meta, i) => ({ meta, payload: inputs[i].payloadBytes ?? Buffer.from(inputs[i].payloadJson) }));
    await ctx.store.insert(jobs, ctx.enqueueSync, [], blobs, idWords);
    ctx.afterChange();
    for (const meta of metas) ctx.stats.enqueued(meta.queue, nowMs);
    return metas.map(created);
  }
  // Unique keys and batches are check-then-write: one such enqueue at a time.
  const results = await ctx.enqueueLock.run(() => enqueueKeyed(ctx, inputs, nowMs, blobs));
  for (const r of results) if (r.created) ctx.stats.enqueued(r.job.queue, nowMs);
  return results;
}

interface PendingFold {
  slot: number;
  /** The open batch job's id when its fold was planned (the slot may be reused). */
  id: string;
  payloadJson: string;
}

/** `slot`'s state with its batch marked sealed (JobOptions.batch_sealed). */
function sealedMeta(t: JobTable, slot: number): JobMeta {
  const meta = t.meta(slot);
  return { ...meta, options: { ...(meta.options as JobOptions), batch_sealed: true } };
}

async function enqueueKeyed(ctx: QueueContext, inputs: readonly EnqueueInput[], nowMs: number, blobs: readonly BlobWrite[]): Promise<EnqueueResult[]> {
  const t = ctx.store.table;
  const metas: JobMeta[] = [];
  const payloads: string[] = [];
  const folds = new Map<number, PendingFold>();
  // Open batches this request seals (slot → id when planned), marked so in the same write.
  const sealed = new Map<number, string>();
  // Holders and open batches created earlier in this same request.
  const keyHolders = new Map<string, number>();
  const openBatches = new Map<string, number>();
  const results: (EnqueueResult | { newIndex: number; folded: boolean } | { foldSlot: number })[] = [];

  for (const input of inputs) {
    const key = input.options.unique_key;
    if (key !== undefined) {
      const scope = input.options.unique_while as UniqueWhile;
      const inRequest = keyHolders.get(key);
      if (inRequest !== undefined) {
        // An earlier element of this request is ready/scheduled: every scope conflicts.
        results.push({ job: viewOfMeta(metas[inRequest]), created: false, duplicate: true, folded: false });
        continue;
      }
      const holder = ctx.unique.conflict(t, key, scope);
      if (holder !== -1) {
        results.push({ job: viewOf(t, holder), created: false, duplicate: true, folded: false });
        continue;
      }
    }
    const batch = input.options.batch;
    const batchable = batch !== undefined && (input.readyAtMs ?? nowMs) <= nowMs;
    if (batch && batchable) {
      const newIndex = openBatches.get(batch.key);
      const slot = newIndex === undefined ? ctx.batches.openSlot(t, batch.key) : -1;
      if (newIndex !== undefined || slot !== -1) {
        const existing = newIndex !== undefined ? payloads[newIndex] : folds.get(slot)?.payloadJson ?? ctx.store.payload(slot).toString("utf8");
        const stored = newIndex !== undefined ? metas[newIndex].options!.batch as typeof batch : optionsOf(t, slot).batch!;
        if (await evalWhen(stored.when, existing, input.payloadJson)) {
          const foldedJson = await evalFold(stored.fold, existing, input.payloadJson);
          if (newIndex !== undefined) {
            payloads[newIndex] = foldedJson;
            results.push({ newIndex, folded: true });
          } else {
            folds.set(slot, { slot, id: t.idOf(slot), payloadJson: foldedJson });
            results.push({ foldSlot: slot });
          }
          continue;
        }
        openBatches.delete(batch.key); // sealed: the incoming job opens the next batch
        if (newIndex === undefined) sealed.set(slot, t.idOf(slot));
      }
    }
    const meta = newMeta(ctx, input, nowMs);
    metas.push(meta);
    payloads.push(input.payloadJson);
    const index = metas.length - 1;
    if (key !== undefined) keyHolders.set(key, index);
    if (batch && batchable) openBatches.set(batch.key, index);
    results.push({ newIndex: index, folded: false });
  }

  // `when`/`fold` ran in the jq engine (awaited), and takes do not wait for the enqueue
  // lock: an open batch may have been taken meanwhile, which closes it (API.md §4.4).
  // Folding into a job a worker already holds would lose the item, so plan again.
  for (const f of folds.values()) {
    if (t.status[f.slot] !== STATUS_READY || t.idOf(f.slot) !== f.id) return enqueueKeyed(ctx, inputs, nowMs, blobs);
  }
  const rewrites: Rewrite[] = [...folds.values()].map((f) => ({
    slot: f.slot, meta: sealed.has(f.slot) ? sealedMeta(t, f.slot) : t.meta(f.slot), payload: Buffer.from(f.payloadJson), gen: t.gen[f.slot],
  }));
  for (const [slot, id] of sealed) {
    // Taken meanwhile: closed anyway, nothing to mark.
    if (folds.has(slot) || t.status[slot] !== STATUS_READY || t.idOf(slot) !== id) continue;
    rewrites.push({ slot, meta: sealedMeta(t, slot), payload: ctx.store.payload(slot), gen: t.gen[slot] });
  }
  try {
    await ctx.store.insert(metas.map((meta, i) => ({ meta, payload: Buffer.from(payloads[i]) })), ctx.enqueueSync, rewrites, blobs);
  } catch (err) {
    // A fold target changed while the store waited for room: plan the request again.
    if (err instanceof StorageError && err.kind === "stale") return enqueueKeyed(ctx, inputs, nowMs, blobs);
    throw err;
  }
  for (const meta of metas) {
    const o = meta.options as JobOptions | undefined;
    if (o?.unique_key !== undefined) ctx.unique.claim(t, o.unique_key, meta.id);
    if (o?.batch && meta.status === STATUS_READY && openBatches.get(o.batch.key) !== undefined
      && metas[openBatches.get(o.batch.key)!] === meta) ctx.batches.setOpen(t, o.batch.key, meta.id);
  }
  ctx.afterChange();
  return results.map((r) => {
    if ("job" in r) return r;
    if ("foldSlot" in r) return { job: viewOf(t, r.foldSlot), created: false, duplicate: false, folded: true };
    return { ...created(metas[r.newIndex]), created: !r.folded, folded: r.folded };
  });
}
