// The README's two dashboard screenshots (docs/dashboard-overview.png, dashboard-job.png):
// a server with a minute of synthetic traffic (enqueues, acks, some failures and
// deaths) in three queues, a cron group, then headless chromium at 1280×800.
//
//   node --import tsx bench/dashboard-shots.ts

import path from "node:path";
import { launchBrowser } from "../test/helpers/browser.ts";
import { openTake, req } from "../test/http/_client.ts";
import { spawnServer } from "../test/helpers/server.ts";
import { tmpDir } from "../test/helpers/tmp.ts";

const DOCS = path.resolve(import.meta.dirname, "../docs");
const QUEUES = ["emails", "images", "reports"];
const SECONDS = Number(process.env.SHOT_SECONDS ?? 60);

const server = await spawnServer(tmpDir());
const base = server.url;
await req(base, "PUT", "/crons/nightly", { entries: [
  { name: "digest", expression: "0 3 * * *", job: { type: "send_digest", queue: "emails", payload: {} } },
  { name: "cleanup", expression: "*/15 * * * *", job: { type: "cleanup", queue: "reports", payload: {} }, paused: true },
] });
const take = await openTake(base, "prefetch=20");
let handled = 0;
const worker = setInterval(async () => {
  const jobs = take.jobs.slice(handled);
  handled += jobs.length;
  for (const job of jobs) {
    const n = (job.payload as { n: number }).n;
    if (n % 17 === 0) {
      await req(base, "POST", `/jobs/${job.id}/failure`, {
        message: "connection reset by peer", error_type: "ECONNRESET", kill: n % 34 === 0,
        backtrace: "Error: connection reset by peer\n    at Socket.onEnd (node:net:714:12)\n    at sendEmail (src/jobs/send-email.ts:42:11)\n    at Worker.run (src/worker.ts:88:5)",
      });
    } else await req(base, "POST", `/jobs/${job.id}/success`);
  }
}, 50);
let n = 0;
const started = Date.now();
while (Date.now() - started < SECONDS * 1000) {
  const second = Math.floor((Date.now() - started) / 1000);
  const burst = 5 + Math.round(20 * Math.abs(Math.sin(second / 9)));
  const jobs = Array.from({ length: burst }, () => {
    n++;
    return { type: n % 3 ? "send_email" : "resize_image", queue: QUEUES[n % 3], payload: { n, to: `user${n}@example.com`, template: "welcome", locale: "en" }, retry_limit: 3, retention: { completed_ms: 3_600_000, dead_ms: 86_400_000 } };
  });
  await req(base, "POST", "/jobs/bulk", { jobs });
  await new Promise((r) => setTimeout(r, 250));
}
await req(base, "POST", "/jobs/bulk", { jobs: Array.from({ length: 40 }, (_, i) => ({ type: "report", queue: "reports", payload: { i }, ready_at: Date.now() + 60_000 * (i + 1) })) });
await req(base, "POST", "/queues/reports/pause");
clearInterval(worker);

const browser = await launchBrowser();
const page = await browser.newPage();
await page.goto(`${server.adminUrl}/`);
await page.waitForFunction(() => document.querySelector("[data-live=connected]") && document.querySelector(".chart canvas"), undefined, { timeout: 30_000 });
await page.waitForFunction(() => (document.querySelector(".card [data-count=ready]")?.textContent ?? "–") !== "–", undefined, { timeout: 30_000 });
await page.screenshot({ path: path.join(DOCS, "dashboard-overview.png") });
const dead = await req(base, "GET", "/jobs?status=dead&limit=1&order=desc");
const id = dead.body!.jobs[0]?.id ?? (await req(base, "GET", "/jobs?limit=1")).body!.jobs[0].id;
await page.goto(`${server.adminUrl}/#/job/${id}`);
await page.waitForSelector(".error-record", { timeout: 30_000 }).catch(() => {});
await page.screenshot({ path: path.join(DOCS, "dashboard-job.png") });
await browser.close();
await take.close();
await server.stop();
console.log("wrote docs/dashboard-overview.png and docs/dashboard-job.png");
