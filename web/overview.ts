// Overview: every queue with counts by status and paused state (pause/resume with a
// confirmation), the 15-minute throughput chart, wait p50/p99 and server facts. Live:
// refetches /stats soon after changes on the event stream (at most every 500 ms), and
// once a second while the stream is quiet (the chart and uptime move on their own).

import { useEffect, useRef, useState } from "preact/hooks";
import { type Json, api, stats } from "./api.ts";
import { ThroughputChart } from "./chart.ts";
import { type Ctx, useKeys, useLiveRefresh } from "./context.ts";
import { bytes, count, duration, html } from "./ui.ts";

const STATUSES = ["in_flight", "ready", "scheduled", "completed", "dead"] as const;
const TITLES: Record<string, string> = { in_flight: "In flight", ready: "Ready", scheduled: "Scheduled", completed: "Completed", dead: "Dead" };

export function Overview({ ctx }: { ctx: Ctx }) {
  const [data, setData] = useState<Json>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [selected, setSelected] = useState(0);
  // The whole 15-minute ring once, then the last few seconds merged in: each refresh
  // stays a few hundred bytes for the server to build, not 900 buckets × 5 series.
  const ring = useRef<Json>(undefined);
  const latest = useRef(0);
  const lastAt = useRef(0);
  const refresh = async () => {
    const seq = ++latest.current;
    lastAt.current = Date.now();
    try {
      const d = await stats(ring.current ? 5 : 900);
      if (seq !== latest.current) return;
      ring.current = ring.current ? mergeRing(ring.current, d.throughput) : d.throughput;
      setData({ ...d, throughput: ring.current });
      setError(undefined);
    } catch (e) {
      setError((e as Error).message);
    }
  };
  useEffect(() => {
    void refresh();
    // Under load the live refreshes below already come twice a second: a timer poll on
    // top would only add /stats requests for the server to answer.
    const timer = setInterval(() => { if (Date.now() - lastAt.current >= 900) void refresh(); }, 1000);
    return () => clearInterval(timer);
  }, []);
  useLiveRefresh(ctx, refresh, 500, []);
  const queues: Json[] = data?.queues ?? [];
  const togglePause = (q: Json) => {
    const verb = q.paused ? "resume" : "pause";
    ctx.confirm({
      title: `${q.paused ? "Resume" : "Pause"} queue ${q.name}?`,
      detail: q.paused ? "Take streams will receive its jobs again." : "Take streams skip it; enqueues are still accepted and jobs in flight finish.",
      action: q.paused ? "Resume" : "Pause",
      run: async () => {
        await api("POST", `/queues/${encodeURIComponent(q.name)}/${verb}`);
        ctx.notify(`queue ${q.name} ${q.paused ? "resumed" : "paused"}`);
        await refresh();
      },
    });
  };
  useKeys(ctx, (e) => {
    if (e.key === "j" || e.key === "ArrowDown") setSelected((s) => Math.min(s + 1, queues.length - 1));
    else if (e.key === "k" || e.key === "ArrowUp") setSelected((s) => Math.max(s - 1, 0));
    else if (e.key === "p" && queues[selected]) togglePause(queues[selected]);
    else if (e.key === "Enter" && queues[selected]) ctx.navigate(`#/jobs?queue=${encodeURIComponent(queues[selected].name)}&status=ready`);
    else return false;
    return true;
  });
  const server = data?.server;
  const wait = (i: number) => data?.wait?.[i];
  const ms = (v: number | null | undefined) => (v === null || v === undefined ? "–" : v >= 1000 ? duration(v) : `${v} ms`);
  return html`<section class="page overview">
    ${error ? html`<p class="error" role="alert">${error}</p>` : null}
    <div class="cards">
      ${STATUSES.map((s) => html`<a class=${`card status-${s}`} href=${`#/jobs?status=${s}`} data-total=${s}>
        <span class="label">${TITLES[s]}</span><span class="value" data-count=${s}>${count(data?.counts?.[s])}</span></a>`)}
    </div>
    <div class="grid2">
      <div class="panel">
        <h2>Throughput <span class="muted">last 15 min, per second</span></h2>
        <${ThroughputChart} series=${data?.throughput} />
      </div>
      <div class="panel facts">
        <h2>Server</h2>
        <dl>
          <dt>Version</dt><dd data-fact="version">${server?.version ?? "–"}</dd>
          <dt>Uptime</dt><dd data-fact="uptime">${server ? duration(server.uptime_ms) : "–"}</dd>
          <dt>Commit mode</dt><dd data-fact="commit">${server?.commit_mode ?? "–"}${server?.enqueue_commit_mode ? ` (enqueue: ${server.enqueue_commit_mode})` : ""}</dd>
          <dt>Disk used</dt><dd data-fact="disk">${bytes(server?.disk_bytes)}</dd>
          <dt>RSS</dt><dd data-fact="rss">${bytes(server?.rss_bytes)}</dd>
          <dt>Take streams</dt><dd>${count(server?.take_streams)}</dd>
          <dt>Wait p50 / p99 (1 min)</dt><dd data-fact="wait">${ms(wait(0)?.p50_ms)} / ${ms(wait(0)?.p99_ms)}</dd>
          <dt>Wait p50 / p99 (15 min)</dt><dd>${ms(wait(1)?.p50_ms)} / ${ms(wait(1)?.p99_ms)}</dd>
        </dl>
      </div>
    </div>
    <div class="panel">
      <h2>Queues <span class="muted">j/k select · Enter jobs · p pause/resume</span></h2>
      <table class="queues">
        <thead><tr><th>Queue</th><th>State</th>${STATUSES.map((s) => html`<th class="num">${TITLES[s]}</th>`)}<th class="num">Enqueued</th><th></th></tr></thead>
        <tbody>
          ${queues.length === 0 ? html`<tr><td colspan="9" class="muted">No queues yet.</td></tr>` : null}
          ${queues.map((q, i) => html`<tr class=${i === selected ? "selected" : ""} data-queue=${q.name} onClick=${() => setSelected(i)}>
            <td><a href=${`#/jobs?queue=${encodeURIComponent(q.name)}`}>${q.name}</a></td>
            <td>${q.paused ? html`<span class="badge paused">paused</span>` : html`<span class="badge running">running</span>`}</td>
            ${STATUSES.map((s) => html`<td class="num" data-count=${s}>${count(q.counts[s])}</td>`)}
            <td class="num">${count(q.totals.enqueued)}</td>
            <td><button type="button" class="small" data-action="pause" onClick=${() => togglePause(q)}>${q.paused ? "Resume" : "Pause"}</button></td>
          </tr>`)}
        </tbody>
      </table>
    </div>
  </section>`;
}

const SERIES = ["enqueued", "completed", "failed", "dead", "retried"] as const;

/** Slide the 900-second ring to `recent`'s end and overwrite the seconds it covers. */
function mergeRing(ring: Json, recent: Json): Json {
  const seconds = ring.seconds as number;
  const endS = recent.start_ms / 1000 + recent.seconds;
  const startS = endS - seconds;
  const out: Json = { start_ms: startS * 1000, seconds };
  for (const key of SERIES) {
    const values: number[] = new Array(seconds).fill(0);
    const oldStart = ring.start_ms / 1000;
    for (let i = 0; i < ring[key].length; i++) {
      const at = oldStart + i - startS;
      if (at >= 0 && at < seconds) values[at] = ring[key][i];
    }
    for (let i = 0; i < recent[key].length; i++) {
      const at = recent.start_ms / 1000 + i - startS;
      if (at >= 0 && at < seconds) values[at] = recent[key][i];
    }
    out[key] = values;
  }
  return out;
}
