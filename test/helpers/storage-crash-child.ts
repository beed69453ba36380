// Child process for test/crash/storage-crash.test.ts: opens a store and works on it until
// it is killed, printing one line per operation, before it starts ("intent") and after
// it is acknowledged. Every line is in the pipe before the operation it announces
// starts (fs.writeSync on fd 1, see say()), so the parent knows of every operation
// that can have reached the disk.
//
//   node --import tsx storage-crash-child.ts <dir> <write|compact> <seed> <idBase>
//
// Lines: "i <n...>" / "I <n...>" insert, "d <n...>" / "D <n...>" delete,
// "u <n> <priority>" / "U <n> <priority>" patch, "C start" / "C done" compaction.
// Jobs are numbered; the id is makeId(n), the payload payloadFor(n, n % 50).

import fs from "node:fs";
import { openStore } from "../../lib/storage/store.ts";
import { makeId, newJob, prng } from "./storage.ts";

const [dir, mode, seedArg, baseArg] = process.argv.slice(2);
const random = prng(Number(seedArg));
let next = Number(baseArg);
/**
 * Write a line straight into the pipe, waiting while it is full. Not process.stdout: when
 * the parent reads slowly (a loaded machine) it queues lines in this process's memory
 * (2 MB measured) and a SIGKILL loses them, while the operations they announce go on.
 * The parent then saw a prefix of the history: deletes, patches and inserts it never
 * heard of looked like lost or resurrected jobs (the seed-728304187 failure, issue 12).
 */
function say(line: string): void {
  const bytes = Buffer.from(`${line}\n`);
  for (let done = 0; done < bytes.length;) {
    try {
      done += fs.writeSync(1, bytes, done);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EAGAIN") throw err;
      // The pipe is full (fd 1 is non-blocking): tell the parent once, wait, retry.
      if (!waited) fs.writeSync(2, "say: pipe full, waiting\n");
      waited = true;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}
let waited = false;
const pause = new Int32Array(new SharedArrayBuffer(4));

const store = await openStore({ dir, segmentBytes: mode === "compact" ? 64 * 1024 : 256 * 1024 });
// Jobs this process saw acknowledged (or found on open), as candidates for delete/patch.
const live = new Set<number>([...store.table.slotById.values()].map((s) => Number(store.table.meta(s).id)));
say("ready");

const pickLive = (k: number): number[] => {
  const all = [...live];
  const out: number[] = [];
  while (out.length < k && all.length > 0) out.push(all.splice(Math.floor(random() * all.length), 1)[0]);
  for (const n of out) live.delete(n); // never two deletes/patches in flight on one job
  return out;
};

async function insert(count: number): Promise<number[]> {
  const ns = Array.from({ length: count }, () => next++);
  say(`i ${ns.join(" ")}`);
  await store.insert(ns.map((n) => newJob(n, { priority: n % 7 }, n % 50)), random() < 0.1);
  say(`I ${ns.join(" ")}`);
  for (const n of ns) live.add(n);
  return ns;
}

async function remove(ns: number[]): Promise<void> {
  if (ns.length === 0) return;
  say(`d ${ns.join(" ")}`);
  await store.remove(ns.map((n) => store.table.slotById.get(makeId(n))!), random() < 0.1);
  say(`D ${ns.join(" ")}`);
}

async function patch(n: number | undefined): Promise<void> {
  if (n === undefined) return;
  const slot = store.table.slotById.get(makeId(n))!;
  const priority = Math.floor(random() * 1000);
  say(`u ${n} ${priority}`);
  await store.update([slot], [{ ...store.table.meta(slot), priority }], random() < 0.1);
  say(`U ${n} ${priority}`);
  live.add(n);
}

async function writer(): Promise<never> {
  for (;;) {
    const r = random();
    if (r < 0.5) await insert(1 + Math.floor(random() * 30));
    else if (r < 0.8) await remove(pickLive(1 + Math.floor(random() * 10)));
    else await patch(pickLive(1)[0]);
  }
}

if (mode === "write") {
  // Four writers at once, so batches hold several callers' records.
  await Promise.all([writer(), writer(), writer(), writer()]);
} else {
  if (store.table.size === 0) {
    for (let i = 0; i < 120; i++) await insert(50);
    await remove(pickLive(Math.floor(live.size * 0.9)));
  }
  for (;;) {
    say("C start");
    await store.compactAll();
    say("C done");
    // About two segments of garbage for the next round of compaction.
    for (let k = 0; k < 8; k++) {
      const doomed = (await insert(100)).slice(0, 90);
      for (const n of doomed) live.delete(n);
      await remove(doomed);
    }
  }
}
