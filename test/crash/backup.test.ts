// Admin POST /backup end to end: a real server keeps taking enqueues while `zizq backup`
// streams a snapshot; `zizq restore` unpacks it into a new dir, and a server started
// there has every job acknowledged before the backup began, with its payload.

import assert from "node:assert/strict";
import path from "node:path";
import { after, test } from "node:test";
import { runBackup } from "../../lib/cli/backup.ts";
import { runRestore } from "../../lib/cli/restore.ts";
import { type SpawnedServer, spawnServer } from "../helpers/server.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";

const servers: SpawnedServer[] = [];
after(async () => {
  for (const s of servers) await s.stop();
  cleanupTmp();
});

async function bulk(url: string, from: number, n: number): Promise<string[]> {
  const jobs = Array.from({ length: n }, (_, i) => ({ type: "t", queue: "q", payload: { n: from + i, big: 12345678901234567890 } }));
  const body = JSON.stringify({ jobs }).replace(/1234567890123456\d+/g, "12345678901234567890");
  const res = await fetch(`${url}/jobs/bulk`, { method: "POST", headers: { "content-type": "application/json" }, body });
  assert.equal(res.status, 201);
  return ((await res.json()) as { jobs: { id: string }[] }).jobs.map((j) => j.id);
}

test("a backup taken under load restores every job acknowledged before it", async () => {
  const source = await spawnServer(tmpDir(), ["--segment-size", "1MiB"]);
  servers.push(source);
  const before: string[] = [];
  for (let i = 0; i < 10; i++) before.push(...(await bulk(source.url, i * 500, 500)));
  // Keep writing while the backup runs: those may or may not be in it, but nothing may break.
  let writing = true;
  const writer = (async () => {
    for (let i = 100; writing; i++) await bulk(source.url, i * 100, 100);
  })();
  const archive = path.join(tmpDir(), "out", "backup.tar.gz");
  const bytes = await runBackup(archive, { url: source.adminUrl!, caCertPath: undefined, clientCertPath: undefined, clientKeyPath: undefined });
  writing = false;
  await writer;
  assert.ok(bytes > 0);

  const restored = path.join(tmpDir(), "restored");
  await runRestore(archive, restored);
  const copy = await spawnServer(restored);
  servers.push(copy);
  for (const id of before) {
    const res = await fetch(`${copy.url}/jobs/${id}`);
    assert.equal(res.status, 200, `job ${id} acknowledged before the backup is missing`);
  }
  const sample = await (await fetch(`${copy.url}/jobs/${before[4321]}`)).text();
  assert.match(sample, /"payload":\{"n":4321,"big":12345678901234567890\}/);
  // The restored server works: it takes new writes.
  assert.equal((await bulk(copy.url, 0, 1)).length, 1);
});
