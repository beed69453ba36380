// Entry of the single executable (`npm run build:exe` → dist/zizq, a Node SEA): the same
// CLI as bin/zizq.ts, as CommonJS (Node 20's SEA main must be), with the jq worker started
// from embedded assets: its bundled source and jq's wasm (no file exists beside the binary),
// the log verifier's worker from its bundled source, and the dashboard's files from one more.
import { getAsset } from "node:sea";
import { Worker } from "node:worker_threads";
import { main } from "../lib/cli/main.ts";
import { dashboardSource } from "../lib/http/dashboard-assets.ts";
import { jqWorkerStart } from "../lib/queue/_jq-pool.ts";
import { verifyWorkerStart } from "../lib/storage/verify-thread.ts";

jqWorkerStart.create = () =>
  new Worker(getAsset("jq-worker.js", "utf8"), { eval: true, workerData: { jqWasm: getAsset("jq.wasm") } });
verifyWorkerStart.create = (request) => new Worker(getAsset("verify-worker.js", "utf8"), { eval: true, workerData: { request } });

// The dashboard's built files, as one asset: { name: base64 }.
dashboardSource.load = async () => {
  const files = JSON.parse(getAsset("dashboard.json", "utf8")) as Record<string, string>;
  return new Map(Object.entries(files).map(([name, base64]) => [name, Buffer.from(base64, "base64")]));
};

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(err);
    process.exitCode = 1;
  },
);
