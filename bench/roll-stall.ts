// The stall at a segment roll in buffered mode: the writer syncs a segment before it
// writes into the next (so a power cut keeps a prefix of the log), and that sync waits for
// the segment's write-back. With background syncs of the head (LogWriter.syncInBackground)
// little is left to write at the roll. One producer inserts 128 KiB groups into a store
// in-process (segments grow to 64 MiB past ~512 MiB live) and prints the latency of the
// inserts that rolled the log and of the rest, with background syncs on and off, in turns.
// The producer is paced (default 100 MiB/s, ~700k jobs/s of 150 bytes): faster than the
// disk writes back, every scheme stalls somewhere.
//
//   node --import tsx bench/roll-stall.ts [MiB to write, default 1200] [rounds, default 2] [MiB/s, default 100]

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { STATUS_READY } from "../lib/storage/format.ts";
import { openStore } from "../lib/storage/store.ts";
import { percentile } from "./_lib.ts";

const MIB = 1024 * 1024;
const totalMiB = Number(process.argv[2] ?? 1200);
const rounds = Number(process.argv[3] ?? 2);
const mibPerSecond = Number(process.argv[4] ?? 100);
const PAYLOAD = Buffer.from(JSON.stringify({ pad: "x".repeat(8 * 1024) }));
const PER_GROUP = 16;

async function run(background: boolean): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zizq-roll-stall-"));
  const store = await openStore({ dir, checkpoint: false });
  if (!background) store.writer.backgroundSyncBytes = Infinity;
  const rolls: number[] = [];
  const rest: number[] = [];
  let id = 0;
  const t0 = performance.now();
  try {
    while (store.writer.appendedBytes < totalMiB * MIB) {
      const jobs = Array.from({ length: PER_GROUP }, () => {
        id++;
        return { meta: { id: String(id).padStart(25, "0"), status: STATUS_READY, priority: 0, attempts: 0, readyAtMs: 0, queue: "q", type: "t" }, payload: PAYLOAD };
      });
      const before = store.writer.head.segment;
      const started = performance.now();
      await store.insert(jobs, false);
      const ms = performance.now() - started;
      (store.writer.head.segment !== before ? rolls : rest).push(ms);
      const due = t0 + (store.writer.appendedBytes / MIB / mibPerSecond) * 1000;
      if (due > performance.now()) await new Promise((r) => setTimeout(r, due - performance.now()));
    }
    const segs = fs.readdirSync(path.join(dir, "segments")).filter((f) => !f.startsWith("spare"));
    const last = fs.statSync(path.join(dir, "segments", segs.sort().at(-1)!)).size / MIB;
    return `background sync ${background ? "on " : "off"}: ${rolls.length} rolls (last segment ${last} MiB), roll inserts p50 ${percentile(rolls, 50).toFixed(1)} / max ${Math.max(...rolls).toFixed(1)} ms; other inserts p50 ${percentile(rest, 50).toFixed(2)} / p99 ${percentile(rest, 99).toFixed(2)} / max ${Math.max(...rest).toFixed(1)} ms`;
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

for (let r = 0; r < rounds; r++) {
  for (const background of [false, true]) console.log(await run(background));
}
