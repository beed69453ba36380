// Runs test/crash/storage-crash.test.ts over and over with fresh seeds, optionally beside
// CPU hogs, and tallies passes and failures (issue 12: the seed-728304187 failure). Each
// failure's output is kept so its seed replays with ZIZQ_SEED.
//
//   node --import tsx bench/reliability/crash-loop.ts [--runs 1000] [--jobs 1] [--load 0]
//        [--child path/to/other-child.ts] [--out dir]

import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { ROOT } from "./_harness.ts";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "1000" },
    jobs: { type: "string", default: "1" },
    load: { type: "string", default: "0" },
    child: { type: "string" },
    out: { type: "string", default: path.join(ROOT, ".reliability", "crash-loop") },
  },
});
const runs = Number(values.runs);
const jobs = Number(values.jobs);
fs.mkdirSync(values.out!, { recursive: true });

// Load: busy loops in separate processes, so the kills land on a starved machine.
const hogs: ChildProcess[] = [];
for (let i = 0; i < Number(values.load); i++) {
  hogs.push(spawn(process.execPath, ["-e", "for(;;){}"], { stdio: "ignore" }));
}
const stopHogs = () => { for (const h of hogs) h.kill("SIGKILL"); };
process.on("exit", stopHogs);
process.on("SIGINT", () => process.exit(130));

let started = 0;
let passed = 0;
const failures: { seed: number; file: string; first: string }[] = [];

function runOnce(): Promise<void> {
  const seed = Math.floor(Math.random() * 2 ** 31);
  const env: NodeJS.ProcessEnv = { ...process.env, ZIZQ_SEED: String(seed) };
  if (values.child) env.ZIZQ_CRASH_CHILD = path.resolve(values.child);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "--test", "test/crash/storage-crash.test.ts"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (c) => { out += c; });
    child.stderr.on("data", (c) => { out += c; });
    child.on("close", (code) => {
      if (code === 0) passed++;
      else {
        const file = path.join(values.out!, `fail-${seed}.txt`);
        fs.writeFileSync(file, out);
        const first = /error: '([^']*)'/.exec(out)?.[1] ?? /Error: ([^\n]*)/.exec(out)?.[1] ?? `exit ${code}`;
        failures.push({ seed, file, first });
        console.log(`FAIL seed ${seed}: ${first}`);
      }
      resolve();
    });
  });
}

const t0 = Date.now();
await Promise.all(Array.from({ length: jobs }, async () => {
  while (started < runs) {
    started++;
    await runOnce();
    const done = passed + failures.length;
    if (done % 10 === 0) console.log(`${done}/${runs} runs, ${failures.length} failed, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }
}));
stopHogs();
const summary = { runs: passed + failures.length, passed, failed: failures.length, load: Number(values.load), jobs, child: values.child ?? "test/helpers/storage-crash-child.ts", seconds: Math.round((Date.now() - t0) / 1000), failures };
console.log(JSON.stringify(summary));
fs.writeFileSync(path.join(values.out!, `summary-${Date.now()}.json`), JSON.stringify(summary, null, 2));
