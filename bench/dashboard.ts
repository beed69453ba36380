// D: the admin listener's extensions at 1M jobs (--quick 200k) in 10 queues: GET /metrics
// scrape time (target ≤ 5 ms: O(queues)), the dashboard's first load to interactive in a
// fresh browser profile (≤ 1 s), a live update reaching the page (≤ 1 s after the
// enqueue is acknowledged), and W3 beside an open dashboard against W3 with the admin
// listener idle (server CPU per job, ≤ 5% more; dashboardUnderW3 below: judged on the
// dashboard's traffic replayed without a browser). Headless Debian chromium.

import http from "node:http";
import type { Browser, Page } from "playwright-core";
import { launchChromium } from "../test/helpers/browser.ts";
import { type BenchOptions, type Row, cpuMicros, descendantCpuMicros, percentile, preload, request, startZizq } from "./_lib.ts";
import { type DashboardTraffic, replayDashboard } from "./dashboard-replay.ts";
import { type W3Watcher, w3 } from "./w3.ts";

const QUEUES = 10;

/** Enqueue 20 jobs every 10 ms into `churn` for `ms`, taking and acking them as they come. */
async function churn(url: string, ms: number): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const ids: string[] = [];
  const take = http.get(`${url}/jobs/take?queue=churn&prefetch=500`, { headers: { accept: "application/x-ndjson" } }, (res) => {
    let buf = "";
    res.on("data", (c: Buffer) => {
      buf += c.toString();
      const lines = buf.split("\n");
      buf = lines.pop()!;
      for (const line of lines) if (line.trim()) ids.push((JSON.parse(line) as { id: string }).id);
    });
    res.on("error", () => {});
  });
  take.on("error", () => {});
  const body = JSON.stringify({ jobs: Array.from({ length: 20 }, (_, i) => ({ type: "churn", queue: "churn", payload: { i } })) });
  const end = performance.now() + ms;
  let next = performance.now();
  let enqueued = 0;
  while (performance.now() < end) {
    enqueued += 20;
    const work: Promise<unknown>[] = [request(agent, `${url}/jobs/bulk`, "POST", body, { "content-type": "application/json" })];
    if (ids.length > 0) work.push(request(agent, `${url}/jobs/success`, "POST", JSON.stringify({ ids: ids.splice(0) }), { "content-type": "application/json" }));
    await Promise.all(work);
    next += 10;
    await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
  }
  take.destroy();
  agent.destroy();
  return enqueued;
}

/** Waits until the overview shows counts, chart and a live stream; returns when, on the page's clock. */
async function interactive(page: Page): Promise<number> {
  const handle = await page.waitForFunction(() => {
    const w = window as unknown as { __interactiveAt?: number };
    if (w.__interactiveAt === undefined && document.documentElement.dataset.ready === "1"
      && document.querySelector("[data-live=connected]") !== null
      && (document.querySelector(".card [data-count=ready]")?.textContent ?? "–") !== "–"
      && document.querySelector(".chart canvas") !== null) w.__interactiveAt = performance.now();
    return w.__interactiveAt;
  }, undefined, { timeout: 30_000, polling: "raf" });
  return (await handle.jsonValue()) as number;
}

export async function dashboard(opts: BenchOptions): Promise<Row[]> {
  const total = opts.quick ? 200_000 : 1_000_000;
  const rows: Row[] = [];
  const zizq = await startZizq("dashboard", opts, [], {}, true);
  const admin = zizq.adminUrl!;
  for (let q = 0; q < QUEUES; q++) await preload(zizq.url, `q${q}`, total / QUEUES, 1000, 4, q * (total / QUEUES));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

  // /metrics and /stats: sequential scrapes, timed at the client (includes the HTTP hop),
  // and the server's CPU time per scrape (/proc), which a busy machine inflates less.
  for (const [path, target] of [["/metrics", 5], ["/stats", undefined]] as const) {
    const ms: number[] = [];
    let bytes = 0;
    let cpuFrom = 0;
    for (let i = 0; i < 110; i++) {
      if (i === 10) cpuFrom = cpuMicros(zizq.pid);
      const r = await request(agent, admin + path, "GET");
      if (r.status !== 200) throw new Error(`${path}: HTTP ${r.status}`);
      bytes = r.body.length;
      if (i >= 10) ms.push(r.ms);
    }
    const cpuMs = (cpuMicros(zizq.pid) - cpuFrom) / 100 / 1000;
    rows.push({
      workload: `${path} at ${total / 1e6}M jobs`, mode: `${QUEUES} queues`, p50Ms: percentile(ms, 50), p99Ms: percentile(ms, 99),
      target: target ? `≤ ${target} ms` : "-", pass: target ? cpuMs <= target : undefined,
      measured: `server CPU ${cpuMs.toFixed(2)} ms/scrape, ${bytes} bytes, 100 scrapes`,
    });
  }

  const browser = await launchChromium();
  try {
    // First load to interactive: a fresh context each time, so nothing is cached.
    const loads: number[] = [];
    for (let i = 0; i < 5; i++) {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${admin}/`);
      // Navigation start → interactive, on the page's own clock (excludes making the
      // browser context, includes HTML, assets, /stats, the chart and the WebSocket).
      loads.push(await interactive(page));
      await context.close();
    }
    const loadP50 = percentile(loads, 50);
    rows.push({
      workload: `dashboard first load at ${total / 1e6}M jobs`, mode: "fresh profile", p50Ms: loadP50, p99Ms: Math.max(...loads),
      target: "≤ 1 s", pass: loadP50 <= 1000, measured: "navigation start → counts, chart and live stream shown; p99 column = worst of 5",
    });

    // Paging at 1M jobs: the ready list (an /events window, by offset) and a filtered
    // view (GET /jobs with cursors), 5 pages each with the n key, until the first row changes.
    for (const [hash, what] of [["#/jobs?status=ready", "ready list (live window)"], ["#/jobs?status=ready&queue=q3", "filtered (GET /jobs + count)"]] as const) {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${admin}/${hash}`);
      await page.waitForFunction(() => document.querySelectorAll("tr[data-id]").length === 50, undefined, { timeout: 60_000 })
        .catch((err) => { throw new Error(`${what}: first page: ${(err as Error).message}`); });
      const pages: number[] = [];
      for (let i = 0; i < 5; i++) {
        const first = await page.getAttribute("tr[data-id]", "data-id");
        const started = performance.now();
        await page.keyboard.press("n");
        await page.waitForFunction((f) => {
          const rows = document.querySelectorAll("tr[data-id]");
          return rows.length === 50 && rows[0].getAttribute("data-id") !== f;
        }, first, { timeout: 60_000, polling: "raf" }).catch(async (err) => {
          throw new Error(`${what}: page ${i + 2}: ${(err as Error).message}; shows ${await page.textContent("[data-total-count]")}, error ${await page.textContent("[data-error]").catch(() => "none")}`);
        });
        pages.push(performance.now() - started);
      }
      rows.push({
        workload: `next page at ${total / 1e6}M jobs`, mode: what, p50Ms: percentile(pages, 50), p99Ms: Math.max(...pages),
        target: "-", measured: "key press → 50 new rows shown; p99 column = worst of 5",
      });
      await context.close();
    }

    // Live update: enqueue, and time until the overview shows the new ready count.
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${admin}/`);
    await interactive(page);
    const lags: number[] = [];
    for (let i = 0; i < 10; i++) {
      const before = await page.textContent('tr[data-queue="q0"] td[data-count="ready"]');
      const r = await request(agent, `${zizq.url}/jobs`, "POST", '{"type":"live","queue":"q0","payload":1}', { "content-type": "application/json" });
      const acked = performance.now();
      if (r.status !== 201) throw new Error(`enqueue: HTTP ${r.status}`);
      await page.waitForFunction((b) => document.querySelector('tr[data-queue="q0"] td[data-count="ready"]')?.textContent !== b, before, { timeout: 30_000, polling: "raf" });
      lags.push(performance.now() - acked);
    }
    const lagP50 = percentile(lags, 50);
    rows.push({
      workload: "dashboard live update", mode: "overview", p50Ms: lagP50, p99Ms: Math.max(...lags),
      target: "≤ 1 s", pass: Math.max(...lags) <= 1000, measured: "enqueue acknowledged → count on the page; p99 column = worst of 10",
    });
    await context.close();

    // Steady churn on the 1M-job server (2,000 jobs/s enqueued, taken and acked, the same
    // work in every phase), with and without an open dashboard: the difference in server
    // CPU per second is the dashboard's cost, whatever else the machine is doing.
    const phase = async (withPage: boolean) => {
      const ctx = withPage ? await browser.newContext() : undefined;
      if (ctx) {
        const p = await ctx.newPage();
        await p.goto(`${admin}/`);
        await interactive(p);
      }
      const cpu0 = cpuMicros(zizq.pid);
      const t0 = performance.now();
      const jobs = await churn(zizq.url, 8000);
      const seconds = (performance.now() - t0) / 1000;
      const cpuMs = (cpuMicros(zizq.pid) - cpu0) / 1000;
      await ctx?.close();
      return { msPerS: cpuMs / seconds, usPerJob: (cpuMs * 1000) / jobs, jobsPerS: jobs / seconds };
    };
    const without: { msPerS: number; usPerJob: number; jobsPerS: number }[] = [];
    const withPage: typeof without = [];
    for (let i = 0; i < 2; i++) {
      without.push(await phase(false));
      withPage.push(await phase(true));
    }
    // The busy machine may not keep the 2,000 jobs/s in both phases: compare CPU at the
    // same work, the baseline's CPU per job times the dashboard phase's job rate.
    const m = (xs: typeof without, f: (x: (typeof without)[number]) => number) => percentile(xs.map(f), 50);
    const extra = m(withPage, (x) => x.msPerS) - (m(without, (x) => x.usPerJob) * m(withPage, (x) => x.jobsPerS)) / 1000;
    rows.push({
      workload: "dashboard's server CPU under churn", mode: "≤ 2,000 jobs/s", target: "≤ 5% of a core (W3 saturates one)", pass: extra <= 50,
      measured: `${extra.toFixed(1)} ms/s = ${(extra / 10).toFixed(1)}% (without: ${m(without, (x) => x.msPerS).toFixed(0)} ms CPU/s at ${m(without, (x) => x.jobsPerS).toFixed(0)} jobs/s; with: ${m(withPage, (x) => x.msPerS).toFixed(0)} at ${m(withPage, (x) => x.jobsPerS).toFixed(0)}; medians of 2)`,
    });
  } finally {
    agent.destroy();
    await browser.close();
    await zizq.stop();
  }
  rows.push(...(await dashboardUnderW3(opts)));
  return rows;
}

/** One W3 run beside a watcher, with what the watcher itself did. */
interface WatchedRun {
  serverUs: number;
  opsPerSec: number;
  /** Every Chromium process's CPU (both browsers), % of one core over the run; NaN for none. */
  watcherPct: number;
  traffic?: DashboardTraffic;
}

/** Chromium with the overview open, its requests and frames counted, its CPU read from /proc. */
function pageWatcher(label: string, browser: Browser, note: (n: Omit<WatchedRun, "serverUs" | "opsPerSec">) => void): W3Watcher {
  return {
    label,
    open: async (adminUrl, serverPid) => {
      const context = await browser.newContext();
      const page = await context.newPage();
      const traffic: DashboardTraffic = { stats: 0, api: 0, framesIn: 0, framesOut: 0 };
      page.on("request", (r) => {
        const path = new URL(r.url()).pathname;
        if (path === "/stats") traffic.stats++;
        else if (path.startsWith("/api/")) traffic.api++;
      });
      page.on("websocket", (ws) => {
        ws.on("framereceived", () => traffic.framesIn++);
        ws.on("framesent", () => traffic.framesOut++);
      });
      await page.goto(`${adminUrl}/`);
      await interactive(page);
      const from = { ...traffic };
      const cpu0 = descendantCpuMicros([serverPid]);
      const t0 = performance.now();
      return async () => {
        const pct = (descendantCpuMicros([serverPid]) - cpu0) / ((performance.now() - t0) * 1000) * 100;
        note({
          watcherPct: pct,
          traffic: { stats: traffic.stats - from.stats, api: traffic.api - from.api, framesIn: traffic.framesIn - from.framesIn, framesOut: traffic.framesOut - from.framesOut },
        });
        await context.close();
      };
    },
  };
}

/**
 * W3 beside an open dashboard, four ways, alternated round by round: the admin listener
 * idle (the baseline); the dashboard's traffic replayed from Node with no rendering
 * (bench/dashboard-replay.ts: the server's cost alone, which judges the ≤ 5% target);
 * the real page in Chromium at nice 19 (the same traffic, the browser kept off the
 * server's CPU share); and the real page at normal priority (the first measurement,
 * which also counts Chromium competing with the server and the load for the 2 cores).
 */
export async function dashboardUnderW3(opts: BenchOptions): Promise<Row[]> {
  const rounds = opts.quick ? 2 : 3;
  const [normal, niced] = await Promise.all([launchChromium(), launchChromium(19)]);
  let last: Omit<WatchedRun, "serverUs" | "opsPerSec"> = { watcherPct: NaN };
  const note = (n: typeof last) => { last = n; };
  const variants: { key: string; watcher: W3Watcher; target?: boolean }[] = [
    { key: "admin idle", watcher: { label: "admin idle", open: async () => async () => {} } },
    {
      key: "dashboard traffic replayed (Node, no rendering)", target: true,
      watcher: { label: "replay", open: async (adminUrl) => { const stop = await replayDashboard(adminUrl); return async () => note({ watcherPct: NaN, traffic: await stop() }); } },
    },
    { key: "dashboard open, Chromium at nice 19", watcher: pageWatcher("dashboard open nice", niced, note) },
    { key: "dashboard open, Chromium at normal priority", watcher: pageWatcher("dashboard open", normal, note) },
  ];
  const runs = new Map<string, WatchedRun[]>(variants.map((v) => [v.key, []]));
  const serverUs = (row: Row) => Number(/server CPU ([\d.]+) µs\/job/.exec(row.measured ?? "")?.[1] ?? NaN);
  try {
    // Alternate: the machine is shared and drifts, so every variant sees every period.
    for (let i = 0; i < rounds; i++) {
      for (const v of variants) {
        last = { watcherPct: NaN };
        const row = await w3(opts, "buffered", "json", { name: v.watcher.label, watcher: v.watcher });
        runs.get(v.key)!.push({ serverUs: serverUs(row), opsPerSec: row.opsPerSec ?? NaN, ...last });
      }
    }
  } finally {
    await Promise.all([normal.close(), niced.close()]);
  }
  const med = (rs: WatchedRun[], f: (r: WatchedRun) => number) => percentile(rs.map(f), 50);
  const idleUs = med(runs.get("admin idle")!, (r) => r.serverUs);
  return variants.map((v) => {
    const rs = runs.get(v.key)!;
    const us = med(rs, (r) => r.serverUs);
    const extra = (us / idleUs - 1) * 100;
    const seconds = rs.map((r) => (opts.quick ? 30_000 : 100_000) / r.opsPerSec).reduce((a, b) => a + b, 0);
    const per = (f: (t: DashboardTraffic) => number) => (rs.reduce((a, r) => a + (r.traffic ? f(r.traffic) : 0), 0) / seconds).toFixed(1);
    const parts = [`server CPU ${us.toFixed(1)} µs/job (median of ${rs.length}: ${rs.map((r) => r.serverUs.toFixed(1)).join(", ")})`];
    if (v.key !== "admin idle") parts.push(`${extra >= 0 ? "+" : ""}${extra.toFixed(1)}% vs idle`);
    if (rs[0].traffic) parts.push(`per s: ${per((t) => t.stats)} /stats, ${per((t) => t.api)} /api, ${per((t) => t.framesIn)} frames in, ${per((t) => t.framesOut)} out`);
    if (!Number.isNaN(rs[0].watcherPct)) parts.push(`Chromium ${med(rs, (r) => r.watcherPct).toFixed(0)}% of a core`);
    return {
      workload: `W3 take+ack, ${v.key}`, mode: "buffered", opsPerSec: med(rs, (r) => r.opsPerSec),
      target: v.target ? "≤ +5% server CPU" : v.key === "admin idle" ? "-" : "(reported)",
      pass: v.target ? extra <= 5 : undefined,
      measured: parts.join("; "),
    };
  });
}
