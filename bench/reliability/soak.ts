// Part "soak": mixed load for a long time (30 minutes by default) with the server's RSS
// sampled every minute. Enqueues (single and bulk), two take streams acking most jobs
// and nacking some (retried a second later), deletes, patches, lists and counts; the
// backlog is held near a fixed size, so a flat RSS is what a leak-free server shows.
// Reported: the samples, the growth over the run after the first sample, and the slope.

import { openTake, req } from "../../test/http/_client.ts";
import { prng } from "../../test/helpers/random.ts";
import { tmpDir } from "../../test/helpers/tmp.ts";
import { round, rssMb, start } from "./_harness.ts";

export interface SoakOptions {
  minutes: number;
  seed: number;
  /** RSS sample interval. @default 60000 */
  sampleMs?: number;
  /** Backlog the enqueuers hold. @default 3000 */
  backlog?: number;
  log?: (line: string) => void;
  /** More `zizq serve` flags (e.g. `--cache-size 4MB`). */
  serverArgs?: string[];
}

export interface SoakResult {
  minutes: number;
  operations: number;
  errors: number;
  rssMb: number[];
  /** V8 heap used (MiB) and jobs held, from admin /stats, at the same moments (less the last). */
  heapMb: number[];
  jobs: number[];
  /** Last sample minus the first, in MiB and percent. */
  growthMb: number;
  growthPct: number;
  /** Least-squares slope over the samples, MiB per hour. */
  slopeMbPerHour: number;
}

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const random = prng(options.seed);
  const sampleMs = options.sampleMs ?? 60_000;
  const backlog = options.backlog ?? 3000;
  const dir = tmpDir("zizq-rel-soak-");
  const { server } = await start(dir, ["--segment-size", "4MiB", ...options.serverArgs ?? []]);
  const pid = server.child.pid!;
  const endAt = performance.now() + options.minutes * 60_000;
  const over = () => performance.now() >= endAt;
  let operations = 0;
  let errors = 0;
  let live = 0;
  const ids: string[] = [];
  const ok = (status: number | undefined, ...expected: number[]) => {
    if (status !== undefined && expected.includes(status)) operations++;
    else errors++;
  };
  // Enqueuers wait for the backlog to shrink: a promise resolved by the workers.
  let wake: () => void = () => {};
  let shrunk = new Promise<void>((r) => { wake = r; });
  const drained = () => { const w = wake; shrunk = new Promise<void>((r) => { wake = r; }); w(); };

  const enqueuer = async () => {
    while (!over()) {
      if (live >= backlog) { await Promise.race([shrunk, new Promise((r) => setTimeout(r, 1000))]); continue; }
      const k = random() < 0.2 ? 20 : 1;
      const jobs = Array.from({ length: k }, () => ({ type: "soak", queue: `s${Math.floor(random() * 4)}`, priority: Math.floor(random() * 100), payload: { r: random(), s: "x".repeat(Math.floor(random() * 500)) } }));
      const r = k === 1 ? await req(server.url, "POST", "/jobs", jobs[0]) : await req(server.url, "POST", "/jobs/bulk", { jobs });
      ok(r.status, 201);
      if (r.status === 201) {
        live += k;
        for (const j of k === 1 ? [r.body!] : r.body!.jobs) if (ids.length < 5000) ids.push(j.id); else ids[Math.floor(random() * ids.length)] = j.id;
      }
    }
  };
  const worker = async () => {
    while (!over()) {
      const stream = await openTake(server.url, "prefetch=16", {}, 60_000);
      // A fresh stream every 500 jobs, as workers restart.
      for (let i = 0; i < 500 && !over(); i++) {
        const job = await stream.job(i, 5_000).catch(() => undefined);
        if (!job) break;
        if (random() < 0.9) {
          const s = (await req(server.url, "POST", `/jobs/${job.id}/success`)).status;
          ok(s, 204, 404);
          // A 404 is a job the manager deleted meanwhile: it already left the backlog there.
          if (s === 204) { live--; drained(); }
        } else {
          ok((await req(server.url, "POST", `/jobs/${job.id}/failure`, { message: "soak", retry_at: Date.now() + 1000 })).status, 200, 404);
        }
      }
      await stream.close();
    }
  };
  const manager = async () => {
    while (!over()) {
      const id = ids[Math.floor(random() * ids.length)];
      const r = random();
      if (!id) { await new Promise((res) => setTimeout(res, 100)); continue; }
      if (r < 0.3) {
        const s = (await req(server.url, "DELETE", `/jobs/${id}`)).status;
        ok(s, 204, 404);
        if (s === 204) { live--; drained(); }
      } else if (r < 0.6) ok((await req(server.url, "PATCH", `/jobs/${id}`, { priority: Math.floor(random() * 100) })).status, 200, 404, 422);
      else if (r < 0.8) ok((await req(server.url, "GET", `/jobs?limit=100&queue=s${Math.floor(random() * 4)}`)).status, 200);
      else ok((await req(server.url, "GET", "/jobs/count?status=ready")).status, 200);
    }
  };

  const samples: number[] = [rssMb(pid)];
  // The V8 heap and the job count beside RSS (admin /stats): a leak grows the heap or the
  // table, where the payload cache filling toward --cache-size grows RSS alone.
  const heapMb: number[] = [];
  const jobs: number[] = [];
  const inner = async () => {
    const r = server.adminUrl ? await req(server.adminUrl, "GET", "/stats").catch(() => undefined) : undefined;
    const stats = r?.status === 200 ? r.body as { server: { heap_used_bytes: number }; counts: Record<string, number> } : undefined;
    heapMb.push(stats ? round(stats.server.heap_used_bytes / 2 ** 20) : NaN);
    jobs.push(stats ? Object.values(stats.counts).reduce((a, b) => a + b, 0) : NaN);
  };
  await inner();
  const sampler = setInterval(() => {
    samples.push(rssMb(pid));
    void inner().then(() => {
      options.log?.(`soak: minute ${round((samples.length - 1) * sampleMs / 60_000)}, rss ${round(samples[samples.length - 1])} MiB, heap ${heapMb[heapMb.length - 1]} MiB, ${jobs[jobs.length - 1]} jobs, ${operations} ops, ${errors} errors, backlog ${live}`);
    });
  }, sampleMs);
  await Promise.all([enqueuer(), enqueuer(), worker(), worker(), manager()]);
  clearInterval(sampler);
  samples.push(rssMb(pid));
  await server.stop();

  // Drift is judged after the first sample: the first minute fills caches and the heap.
  const tail = samples.slice(1);
  const xs = tail.map((_, i) => (i * sampleMs) / 3_600_000);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = tail.reduce((a, b) => a + b, 0) / tail.length;
  const slope = xs.reduce((a, x, i) => a + (x - mx) * (tail[i] - my), 0) / Math.max(1e-9, xs.reduce((a, x) => a + (x - mx) ** 2, 0));
  return {
    minutes: options.minutes,
    operations,
    errors,
    rssMb: samples.map((s) => round(s)),
    heapMb,
    jobs,
    growthMb: round(tail[tail.length - 1] - tail[0]),
    growthPct: round(((tail[tail.length - 1] - tail[0]) / tail[0]) * 100),
    slopeMbPerHour: round(slope),
  };
}
