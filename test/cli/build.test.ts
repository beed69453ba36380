// The production path (`npm start`): bin/build.mjs bundles the server into dist/bin/,
// and the bundle serves under plain node, jq worker included (it is loaded by URL
// relative to the bundle, so a missing copy would only show up at the first filter).

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { type SpawnedServer, spawnServer } from "../helpers/server.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
let server: SpawnedServer | undefined;

after(async () => {
  await server?.stop();
  cleanupTmp();
});

test("the built bundle serves the API under plain node, jq engine included", async () => {
  execFileSync(process.execPath, [path.join(ROOT, "bin/build.mjs")], { stdio: "inherit" });
  const previous = process.env.ZIZQ_SPAWN_BUILT;
  process.env.ZIZQ_SPAWN_BUILT = "1";
  try {
    server = await spawnServer(tmpDir());
  } finally {
    if (previous === undefined) delete process.env.ZIZQ_SPAWN_BUILT;
    else process.env.ZIZQ_SPAWN_BUILT = previous;
  }
  assert.equal(server.child.spawnargs.some((a) => a.endsWith("dist/bin/zizq.mjs")), true);
  const health = await fetch(`${server.url}/health`);
  assert.deepEqual(await health.json(), { status: "ok" });
  const enqueue = await fetch(`${server.url}/jobs`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ type: "t", queue: "q", payload: { n: 7 } }),
  });
  assert.equal(enqueue.status, 201);
  // `% 7` is not a client shape: this goes to the jq worker, not the JS fast path.
  const count = await fetch(`${server.url}/jobs/count?filter=${encodeURIComponent(".n % 7 == 0")}`);
  assert.deepEqual(await count.json(), { count: 1 });
  // The dashboard comes from dist/web (written by the build), hashed names and all.
  const built = fs.readdirSync(path.join(ROOT, "dist/web"));
  const page = await (await fetch(`${server.adminUrl}/`)).text();
  const js = built.find((f) => /^app-[A-Z0-9]+\.js$/.test(f));
  assert.ok(js && page.includes(`/assets/${js}`), `index.html should load dist/web/${js}`);
  assert.equal((await fetch(`${server.adminUrl}/assets/${js}`)).status, 200);
  assert.equal(await server.stop(), 0);
});
