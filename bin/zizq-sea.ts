// Entry of the single executable (`npm run build:exe` → dist/zizq, a Node SEA): the same
// CLI as bin/zizq.ts, as CommonJS (Node 20's SEA main must be), with the jq worker started
// from embedded assets: its bundled source and jq's wasm (no file exists beside the binary).
import { getAsset } from "node:sea";
import { Worker } from "node:worker_threads";
import { main } from "../lib/cli/main.ts";
import { jqWorkerStart } from "../lib/queue/_jq-pool.ts";

jqWorkerStart.create = () =>
  new Worker(getAsset("jq-worker.js", "utf8"), { eval: true, workerData: { jqWasm: getAsset("jq.wasm") } });

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(err);
    process.exitCode = 1;
  },
);
