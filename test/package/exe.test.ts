// The single executable (issue 8 §3): `npm run build:exe` makes dist/zizq; copied alone to
// an empty temp dir (no node_modules above it, no sources), it serves: health, enqueue, a
// jq filter only the jq worker answers (its source and wasm are embedded assets), take;
// and `compact`, `top` and --version run from it too. Building takes ~3 s of CPU.

import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { promisify } from "node:util";
import { eventually, spawnServer } from "../helpers/server.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, "../..");

after(cleanupTmp);

test("dist/zizq alone in an empty dir: serve, health, enqueue, jq, take, compact, top, --version", { timeout: 300_000 }, async () => {
  await run(process.execPath, [path.join(ROOT, "bin/build-exe.mjs")], { cwd: ROOT, maxBuffer: 1 << 24 });
  const alone = tmpDir("zizq-exe-");
  const exe = path.join(alone, "zizq");
  fs.copyFileSync(path.join(ROOT, "dist/zizq"), exe);
  fs.chmodSync(exe, 0o755);
  // Nothing for it to find: no PATH to node, no NODE_OPTIONS or NODE_PATH.
  const env = { PATH: "/usr/bin:/bin", HOME: alone };

  const { stdout: version } = await run(exe, ["--version"], { cwd: alone, env });
  assert.match(version, /^zizq \d+\.\d+\.\d+/);

  const server = await spawnServer(path.join(alone, "data"), [], 60_000, [], { path: exe, cwd: alone });
  try {
    assert.doesNotMatch(server.logs(), /Warning/);
    assert.deepEqual(await (await fetch(`${server.url}/health`)).json(), { status: "ok" });
    const enqueued = await fetch(`${server.url}/jobs`, {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ type: "t", queue: "q", payload: { n: 42 } }),
    });
    assert.equal(enqueued.status, 201);
    const { id } = (await enqueued.json()) as { id: string };
    // `tostring | length` is beyond the JS fast path: this runs in the jq worker thread.
    const count = await fetch(`${server.url}/jobs/count?filter=${encodeURIComponent(".n | tostring | length == 2")}`);
    assert.deepEqual(await count.json(), { count: 1 });

    const take = await fetch(`${server.url}/jobs/take?queue=q&prefetch=1`, { headers: { accept: "application/x-ndjson" } });
    const reader = take.body!.getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      assert.ok(!done, "the take stream ended early");
      text += Buffer.from(value).toString("utf8");
    }
    const job = JSON.parse(text.split("\n")[0]) as { id: string; status: string; payload: unknown };
    assert.equal(job.id, id);
    assert.equal(job.status, "in_flight");
    assert.deepEqual(job.payload, { n: 42 });
    assert.equal((await fetch(`${server.url}/jobs/${id}/success`, { method: "POST" })).status, 204);
    await reader.cancel();

    await run(exe, ["compact", "--url", server.adminUrl!], { cwd: alone, env });
    // The dashboard comes from an asset inside the executable: its page and its script.
    const page = await fetch(`${server.adminUrl}/`);
    assert.equal(page.status, 200);
    const html = await page.text();
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(script, html);
    assert.equal((await fetch(`${server.adminUrl}${script}`)).status, 200);

    // `zizq top` (ws client, terminal UI) draws its first screen from the admin stream.
    const top = spawn(exe, ["top", "--url", server.adminUrl!], { cwd: alone, env, stdio: ["ignore", "pipe", "pipe"] });
    try {
      let screen = "";
      top.stdout.on("data", (chunk: Buffer) => { screen += chunk.toString("utf8"); });
      await eventually(() => /Ready \(\d+\)/.test(screen), 30_000, "zizq top's first screen");
    } finally {
      top.kill();
    }
  } finally {
    assert.equal(await server.stop(), 0);
  }
});
