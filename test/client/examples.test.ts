// docs/examples run as users run them (zx), on the client: enqueue.mjs enqueues, then
// worker.mjs acks the three ready jobs and stops gracefully on SIGTERM. `zizq/client` is
// pointed at lib/client, and tsx loads it.

import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, it } from "node:test";
import { promisify } from "node:util";
import { eventually, startServer, type TestServer } from "../helpers/server.ts";
import { cleanupTmp } from "../helpers/tmp.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const ZX = path.join(ROOT, "node_modules/zx/build/cli.js");

// Copies live under node_modules/ so that `import "zx"` resolves as it does in docs/.
const COPIES = fs.mkdtempSync(path.join(ROOT, "node_modules", ".zizq-examples-"));

/** A copy of docs/examples/NAME with the package import pointed at the source. */
function example(name: string): string {
  const source = fs.readFileSync(path.join(ROOT, "docs/examples", name), "utf8")
    .replace('"zizq/client"', JSON.stringify(path.join(ROOT, "lib/client/index.ts")));
  const file = path.join(COPIES, name);
  fs.writeFileSync(file, source);
  return file;
}

let s: TestServer;
let worker: ChildProcess | undefined;
before(async () => { s = await startServer(); });
after(async () => {
  worker?.kill("SIGKILL");
  await s.close();
  fs.rmSync(COPIES, { recursive: true, force: true });
  cleanupTmp();
});

it("docs/examples: enqueue.mjs then worker.mjs under zx, stopped by SIGTERM", async () => {
  const env = { ...process.env, ZIZQ_URL: s.url };
  const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", ZX, example("enqueue.mjs")], { cwd: ROOT, env, timeout: 60_000 });
  assert.match(stdout, /send_welcome ready\n.*send_welcome ready\n.*send_welcome ready\n.*digest scheduled\n/);
  assert.match(stdout, /ready in emails: 3/);

  worker = spawn(process.execPath, ["--import", "tsx", ZX, example("worker.mjs")], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  worker.stdout!.on("data", (d) => { out += d; });
  worker.stderr!.on("data", (d) => { out += d; });
  const exited = new Promise<number | null>((resolve) => worker!.once("exit", resolve));
  await eventually(() => {
    if (worker!.exitCode !== null) throw new Error(`worker.mjs exited with ${worker!.exitCode}:\n${out}`);
    return (out.match(/-> acked/g) ?? []).length === 3;
  }, 60_000, "three jobs acked");
  assert.match(out, /processing send_welcome \{"user":1\}/);
  await eventually(async () => (await fetch(`${s.url}/jobs/count?queue=emails&status=ready,in_flight`).then((r) => r.json())).count === 0, 30_000, "acks landed");
  worker.kill("SIGTERM");
  assert.equal(await exited, 0, out);
  assert.match(out, /worker stopped/);
});
