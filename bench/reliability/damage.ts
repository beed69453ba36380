// Part "damage": torn tails and flipped bits at random positions of real segment files.
// A server builds a history (bulk enqueues, acks, deletes, patches; 1 MiB segments) and
// stops. Each trial copies that dir, damages one position (a bit flipped anywhere in the
// written part of any segment, or the newest segment cut at a random offset, as a torn
// write leaves it), starts the server on it and compares what it reports (its recovery
// log lines) and what it serves with the undamaged reference.

import fs from "node:fs";
import path from "node:path";
import { type Json, openTake, req } from "../../test/http/_client.ts";
import { prng } from "../../test/helpers/random.ts";
import { tmpDir } from "../../test/helpers/tmp.ts";
import { listAll, percentile, round, segmentsDir, start } from "./_harness.ts";

export interface DamageOptions {
  positions: number;
  seed: number;
  /** Jobs in the history. @default 12000 */
  jobs?: number;
  log?: (line: string) => void;
}

/** Tallies for one kind of damage. */
export interface DamageTally {
  trials: number;
  /** Trials whose recovery log reported the damage (corrupt or torn). */
  detected: number;
  /** Trials that served exactly the reference (every job, nothing else). */
  servedIntact: number;
  /** Jobs not served, summed over trials, and the worst single trial. */
  jobsSkipped: number;
  maxSkippedPerTrial: number;
  /** Must be 0: a served job whose payload or queue differs, or with a priority it never had. */
  changedJobs: number;
  /** Served with an earlier acknowledged state (the damage hit a later patch record). */
  revertedJobs: number;
  /** Served although the reference had deleted or completed them (a damaged DELETE record). */
  resurrected: number;
  /** Served jobs never enqueued: must be 0. */
  unknownJobs: number;
}

export interface DamageResult {
  flip: DamageTally;
  torn: DamageTally;
  /** Trials where the server started and answered /health (must be all). */
  started: number;
  recoveryMs: { p50: number; max: number };
  historyJobs: number;
  segmentFiles: number;
}

const SEGMENT_ARGS = ["--segment-size", "1MiB"];

/** A dir with a few segments of history; returns it and the reference served by it. */
async function buildHistory(jobCount: number, random: () => number): Promise<{ dir: string; reference: Map<string, Json>; everEnqueued: Set<string>; priorities: Map<string, number> }> {
  const dir = tmpDir("zizq-rel-damage-");
  const { server } = await start(dir, SEGMENT_ARGS);
  const everEnqueued = new Set<string>();
  /** Priority at enqueue, before any patch. */
  const priorities = new Map<string, number>();
  for (let n = 0; n < jobCount; n += 200) {
    const jobs = Array.from({ length: 200 }, (_, i) => ({
      type: "dmg", queue: `q${(n + i) % 3}`, priority: (n + i) % 11, payload: { n: n + i, pad: "p".repeat(Math.floor(random() * 300)) },
    }));
    const r = await req(server.url, "POST", "/jobs/bulk", { jobs });
    for (const j of r.body!.jobs as Json[]) {
      everEnqueued.add(j.id as string);
      priorities.set(j.id as string, j.priority as number);
    }
  }
  const ids = [...everEnqueued];
  // Deletes (tombstones), patches (META records) and acks (through a stream).
  for (let i = 0; i < ids.length; i += 7) await req(server.url, "DELETE", `/jobs/${ids[i]}`);
  for (let i = 3; i < ids.length; i += 11) await req(server.url, "PATCH", `/jobs/${ids[i]}`, { priority: 500 + i });
  const stream = await openTake(server.url, "queue=q1&prefetch=300");
  const taken = await stream.waitJobs(300, 60_000);
  await req(server.url, "POST", "/jobs/success", { ids: taken.slice(0, 250).map((j) => j.id) });
  await stream.close();
  await server.stop();
  const { server: again } = await start(dir, SEGMENT_ARGS);
  const reference = await listAll(again.url);
  await again.stop();
  return { dir, reference, everEnqueued, priorities };
}

function lastNonZero(buf: Buffer): number {
  let i = buf.length - 1;
  while (i >= 0 && buf[i] === 0) i--;
  return i;
}

export async function runDamage(options: DamageOptions): Promise<DamageResult> {
  const random = prng(options.seed);
  const log = options.log ?? (() => {});
  const { dir, reference, everEnqueued, priorities } = await buildHistory(options.jobs ?? 12000, random);
  const segDir = segmentsDir(dir);
  const files = fs.readdirSync(segDir).filter((f) => /^\d{8}\.seg$/.test(f)).sort();
  const extents = files.map((f) => lastNonZero(fs.readFileSync(path.join(segDir, f))) + 1);
  const totalExtent = extents.reduce((a, b) => a + b, 0);
  log(`damage: history of ${reference.size} jobs in ${files.length} segments (${totalExtent} bytes written)`);

  const tally = (): DamageTally => ({
    trials: 0, detected: 0, servedIntact: 0, jobsSkipped: 0, maxSkippedPerTrial: 0,
    changedJobs: 0, revertedJobs: 0, resurrected: 0, unknownJobs: 0,
  });
  const result: DamageResult = {
    flip: tally(), torn: tally(), started: 0, recoveryMs: { p50: 0, max: 0 }, historyJobs: reference.size, segmentFiles: files.length,
  };
  const recoveries: number[] = [];
  for (let trial = 0; trial < options.positions; trial++) {
    const kind = trial % 2 === 0 ? "flip" : "torn";
    const work = tmpDir("zizq-rel-damage-trial-");
    fs.cpSync(dir, work, { recursive: true });
    let fileIndex: number;
    let position: number;
    if (kind === "flip") {
      // Uniform over every written byte of every segment (headers included).
      let at = Math.floor(random() * totalExtent);
      for (fileIndex = 0; at >= extents[fileIndex]; fileIndex++) at -= extents[fileIndex];
      position = at;
      const file = path.join(segmentsDir(work), files[fileIndex]);
      const fd = fs.openSync(file, "r+");
      const byte = Buffer.alloc(1);
      fs.readSync(fd, byte, 0, 1, position);
      byte[0] ^= 1 << Math.floor(random() * 8);
      fs.writeSync(fd, byte, 0, 1, position);
      fs.closeSync(fd);
    } else {
      // A torn write: the newest segment ends at a random offset past its header.
      fileIndex = files.length - 1;
      position = 32 + Math.floor(random() * (extents[fileIndex] - 32));
      const file = path.join(segmentsDir(work), files[fileIndex]);
      const fd = fs.openSync(file, "r+");
      fs.writeSync(fd, Buffer.alloc(extents[fileIndex] - position), 0, extents[fileIndex] - position, position);
      fs.closeSync(fd);
    }
    const t = result[kind];
    t.trials++;
    const { server, recoveryMs } = await start(work, SEGMENT_ARGS);
    result.started++;
    recoveries.push(recoveryMs);
    const reported = server.logs().split("\n").filter((l) => /"kind":"(corrupt|torn)"/.test(l));
    if (reported.length > 0) t.detected++;
    const served = await listAll(server.url);
    let skipped = 0;
    let intact = served.size === reference.size;
    for (const [id, ref] of reference) {
      const got = served.get(id);
      if (!got) {
        skipped++;
        intact = false;
        continue;
      }
      if (JSON.stringify(got.payload) !== JSON.stringify(ref.payload) || got.queue !== ref.queue
        || (got.priority !== ref.priority && got.priority !== priorities.get(id))) {
        t.changedJobs++;
        intact = false;
        if (t.changedJobs <= 20) log(`damage trial ${trial} (${kind} ${files[fileIndex]}@${position}): job ${id} served changed`);
      } else if (got.priority !== ref.priority) {
        t.revertedJobs++;
        intact = false;
      }
    }
    for (const id of served.keys()) {
      if (reference.has(id)) continue;
      intact = false;
      if (everEnqueued.has(id)) t.resurrected++;
      else t.unknownJobs++;
    }
    if (intact) t.servedIntact++;
    t.jobsSkipped += skipped;
    t.maxSkippedPerTrial = Math.max(t.maxSkippedPerTrial, skipped);
    await server.kill9();
    fs.rmSync(work, { recursive: true, force: true });
    if ((trial + 1) % 50 === 0) log(`damage: ${trial + 1}/${options.positions} trials, ${result.flip.changedJobs + result.torn.changedJobs} changed`);
  }
  result.recoveryMs = { p50: round(percentile(recoveries, 50)), max: round(Math.max(...recoveries)) };
  return result;
}
