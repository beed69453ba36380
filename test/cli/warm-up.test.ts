// The start-up warm-up (lib/cli/_warm-up.ts): a real `zizq serve` drives its hot paths
// through its own throwaway store before `ready`. What a user must never see: a warm-up
// job in their queue, a leftover dir, or a server that fails to start because of it.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { WARM_UP_DIR, WARM_UP_JOBS, warmUp } from "../../lib/cli/_warm-up.ts";
import { type SpawnedServer, spawnServer } from "../helpers/server.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";

const servers: SpawnedServer[] = [];
after(async () => {
  for (const s of servers) await s.stop();
  cleanupTmp();
});

test("zizq serve warms up in its own store: a leftover is cleared, nothing reaches the real queue", async () => {
  const dir = tmpDir();
  // What a crash in the middle of a warm-up leaves behind.
  fs.mkdirSync(path.join(dir, WARM_UP_DIR, "segments"), { recursive: true });
  fs.writeFileSync(path.join(dir, WARM_UP_DIR, "segments", "00000001.seg"), "torn");
  const server = await spawnServer(dir, ["--warm-up"]);
  servers.push(server);

  const event = server.logs().split("\n").filter((l) => l.includes('"warmed_up"')).map((l) => JSON.parse(l) as { jobs: number; ms: number });
  assert.equal(event.length, 1, server.logs());
  assert.equal(event[0].jobs, WARM_UP_JOBS, "every warm-up job was taken (and every request, acks included, got a 2xx)");
  assert.equal(fs.existsSync(path.join(dir, WARM_UP_DIR)), false, "the warm-up dir is removed");

  const count = await (await fetch(`${server.url}/jobs/count`)).json();
  assert.deepEqual(count, { count: 0 });
  const queues = await (await fetch(`${server.url}/queues`)).json() as { queues: string[] };
  assert.deepEqual(queues.queues, []);
  const enqueued = await fetch(`${server.url}/jobs`, {
    method: "POST", headers: { "content-type": "application/json" }, body: '{"type":"t","queue":"q","payload":{}}',
  });
  assert.equal(enqueued.status, 201);
});

test("a warm-up dir holding files no warm-up wrote is left alone, and the server starts cold", async () => {
  const dir = tmpDir();
  fs.mkdirSync(path.join(dir, WARM_UP_DIR));
  fs.writeFileSync(path.join(dir, WARM_UP_DIR, "notes.txt"), "mine");
  const server = await spawnServer(dir, ["--warm-up"]);
  servers.push(server);
  assert.match(server.logs(), /warm-up failed; starting cold/);
  assert.equal(fs.readFileSync(path.join(dir, WARM_UP_DIR, "notes.txt"), "utf8"), "mine");
  assert.equal((await fetch(`${server.url}/health`)).status, 200);
});

test("a second server on a dir in use still refuses to start, after its warm-up, and the first keeps serving", async () => {
  const dir = tmpDir();
  const first = await spawnServer(dir);
  servers.push(first);
  await assert.rejects(spawnServer(dir, ["--warm-up"]), /in use by another zizq server/);
  assert.equal(fs.existsSync(path.join(dir, WARM_UP_DIR)), false, "the refused server's warm-up cleaned up");
  const enqueued = await fetch(`${first.url}/jobs`, {
    method: "POST", headers: { "content-type": "application/json" }, body: '{"type":"t","queue":"q","payload":{}}',
  });
  assert.equal(enqueued.status, 201);
});

test("without --warm-up there is none (the default)", async () => {
  const server = await spawnServer(tmpDir());
  servers.push(server);
  assert.equal(server.logs().includes('"warmed_up"'), false);
});

test("warmUp() in-process leaves the data dir as it found it", async () => {
  const dir = tmpDir();
  fs.writeFileSync(path.join(dir, "keep"), "x");
  const result = await warmUp(dir);
  assert.equal(result.jobs, WARM_UP_JOBS);
  assert.deepEqual(fs.readdirSync(dir), ["keep"]);
});
