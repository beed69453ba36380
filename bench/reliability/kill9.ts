// Part "kill9": kill -9 of the real server under mixed load, many cycles on one data dir.
// Clients enqueue (single and bulk), take over streams and ack or nack, delete, patch and
// force compaction (1 MiB segments, so it also runs on its own); after a random number
// of acknowledged operations the server gets SIGKILL and is restarted on the same dir.
// Each restart is checked against a model of what the clients were told: acknowledged
// enqueues lost, completions or deletes resurrected, payloads changed, patches or nacks
// undone, jobs left in flight. An operation in flight at the kill may have landed or not.
// With `ballast`, a big store first: that many jobs bulk-loaded into a queue nobody takes
// from, then a clean stop (which writes a checkpoint). Every restart then loads the
// checkpoint and, once ≥ 256 MiB of log lie before it, verifies that log on a worker
// thread (lib/storage/verify-thread.ts); each check counts the ballast queue and compares
// two pages of it (its oldest and newest jobs) with what the load wrote.

import { PAD, preload } from "../_lib.ts";
import { type Json, req } from "../../test/http/_client.ts";
import { openTake } from "../../test/http/_client.ts";
import { prng } from "../../test/helpers/random.ts";
import { tmpDir } from "../../test/helpers/tmp.ts";
import { type SpawnedServer, listAll, percentile, pick, round, start } from "./_harness.ts";

export interface Kill9Options {
  mode: "buffered" | "fsync";
  cycles: number;
  seed: number;
  /** Acknowledged operations between a restart and the next kill: uniform in [min, max]. */
  opsMin?: number;
  opsMax?: number;
  /** Jobs bulk-loaded into queue "ballast" before the first kill (default 0: none). */
  ballast?: number;
  log?: (line: string) => void;
}

export interface Kill9Result {
  mode: string;
  cycles: number;
  seed: number;
  acknowledged: { enqueues: number; acks: number; nacks: number; deletes: number; patches: number; compactions: number };
  lostEnqueues: number;
  resurrectedCompletions: number;
  resurrectedDeletes: number;
  changedPayloads: number;
  undonePatches: number;
  undoneNacks: number;
  strandedInFlight: number;
  unknownJobs: number;
  /** Answers the model did not expect (a 404 for an ack of a job it holds, say): must be 0. */
  unexpectedAnswers: number;
  /** Restarts after which the ballast queue's count or its sampled jobs differed: must be 0. */
  ballastMismatches: number;
  recoveryMs: { p50: number; max: number; samples: number };
  liveAtEnd: number;
}

interface State { present: boolean; priority: number; attempts: number }
interface Model extends State {
  payload: string;
  /** The state an operation in flight would leave, if it landed. */
  pending?: State;
  busy: boolean;
  gone?: "completed" | "deleted";
}

const LIVE_CAP = 4000;

export async function runKill9(options: Kill9Options): Promise<Kill9Result> {
  const random = prng(options.seed);
  const log = options.log ?? (() => {});
  const dir = tmpDir(`zizq-rel-kill9-${options.mode}-`);
  const args = ["--segment-size", "1MiB", "--default-commit-mode", options.mode, "--global-in-flight-limit", "0"];
  const jobs = new Map<string, Model>();
  /** Enqueues sent without an answer yet, by payload n: they may land. */
  const unanswered = new Map<number, string>();
  const payloadByN = new Map<number, string>();
  let nextN = 0;
  const result: Kill9Result = {
    mode: options.mode, cycles: 0, seed: options.seed,
    acknowledged: { enqueues: 0, acks: 0, nacks: 0, deletes: 0, patches: 0, compactions: 0 },
    lostEnqueues: 0, resurrectedCompletions: 0, resurrectedDeletes: 0, changedPayloads: 0,
    undonePatches: 0, undoneNacks: 0, strandedInFlight: 0, unknownJobs: 0, unexpectedAnswers: 0,
    ballastMismatches: 0, recoveryMs: { p50: 0, max: 0, samples: 0 }, liveAtEnd: 0,
  };
  const recoveries: number[] = [];
  let started = await start(dir, args);
  const ballast = options.ballast ?? 0;
  if (ballast > 0) {
    const t0 = performance.now();
    await preload(started.server.url, "ballast", ballast, 1000, 2);
    await started.server.stop(); // a clean stop writes the checkpoint the restarts load
    started = await start(dir, args);
    log(`kill9 ${options.mode}: ballast of ${ballast} jobs loaded in ${round(performance.now() - t0)} ms; restart ${round(started.recoveryMs)} ms`);
  }

  for (let cycle = 0; cycle < options.cycles; cycle++) {
    const srv = started.server;
    const killAfter = (options.opsMin ?? 100) + Math.floor(random() * ((options.opsMax ?? 500) - (options.opsMin ?? 100) + 1));
    let acked = 0;
    let killing: Promise<void> | undefined;
    const stopped = () => killing !== undefined;
    const done = () => {
      acked++;
      if (acked >= killAfter && !killing) killing = srv.kill9();
    };
    const live = () => [...jobs].filter(([, j]) => j.present && !j.busy).map(([id]) => id);
    const newPayload = (): { n: number; text: string; value: Json } => {
      const n = nextN++;
      const value = { n, s: "é✓x".repeat(Math.floor(random() * 60)), k: Math.floor(random() * 1e9) };
      const text = JSON.stringify(value);
      payloadByN.set(n, text);
      return { n, text, value };
    };

    /** Run `op` on a job: busy meanwhile; `after` is its state if it lands. */
    async function operate(id: string, after: State, send: () => Promise<number>, ok: number[], count: keyof Kill9Result["acknowledged"]): Promise<void> {
      const j = jobs.get(id)!;
      j.busy = true;
      j.pending = after;
      const status = await send().catch(() => undefined);
      if (status === undefined) return; // killed: stays pending (and busy) until the check
      j.busy = false;
      j.pending = undefined;
      if (!ok.includes(status)) {
        result.unexpectedAnswers++;
        log(`cycle ${cycle}: ${count}: unexpected ${status} for ${id}`);
        return;
      }
      Object.assign(j, after);
      result.acknowledged[count]++;
      done();
    }

    const enqueuer = async () => {
      while (!stopped()) {
        if (jobs.size > LIVE_CAP && [...jobs.values()].filter((j) => j.present).length > LIVE_CAP) return;
        const bulk = random() < 0.3 ? 2 + Math.floor(random() * 20) : 0;
        const made = Array.from({ length: bulk || 1 }, () => ({ ...newPayload(), priority: Math.floor(random() * 5) }));
        for (const m of made) unanswered.set(m.n, m.text);
        const body = made.map((m) => ({ type: "rel", queue: "q", priority: m.priority, payload: m.value }));
        const r = await (bulk
          ? req(srv.url, "POST", "/jobs/bulk", { jobs: body })
          : req(srv.url, "POST", "/jobs", body[0])).catch(() => undefined);
        if (!r) return;
        if (r.status !== 201) {
          result.unexpectedAnswers++;
          log(`cycle ${cycle}: enqueue: ${r.status} ${r.text}`);
          return;
        }
        const got = (bulk ? r.body!.jobs : [r.body]) as Json[];
        got.forEach((job, i) => {
          unanswered.delete(made[i].n);
          // A stream may already hold it; busy until the stream handles it or the kill.
          const known = jobs.get(job.id as string);
          if (known) return;
          jobs.set(job.id as string, { payload: made[i].text, present: true, priority: made[i].priority, attempts: 0, busy: false });
        });
        result.acknowledged.enqueues += got.length;
        done();
      }
    };

    const worker = async () => {
      const stream = await openTake(srv.url, "queue=q&prefetch=8").catch(() => undefined);
      if (!stream) return;
      try {
        for (let i = 0; !stopped(); i++) {
          const frame = await stream.job(i, 60_000).catch(() => undefined);
          if (!frame) return;
          const j = jobs.get(frame.id as string);
          // Unknown (its enqueue answer is still on the way), busy, or deleted since it was
          // delivered: leave it.
          if (!j || j.busy || !j.present) continue;
          const r = random();
          if (r < 0.6) {
            await operate(frame.id as string, { present: false, priority: j.priority, attempts: j.attempts },
              async () => (await req(srv.url, "POST", `/jobs/${frame.id}/success`)).status, [204], "acks");
            if (!j.present && !j.pending) j.gone = "completed";
          } else if (r < 0.8) {
            await operate(frame.id as string, { present: true, priority: j.priority, attempts: j.attempts + 1 },
              async () => (await req(srv.url, "POST", `/jobs/${frame.id}/failure`, { message: "rel", retry_at: Date.now() + 3_600_000 })).status, [200], "nacks");
          }
        }
      } finally {
        await stream.close().catch(() => {});
      }
    };

    const deleter = async () => {
      while (!stopped()) {
        const id = pick(random, live());
        if (!id) return;
        const j = jobs.get(id)!;
        await operate(id, { present: false, priority: j.priority, attempts: j.attempts },
          async () => (await req(srv.url, "DELETE", `/jobs/${id}`)).status, [204], "deletes");
        if (!j.present && !j.pending) j.gone = "deleted";
      }
    };

    const patcher = async () => {
      while (!stopped()) {
        const id = pick(random, live());
        if (!id) return;
        const j = jobs.get(id)!;
        const priority = Math.floor(random() * 60000);
        await operate(id, { present: true, priority, attempts: j.attempts },
          async () => (await req(srv.url, "PATCH", `/jobs/${id}`, { priority })).status, [200], "patches");
      }
    };

    const compactor = async () => {
      let at = 0;
      while (!stopped()) {
        // Between compactions, wait for 100 acknowledged operations (an event, not a delay).
        await new Promise<void>((resolve) => {
          const check = () => (stopped() || acked >= at + 100 ? resolve() : setTimeout(check, 20));
          check();
        });
        at = acked;
        if (stopped() || !srv.adminUrl) return;
        const r = await req(srv.adminUrl, "POST", "/compact").catch(() => undefined);
        if (r?.status === 204) result.acknowledged.compactions++;
      }
    };

    const streams = [worker(), worker(), worker(), compactor()];
    await Promise.all([enqueuer(), enqueuer(), deleter(), patcher()]);
    // Every actor stops at the kill, or earlier if it ran out of work: make sure of the kill.
    if (!killing) killing = srv.kill9();
    await killing;
    await Promise.all(streams);

    started = await start(dir, args);
    recoveries.push(started.recoveryMs);
    await check(started.server, cycle);
    result.cycles++;
    if ((cycle + 1) % 10 === 0 || cycle + 1 === options.cycles) {
      log(`kill9 ${options.mode}: ${cycle + 1}/${options.cycles} cycles, ${[...jobs.values()].filter((j) => j.present).length} live, recovery p50 ${round(percentile(recoveries, 50))} ms`);
    }
  }

  async function check(srv: SpawnedServer, cycle: number): Promise<void> {
    if (ballast > 0 && !(await ballastIntact(srv.url, ballast))) {
      result.ballastMismatches++;
      log(`cycle ${cycle}: the ballast queue differs from what was loaded`);
    }
    const found = await listAll(srv.url, ballast > 0 ? "queue=q" : "");
    for (const [id, j] of jobs) {
      const f = found.get(id);
      const allowed = j.pending ? [j as State, j.pending] : [j as State];
      if (!f) {
        if (!allowed.some((s) => !s.present)) {
          result.lostEnqueues++;
          log(`cycle ${cycle}: acknowledged job ${id} lost`);
        }
        jobs.delete(id);
        continue;
      }
      if (!allowed.some((s) => s.present)) {
        if (j.gone === "deleted") result.resurrectedDeletes++;
        else result.resurrectedCompletions++;
        log(`cycle ${cycle}: ${j.gone ?? "removed"} job ${id} came back`);
      }
      if (JSON.stringify(f.payload) !== j.payload) {
        result.changedPayloads++;
        log(`cycle ${cycle}: payload of ${id} changed`);
      }
      if (!allowed.some((s) => s.present && s.priority === f.priority)) {
        result.undonePatches++;
        log(`cycle ${cycle}: ${id} has priority ${f.priority}, allowed ${allowed.map((s) => s.priority)}`);
      }
      if (!allowed.some((s) => s.present && s.attempts === f.attempts)) {
        result.undoneNacks++;
        log(`cycle ${cycle}: ${id} has attempts ${f.attempts}, allowed ${allowed.map((s) => s.attempts)}`);
      }
      if (f.status === "in_flight") result.strandedInFlight++;
      Object.assign(j, { present: true, priority: f.priority, attempts: f.attempts, pending: undefined, busy: false, gone: undefined });
    }
    for (const [id, f] of found) {
      if (jobs.has(id)) continue;
      const n = (f.payload as Json | null)?.n as number | undefined;
      const text = n === undefined ? undefined : payloadByN.get(n);
      if (n === undefined || !unanswered.has(n) || JSON.stringify(f.payload) !== text) {
        result.unknownJobs++;
        log(`cycle ${cycle}: job ${id} was never acknowledged nor in flight`);
      }
      jobs.set(id, { payload: JSON.stringify(f.payload), present: true, priority: f.priority, attempts: f.attempts, busy: false });
    }
    unanswered.clear();
  }

  await started.server.stop();
  result.recoveryMs = { p50: round(percentile(recoveries, 50)), max: round(Math.max(...recoveries)), samples: recoveries.length };
  result.liveAtEnd = [...jobs.values()].filter((j) => j.present).length;
  return result;
}

/**
 * Whether queue "ballast" still holds exactly `n` jobs, and its oldest and newest 1,000
 * are the loaded ones: payload {n, pad} in load order (preload's bodies), ready, never taken.
 */
async function ballastIntact(url: string, n: number): Promise<boolean> {
  const count = await req(url, "GET", "/jobs/count?queue=ballast");
  if (count.status !== 200 || count.body!.count !== n) return false;
  for (const [order, first] of [["asc", 0], ["desc", n - 1]] as const) {
    const r = await req(url, "GET", `/jobs?queue=ballast&order=${order}&limit=1000`);
    if (r.status !== 200) return false;
    const jobs = r.body!.jobs as Json[];
    const step = order === "asc" ? 1 : -1;
    if (jobs.length !== Math.min(1000, n)) return false;
    for (let i = 0; i < jobs.length; i++) {
      const j = jobs[i];
      if (JSON.stringify(j.payload) !== JSON.stringify({ n: first + step * i, pad: PAD })) return false;
      if (j.status !== "ready" || j.attempts !== 0 || j.type !== "bench") return false;
    }
  }
  return true;
}
