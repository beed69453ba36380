// serve(): the in-process server from the package entry — the HTTP API on an ephemeral
// port, a graceful close that releases the dir lock, and the admin listener on request.

import assert from "node:assert/strict";
import { after, test } from "node:test";
import { open, serve } from "../../lib/entry/zizq.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";

after(cleanupTmp);

const json = { "content-type": "application/json" };

test("serve({ dir, port: 0 }) answers the HTTP API; close() releases the dir", async () => {
  const dir = tmpDir();
  const server = await serve({ dir, port: 0 });
  try {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(server.adminUrl, undefined);
    assert.deepEqual(await (await fetch(`${server.url}/health`)).json(), { status: "ok" });
    const res = await fetch(`${server.url}/jobs`, { method: "POST", headers: json, body: JSON.stringify({ type: "t", queue: "q", payload: { n: 1 } }) });
    assert.equal(res.status, 201);
    const { id } = (await res.json()) as { id: string };
    await assert.rejects(open({ dir }), /already open/);
    await server.close();
    await server.close();
    const queue = await open({ dir });
    assert.deepEqual((await queue.getJob(id)).payload, { n: 1 });
    await queue.close();
  } finally {
    await server.close();
  }
});

test("serve() can start the admin listener too", async () => {
  const server = await serve({ dir: tmpDir(), port: 0, adminEnabled: true, adminPort: 0 });
  try {
    assert.match(server.adminUrl ?? "", /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal((await fetch(`${server.adminUrl}/compact`, { method: "POST" })).status, 204);
  } finally {
    await server.close();
  }
});

test("serve() without a dir is a TypeError; a taken port rejects", async () => {
  await assert.rejects(serve({} as never), TypeError);
  const first = await serve({ dir: tmpDir(), port: 0 });
  try {
    const port = Number(new URL(first.url).port);
    await assert.rejects(serve({ dir: tmpDir(), port }), /EADDRINUSE|in use/);
  } finally {
    await first.close();
  }
});
