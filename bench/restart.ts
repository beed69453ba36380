// RESTART: time from spawning `zizq serve` after a kill -9 to its first /health answer,
// with the checkpoint (as it is after the kill) and without it (deleted: the full scan
// every segment), in the same run, 5 restarts each (--quick 3), medians.
//   - "25k live + 125k history" (issue 12): 150k jobs enqueued, 125k of them deleted;
//   - "1M live": 1M jobs (--quick 200k).
// The server is killed -9 each time, so the checkpoint used is the one written in the
// background (the load is followed by 6 s of idle time: the timer writes one).

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnServer } from "../test/helpers/server.ts";
import { type BenchOptions, type Row, diskBytes, median, preload, readMemory, request, sleep } from "./_lib.ts";
import http from "node:http";

async function timeRestart(dir: string): Promise<{ ms: number; rssMb: number; recovered: string }> {
  const started = performance.now();
  const server = await spawnServer(dir, ["--no-admin"], 120_000);
  const agent = new http.Agent({ keepAlive: false });
  const health = await request(agent, `${server.url}/health`, "GET");
  const ms = performance.now() - started;
  if (health.status !== 200) throw new Error(`/health answered ${health.status}`);
  const rssMb = readMemory(server.child.pid!).rssMb;
  const line = server.logs().split("\n").find((l) => l.includes('"recovered"')) ?? "";
  const from = (/"from":"(\w+)"/.exec(line)?.[1] ?? "?") + (/"why":"([^"]*)"/.exec(line)?.[1] ? `: ${/"why":"([^"]*)"/.exec(line)![1]}` : "");
  await server.kill9();
  return { ms, rssMb, recovered: from };
}

async function scenario(name: string, load: (url: string) => Promise<void>, runs: number): Promise<Row[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zizq-bench-restart-"));
  try {
    const first = await spawnServer(dir, ["--no-admin"], 60_000);
    await load(first.url);
    const loaded = Date.now();
    const ckpt = path.join(dir, "checkpoint");
    // The background timer writes a checkpoint (checked every 5 s, after 1 MiB appended).
    for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
      if (fs.existsSync(ckpt) && fs.statSync(ckpt).mtimeMs > loaded) break;
      await sleep(200);
    }
    await first.kill9();
    const saved = fs.existsSync(ckpt) ? fs.readFileSync(ckpt) : undefined;
    const withCkpt: number[] = [];
    const without: number[] = [];
    let rss = { with: 0, without: 0 };
    let from = "";
    for (let i = 0; i < runs; i++) {
      if (saved) fs.writeFileSync(ckpt, saved);
      const a = await timeRestart(dir);
      withCkpt.push(a.ms);
      rss.with = a.rssMb;
      from = a.recovered;
      fs.rmSync(ckpt, { force: true });
      const b = await timeRestart(dir);
      without.push(b.ms);
      rss.without = b.rssMb;
    }
    const disk = diskBytes(dir) / 1e6;
    return [
      { workload: `RESTART ${name}`, mode: `checkpoint (${from})`, p50Ms: median(withCkpt), target: name.startsWith("25k") ? "median ≤ 1,000 ms" : "-",
        pass: name.startsWith("25k") ? median(withCkpt) <= 1000 : undefined, measured: `max ${Math.max(...withCkpt).toFixed(0)} ms, ${runs} runs`,
        peakRssMb: rss.with, diskMb: disk },
      { workload: `RESTART ${name}`, mode: "full scan", p50Ms: median(without), target: "-", measured: `max ${Math.max(...without).toFixed(0)} ms`,
        peakRssMb: rss.without, diskMb: disk },
    ];
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function restart(opts: BenchOptions): Promise<Row[]> {
  const runs = opts.quick ? 3 : 5;
  const rows = await scenario("25k live + 125k history", async (url) => {
    await preload(url, "history", 125_000);
    await preload(url, "live", 25_000, 1000, 4, 125_000);
    const agent = new http.Agent({ keepAlive: true });
    const r = await request(agent, `${url}/jobs?queue=history`, "DELETE");
    agent.destroy();
    if (r.status >= 300) throw new Error(`DELETE answered ${r.status}`);
  }, runs);
  const big = opts.quick ? 200_000 : 1_000_000;
  rows.push(...await scenario(`${big / 1000}k live`, (url) => preload(url, "live", big), runs));
  return rows;
}
