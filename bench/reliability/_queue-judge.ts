// The judge of the queue power-loss harness (power-loss-queue.ts states the rules): opens
// one materialised image as a server would (from its checkpoint, or by full scan, the
// clock at the cut), compares what it serves with the ledger of the live run
// (_queue-workload.ts), probes unique keys and a take stream, and reopens. Budget rules:
// _queue-budget-judge.ts.

import assert from "node:assert/strict";
import { STATUS_IN_FLIGHT, STATUS_READY } from "../../lib/storage/format.ts";
import { type Store, openStore } from "../../lib/storage/store.ts";
import { ManualClock } from "../../lib/queue/clock.ts";
import { Queue } from "../../lib/queue/queue.ts";
import { inScope } from "../../lib/queue/unique.ts";
import type { Binding } from "../../lib/queue/budget-policy.ts";
import type { Taken } from "./_power-cuts.ts";
import { judgeBindings, judgeTokens, parkedByTokens } from "./_queue-budget-judge.ts";
import { CRON_ENTRIES, CRON_GROUP, type CronEntryState, type JobState, KEYS, type Ledgers, type Served, comparable, serve, userView, whole } from "./_queue-model.ts";
import { type Mode, queueOptionsFor, storeOptionsFor } from "./_queue-options.ts";
import type { WorkloadRun } from "./_queue-workload.ts";

export interface JudgeCounts {
  opened: number;
  /** Jobs judged over all opens: as last acknowledged, as a write in flight, an older written state (buffered), checked against a checkpoint (buffered). */
  jobs: { acked: number; inFlight: number; older: number; checkpointed: number; cron: number; retried: number };
  /** Probes after recovery: unique-key enqueues, jobs taken and acked, ready jobs left parked by time_based budgets' tokens. */
  probes: { unique: number; duplicates: number; taken: number; parked: number };
}

export function createJudge(seed: number, mode: Mode, world: WorkloadRun["world"], counts: JudgeCounts) {
  const sync = mode === "fsync";
  const enqueueSync = mode !== "buffered";
  const { jobs, blobs, atomics } = world;

  async function openImage(dir: string, checkpoint: boolean, nowMs: number, how: string): Promise<{ store: Store; queue: Queue }> {
    let store: Store;
    try {
      store = await openStore({ dir, ...storeOptionsFor(seed, mode), checkpoint, now: () => nowMs });
    } catch (err) {
      throw new Error(`the store refused to open after the power cut (${how}): ${(err as Error).message}`, { cause: err });
    }
    const errors: string[] = [];
    const queue = new Queue(store, queueOptionsFor(seed, mode, new ManualClock(nowMs), (err, where) => errors.push(`${where}: ${err}`)));
    queue.cronScheduler.stop();
    return { store, queue };
  }

  /** Judge one image; throws on a failure, returns whether it recovered from the checkpoint. */
  async function judgeImage(dir: string, checkpoint: boolean, t: Taken<Ledgers>, where: string): Promise<boolean> {
    const how = checkpoint ? "from checkpoint if usable" : "full scan";
    const nowMs = t.ledger.ledger.clockMs;
    let { store, queue } = await openImage(dir, checkpoint, nowMs, how);
    let closed = false;
    try {
      counts.opened++;
      const label = `${where} [${how}, recovered by ${store.recovery.from}${store.recovery.reason ? `: ${store.recovery.reason}` : ""}]`;
      assert.equal(store.table.statusCounts[STATUS_IN_FLIGHT], 0, `${label}: jobs came back in flight`);
      const served = serve(store);
      judge(served, t.ledger, nowMs, label, checkpoint);
      // ---- probes: unique keys block iff a served job holds them
      for (const [key, scope] of Object.entries(KEYS)) {
        const holders = [...store.table.slotById.values()].filter((slot) => {
          const o = store.table.extras.get(slot)?.options as { unique_key?: string } | undefined;
          return o?.unique_key === key && inScope(scope, store.table.status[slot]);
        });
        const r = await queue.enqueue({ type: "probe", queue: "probe", payload: { probe: key }, unique_key: key, unique_while: scope });
        counts.probes.unique++;
        if (r.duplicate) counts.probes.duplicates++;
        assert.equal(r.duplicate, holders.length > 0, `${label}: unique key ${key} (${scope}) ${r.duplicate ? "blocked an enqueue with no job holding it" : `did not block an enqueue though ${holders.map((s) => store.table.idOf(s)).join(", ")} hold it`}`);
      }
      // ---- every ready job of an unpaused queue is handed out, and its ack lands, but for
      // those the tokens of their time_based budgets (full at the recovery clock) leave parked
      queue.scheduler.tick();
      const readySlots: number[] = [];
      const recovered = new Map([...store.table.slotById.values()].map((slot) => [store.table.idOf(slot), store.table.meta(slot)]));
      for (const slot of store.table.slotById.values()) {
        if (store.table.status[slot] === STATUS_READY && !queue.pauses.paused.has(store.table.queues.name(store.table.queue[slot]))) readySlots.push(slot);
      }
      const readyIds = readySlots.map((slot) => store.table.idOf(slot));
      const policies = new Map(queue.budgets.list().map((v) => [v.key, { allocation: v.allocation, strategy: v.strategy }]));
      const parked = new Set([...parkedByTokens(store, readySlots, policies, label)].map((slot) => store.table.idOf(slot)));
      const expected = readyIds.filter((id) => !parked.has(id));
      // Acked as they come: a concurrency budget hands out only as many as it allows.
      const got: string[] = [];
      let fresh: string[] = [];
      const taker = queue.take({ prefetch: 0, deliver: ({ job }) => { got.push(job.id); fresh.push(job.id); return true; } });
      const deadline = Date.now() + 60_000;
      // A few turns past the last one expected: a job handed out beyond what its tokens pay shows.
      for (let extra = 5; (got.length < expected.length && Date.now() < deadline) || extra-- > 0;) {
        if (fresh.length > 0) {
          const ids = fresh;
          fresh = [];
          assert.deepEqual(await queue.completeMany({ ids }), [], `${label}: acks of jobs taken after recovery`);
        } else {
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
      }
      if (fresh.length > 0) assert.deepEqual(await queue.completeMany({ ids: fresh }), []);
      judgeTokens(got.map((id) => ({ id, binding: (recovered.get(id)?.options?.budgets as Binding[] | undefined)?.[0] })), policies, label);
      assert.deepEqual([...got].sort(), [...expected].sort(), `${label}: a take stream after recovery got other jobs than the ready ones${parked.size > 0 ? ` (less ${[...parked].join(", ")}, which their time_based budgets' tokens leave parked)` : ""}`);
      counts.probes.parked += parked.size;
      // In (priority, id) order, the jobs no budget parks (all ready from the start).
      const free = got.map((id) => recovered.get(id)!).filter((m) => m.options?.budgets === undefined);
      for (let i = 1; i < free.length; i++) {
        const [a, b] = [free[i - 1], free[i]];
        assert.ok(a.priority < b.priority || (a.priority === b.priority && a.id < b.id), `${label}: after recovery ${a.id} (priority ${a.priority}) was handed out before ${b.id} (priority ${b.priority})`);
      }
      counts.probes.taken += got.length;
      taker.close();
      const after = serve(store);
      queue.stop();
      await store.close();
      closed = true;
      ({ store, queue } = await openImage(dir, checkpoint, nowMs, how));
      try {
        assert.deepEqual(comparable(serve(store), nowMs), comparable(after, nowMs), `${label}: a reopen after recovery and the probes serves something else`);
      } finally {
        queue.stop();
        await store.close();
      }
      return checkpoint && store.recovery.from === "checkpoint";
    } finally {
      if (!closed) {
        queue.stop();
        await store.close().catch(() => {});
      }
    }
  }

  function judge(served: Served, ledgers: Ledgers, nowMs: number, where: string, count: boolean): void {
    const r = count ? counts : undefined;
    const { ledger, checkpointed } = ledgers;
    for (const n of served.jobs.keys()) assert.ok(ledger.jobs.has(n), `${where}: job with tag ${n} was never enqueued`);
    for (const [n, e] of jobs) {
      const [issued, ackedN, pending] = ledger.jobs.get(n) ?? [0, 0, []];
      const written = e.versions.slice(0, issued) as (JobState | undefined)[];
      const got = userView(served.jobs.get(n), nowMs);
      const gotText = `${whole(got)}${got ? ` (id ${served.jobs.get(n)!.meta.id})` : ""}`;
      const same = (v: JobState | undefined) => whole(userView(v, nowMs)) === whole(got);
      const log = `; writes issued: ${e.writes.slice(0, issued).map((w, i) => `${w}${i === ackedN - 1 ? " (answered last)" : ""}${pending.includes(i) ? " (in flight)" : ""}`).join(", ")}; at the checkpoint: ${JSON.stringify(checkpointed.jobs.get(n) ?? null)}`;
      if (got) {
        // Attempts and error history: records 1..k, and k - attempts is 0 or the record
        // count at one of the job's retries issued before the cut (a retry sets attempts
        // to 0 and keeps the history; later failures number on).
        const s = served.jobs.get(n)!;
        const attempts = s.errors.map((x) => (JSON.parse(x) as { attempt: number }).attempt);
        const k = attempts.length;
        assert.deepEqual(attempts, Array.from({ length: k }, (_, i) => i + 1), `${where}: job ${s.meta.id} has error records for attempts ${JSON.stringify(attempts)}`);
        const bases = [0, ...e.retryBases.filter(([at]) => at < issued).map(([, b]) => b)];
        assert.ok(bases.includes(k - s.meta.attempts), `${where}: job ${s.meta.id} has attempts ${s.meta.attempts} and ${k} error records; records at its retries: ${JSON.stringify(bases.slice(1))}`);
        if (r && bases.length > 1) r.jobs.retried++;
      }
      if (sync) {
        const last = ackedN > 0 ? written[ackedN - 1] : undefined;
        if (same(last)) {
          if (r) r.jobs.acked++;
          continue;
        }
        if (pending.some((i) => same(written[i]))) {
          if (r) r.jobs.inFlight++;
          continue;
        }
        assert.fail(`${where}: job with tag ${n} is ${gotText}; acknowledged: ${whole(userView(last, nowMs))}${pending.length > 0 ? `; in flight: ${pending.map((i) => whole(userView(written[i], nowMs))).join(" | ")}` : ""}${log}`);
      }
      // Buffered: nothing older than the last completed checkpoint: the state answered
      // last before it began, or one written since, or one in flight when it began (a
      // write issued before a reset may land after the RESET record: issue order is not
      // log order then) ...
      const [, durableN, inFlightThen] = checkpointed.jobs.get(n) ?? [0, 0, []];
      if (durableN > 0) {
        const laterInLog = [...written.slice(durableN), ...inFlightThen.filter((i) => i < durableN - 1).map((i) => written[i])];
        const since = [written[durableN - 1], ...laterInLog].map((v) => userView(v, nowMs));
        const held = `acknowledged before the last completed checkpoint: ${whole(since[0])}${since.length > 1 ? `; written since or in flight then: ${since.slice(1).map(whole).join(" | ")}` : ""}${log}`;
        if (since.length === 1) assert.equal(whole(got), whole(since[0]), `${where}: job with tag ${n} is ${gotText}; ${held}`);
        else if (!got) assert.ok(since.some((v) => !v), `${where}: job with tag ${n} is absent; ${held}`);
        else {
          assert.ok(since.some((v) => v?.view === got.view), `${where}: job with tag ${n} is older than the checkpoint: ${gotText}; ${held}`);
          // Error records only grow, in log order, from the state answered before it.
          const fromAnswered = written.slice(durableN - 1).map((v) => userView(v, nowMs)).some((v) => v?.view === got.view);
          if (fromAnswered) for (const err of since[0]?.errors ?? []) assert.ok(got.errors.includes(err), `${where}: job with tag ${n} lost an error record older than the checkpoint: ${err}; ${held}`);
        }
        if (r) r.jobs.checkpointed++;
      }
      // enqueue-fsync: an answered enqueue is there, unless a write since removed it.
      if (enqueueSync && ackedN > 0 && written[0] !== undefined && !got) {
        assert.ok(written.some((v) => !userView(v, nowMs)), `${where}: job with tag ${n} is absent, though its enqueue was answered and nothing since removed it; written: ${written.map((v) => whole(userView(v, nowMs))).join(" | ")}`);
      }
      // ... and each part of what is served was written for the job.
      if (!got) continue;
      const views = written.map((v) => userView(v, nowMs)).filter((v) => v !== undefined);
      assert.ok(views.some((v) => v.view === got.view), `${where}: job with tag ${n} is in a state never written: ${gotText}; written: ${views.map((v) => v.view).join(" | ")}`);
      const errorsWritten = new Set(views.flatMap((v) => v.errors));
      for (const err of got.errors) assert.ok(errorsWritten.has(err), `${where}: job with tag ${n} has an error record never written: ${err}`);
      // A cut keeps a prefix of the log (LogWriter.syncOlderThan, the scan stopping at a
      // gap): the job is as one write left it, its view, payload and history together.
      assert.ok(views.some((v) => whole(v) === whole(got)), `${where}: job with tag ${n} is ${gotText}, a mix of states written: ${views.map(whole).join(" | ")}`);
      if (r) {
        if (ackedN > 0 && same(written[ackedN - 1])) r.jobs.acked++;
        else r.jobs.older++;
      }
    }
    // ---- a bulk enqueue or bulk retry is one write: of its jobs that it changed and that
    // nothing was written on since, all or none are as it left them
    for (const members of atomics) {
      const changed = members.filter(([n, at]) => {
        const [issued] = ledger.jobs.get(n) ?? [0];
        if (issued !== at + 1) return false;
        const v = jobs.get(n)!.versions;
        return whole(userView(v[at] as JobState | undefined, nowMs)) !== whole(userView(v[at - 1] as JobState | undefined, nowMs)) && userView(v[at] as JobState | undefined, nowMs) !== undefined;
      });
      if (changed.length < 2) continue;
      const stateAt = (n: number, i: number) => whole(userView(jobs.get(n)!.versions[i] as JobState | undefined, nowMs));
      const servedAs = (n: number) => whole(userView(served.jobs.get(n), nowMs));
      const landed = changed.filter(([n, at]) => servedAs(n) === stateAt(n, at));
      // Landed for sure only if no earlier write left the job the same (a job completed and
      // retried twice at one clock time is ready, attempts 0, twice alike): else the state
      // served may be the earlier write's, and this one lost with the rest.
      const surely = landed.filter(([n, at]) => !jobs.get(n)!.versions.slice(0, at).some((_, i) => stateAt(n, i) === stateAt(n, at)));
      const lost = changed.length - landed.length;
      assert.ok(surely.length === 0 || lost === 0, `${where}: a bulk write came back in part: tags ${landed.map(([n]) => n).join(", ")} of ${changed.map(([n]) => n).join(", ")}; ${changed.map(([n, at]) => `tag ${n} served ${servedAs(n)}, written ${jobs.get(n)!.versions.map((_, i) => `${i === at ? "*" : ""}${stateAt(n, i)}`).join(" | ")}`).join("; ")}`);
    }
    // ---- a unique key in scope `active` has at most one unfinished job, in scope `exists`
    // at most one job (API.md §4.3: no enqueue is created while another job holds it so)
    const byKey = new Map<string, JobState[]>();
    for (const s of served.jobs.values()) {
      const key = (s.meta.options as { unique_key?: string } | undefined)?.unique_key;
      if (key !== undefined && KEYS[key] !== "queued") byKey.set(key, [...(byKey.get(key) ?? []), s]);
    }
    for (const [key, holders] of byKey) {
      const live = KEYS[key] === "exists" ? holders : holders.filter((s) => s.meta.status <= STATUS_IN_FLIGHT);
      assert.ok(live.length <= 1, `${where}: unique key ${key} (${KEYS[key]}) is held by ${live.length} jobs: ${live.map((s) => `${s.meta.id} (tag ${JSON.parse(s.payload).n}, status ${s.meta.status})`).join(", ")}`);
    }
    // ---- a budget an unfinished job draws on exists, and covers its cost
    judgeBindings(served, where);
    // ---- pauses and the cron group: blobs
    const servedCronAt: number[] = [];
    for (const [key, e] of blobs) {
      const [issued, ackedN, pending] = ledger.blobs.get(key) ?? [0, 0, []];
      const written = e.versions.slice(0, issued) as (string | undefined)[];
      const got = served.blobs.get(key);
      let ok: number[];
      if (sync) {
        ok = [ackedN - 1, ...pending].filter((i) => (i < 0 ? got === undefined : written[i] === got));
        assert.ok(ok.length > 0, `${where}: ${key} is ${got}; acknowledged ${ackedN > 0 ? written[ackedN - 1] : undefined}${pending.length > 0 ? `, in flight ${pending.map((i) => written[i]).join(" | ")}` : ""}`);
      } else {
        // As for jobs: not older than the state answered last before the last completed
        // checkpoint began, or one written since, or one in flight then (a write issued
        // before a reset may land after the RESET record: issue order is not log order).
        const [, durableN, inFlightThen] = checkpointed.blobs.get(key) ?? [0, 0, []];
        ok = written.map((v, i) => (v === got && (i >= durableN - 1 || inFlightThen.includes(i)) ? i : -2)).filter((i) => i !== -2);
        if (got === undefined && (durableN === 0 || written.slice(Math.max(0, durableN - 1)).includes(undefined))) ok.push(-1);
        assert.ok(ok.length > 0, `${where}: ${key} is ${got}; written: ${written.join(" | ")}; acknowledged before the last completed checkpoint: ${durableN}${inFlightThen.length > 0 ? `, in flight then: ${inFlightThen.join(", ")}` : ""}`);
      }
      if (key.startsWith("cron:")) servedCronAt.push(...ok);
    }
    // ---- cron: the entries' jobs are exactly the firings their served schedule has seen
    const e = blobs.get(`cron:${CRON_GROUP}`)!;
    const firesUpTo = (k: number): Map<string, number[]> => {
      const fires = new Map<string, Set<number>>(CRON_ENTRIES.map((x) => [x.name, new Set()]));
      for (let i = 0; i <= k; i++) {
        const v = e.versions[i] as string | undefined;
        if (v === undefined) {
          for (const s of fires.values()) s.clear(); // a reset took the jobs with it
          continue;
        }
        for (const entry of (JSON.parse(v) as { entries: CronEntryState[] }).entries) {
          if (entry.last_enqueue_at !== undefined) fires.get(entry.name)!.add(entry.last_enqueue_at);
        }
      }
      return new Map([...fires].map(([name, s]) => [name, [...s].sort((a, b) => a - b)]));
    };
    const servedFires = new Map(CRON_ENTRIES.map((x) => [x.name, (served.cron.get(x.name) ?? []).map((s) => s.meta.readyAtMs).sort((a, b) => a - b)]));
    for (const [name, fires] of servedFires) {
      assert.equal(new Set(fires).size, fires.length, `${where}: cron entry ${name} fired an occurrence twice: ${fires.join(", ")}`);
    }
    const explained = servedCronAt.some((k) => {
      const want = k < 0 ? new Map(CRON_ENTRIES.map((x) => [x.name, [] as number[]])) : firesUpTo(k);
      return [...want].every(([name, fires]) => JSON.stringify(fires) === JSON.stringify(servedFires.get(name)));
    });
    assert.ok(explained, `${where}: the cron jobs served (${JSON.stringify([...servedFires])}) are not the firings of the served schedule ${served.blobs.get(`cron:${CRON_GROUP}`)}`);
    if (r) r.jobs.cron += [...servedFires.values()].reduce((s, f) => s + f.length, 0);
  }

  return judgeImage;
}
