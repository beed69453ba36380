// The cost of one cron tick of a big group: N entries, all due each second, fired on a
// manual clock against a real store (no HTTP). A tick writes the group's jobs and its
// advanced schedule in one transaction; writing per entry packed the whole group each
// time (n² work: 2.5–3 s of CPU at 1,000 entries).
//
//   node --import tsx bench/cron-tick.ts [entries=1000] [ticks=4]

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ManualClock } from "../lib/queue/clock.ts";
import { createQueue } from "../lib/queue/queue.ts";
import { openStore } from "../lib/storage/store.ts";

const entries = Number(process.argv[2] ?? 1000);
const ticks = Number(process.argv[3] ?? 4);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zizq-bench-cron-"));
const clock = new ManualClock(1_700_000_000_000);
const store = await openStore({ dir, now: () => clock.now() });
const queue = createQueue(store, { clock, reaperIntervalMs: 0 });
try {
  await queue.crons.putGroup("big", {
    entries: Array.from({ length: entries }, (_, i) => ({ name: `e${i}`, expression: "* * * * * *", job: { type: "t", queue: "q", payload: { i } } })),
  });
  for (let k = 0; k < ticks; k++) {
    clock.advance(1000);
    const cpu = process.cpuUsage();
    const started = performance.now();
    const fired = await queue.cronScheduler.tick();
    const used = process.cpuUsage(cpu);
    console.log(`tick ${k}: ${fired} jobs, ${(performance.now() - started).toFixed(0)} ms wall, ${((used.user + used.system) / 1000).toFixed(0)} ms CPU`);
  }
} finally {
  queue.stop();
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
