// The open dashboard's server traffic without a browser (bench D): the overview page's
// `/events` session (`?mode=summary`: no windows) and its `/stats` polls, on the page's
// schedule (web/live.ts, web/overview.ts, web/context.ts). It renders nothing, so a W3
// run beside it measures what the dashboard costs the server, not what Chromium costs
// the two cores. Keep the schedule in step with those files; bench D prints the request
// counts of both, so a drift shows.

import http from "node:http";
import WebSocket from "ws";
import { request } from "./_lib.ts";

/** What one replay (or one real page, counted by bench D) sent and received. */
export interface DashboardTraffic {
  stats: number;
  api: number;
  framesIn: number;
  framesOut: number;
}

/** Mirrors web/overview.ts: a refresh soon after change frames, and a timer poll while they are quiet. */
const POLL_MS = 1000;
const POLL_QUIET_MS = 900;
const LIVE_MIN_MS = 500;

/** Open the overview's traffic against `adminUrl`; returns stop(), which returns the counts since open. */
export async function replayDashboard(adminUrl: string): Promise<() => Promise<DashboardTraffic>> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 6 });
  const traffic: DashboardTraffic = { stats: 0, api: 0, framesIn: 0, framesOut: 0 };
  let stopped = false;
  let haveRing = false;
  let lastAt = 0;
  const refresh = async () => {
    if (stopped) return;
    lastAt = Date.now();
    traffic.stats++;
    const r = await request(agent, `${adminUrl}/stats?seconds=${haveRing ? 5 : 900}`, "GET", undefined, { accept: "application/json" });
    if (r.status !== 200) throw new Error(`/stats: HTTP ${r.status}`);
    JSON.parse(r.body.toString("utf8"));
    haveRing = true;
  };
  const safeRefresh = () => void refresh().catch(() => {});

  const ws = new WebSocket(`${adminUrl.replace(/^http/, "ws")}/events?mode=summary`);
  // useLiveRefresh(ctx, refresh, LIVE_MIN_MS): at most one refresh per LIVE_MIN_MS after changes.
  let last = 0;
  let liveTimer: NodeJS.Timeout | undefined;
  ws.on("message", (data) => {
    traffic.framesIn++;
    const frame = JSON.parse(data.toString()) as { event?: string };
    if (frame.event !== "job_snapshot" && frame.event !== "job_changed" && frame.event !== "changed") return;
    if (liveTimer) return;
    liveTimer = setTimeout(() => {
      liveTimer = undefined;
      last = Date.now();
      safeRefresh();
    }, Math.max(0, last + LIVE_MIN_MS - Date.now()));
  });
  // The overview shows no job list: the page sends nothing on the stream.
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  await refresh();
  // Count from here, as bench D counts a real page from "interactive" on.
  Object.assign(traffic, { stats: 0, api: 0, framesIn: 0, framesOut: 0 });
  const poll = setInterval(() => { if (Date.now() - lastAt >= POLL_QUIET_MS) safeRefresh(); }, POLL_MS);
  return async () => {
    stopped = true;
    clearInterval(poll);
    if (liveTimer) clearTimeout(liveTimer);
    ws.close();
    agent.destroy();
    return traffic;
  };
}
