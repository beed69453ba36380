// Issue 12 §2: a backup client that goes away mid-stream (HTTP/1.1 socket closed, h2c
// stream reset or session destroyed) at several points of the stream. The server keeps
// serving, compaction is not left paused, no file is left behind, nothing is logged at
// error level, and every job is still there.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import http2 from "node:http2";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { type SpawnedServer, eventually, spawnServer } from "../helpers/server.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";

const JOBS = 3000;
/** Bytes of the response body read before the client goes away (0 = right after the head). */
const CUT_POINTS = [0, 64 * 1024, 1024 * 1024];

/** Every file under `dir`, relative, sorted. */
function filesUnder(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[])
    .filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort();
}

function h1Cut(adminUrl: string, cut: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${adminUrl}/backup`, { method: "POST", agent: false }, (res) => {
      let got = 0;
      const leave = () => {
        req.destroy();
        resolve(got);
      };
      if (cut === 0) return leave();
      res.on("data", (c: Buffer) => {
        got += c.length;
        if (got >= cut) leave();
      });
      res.on("end", () => reject(new Error(`the whole backup (${got} bytes) arrived before the cut at ${cut}`)));
    });
    req.on("error", () => {});
    req.end();
  });
}

function h2Cut(adminUrl: string, cut: number, how: "rst" | "session"): Promise<number> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(adminUrl);
    session.on("error", () => {});
    const stream = session.request({ ":method": "POST", ":path": "/backup" });
    stream.on("error", () => {});
    let got = 0;
    const leave = () => {
      if (how === "rst") stream.close(http2.constants.NGHTTP2_CANCEL);
      session.destroy();
      resolve(got);
    };
    stream.on("response", () => {
      if (cut === 0) leave();
    });
    stream.on("data", (c: Buffer) => {
      got += c.length;
      if (got >= cut && cut > 0) leave();
    });
    stream.on("end", () => reject(new Error(`the whole backup (${got} bytes) arrived before the cut at ${cut}`)));
    stream.end();
  });
}

describe("a backup whose client goes away", () => {
  let s: SpawnedServer;
  let dir: string;
  let files: string[];
  before(async () => {
    dir = tmpDir();
    s = await spawnServer(dir, ["--segment-size", "1MiB"]);
    // Random payloads of ~1 KB, so the gzip stream is long enough to cut at 1 MiB.
    for (let b = 0; b < JOBS / 500; b++) {
      const jobs = Array.from({ length: 500 }, (_, i) => ({ type: "t", queue: "q", payload: { i, pad: randomBytes(750).toString("base64") } }));
      const r = await fetch(`${s.url}/jobs/bulk`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jobs }) });
      assert.equal(r.status, 201);
    }
    files = filesUnder(dir);
  });
  after(async () => {
    await s?.stop();
    cleanupTmp();
  });

  const assertHealthy = async (what: string) => {
    assert.equal(s.child.exitCode, null, `${what}: the server exited\n${s.logs()}`);
    assert.equal((await fetch(`${s.url}/health`)).status, 200, what);
    // Compaction is not left paused: a forced compaction completes (it waits for pauses).
    const compact = await fetch(`${s.adminUrl}/compact`, { method: "POST", signal: AbortSignal.timeout(60_000) });
    assert.equal(compact.status, 204, what);
    const count = await (await fetch(`${s.url}/jobs/count`)).json() as { count: number };
    assert.equal(count.count, JOBS, what);
    const errors = s.logs().split("\n").filter((l) => /"level":(50|60)/.test(l));
    assert.deepEqual(errors, [], `${what}: error-level logs`);
  };

  for (const cut of CUT_POINTS) {
    it(`HTTP/1.1, socket closed after ${cut} body bytes`, async () => {
      await h1Cut(s.adminUrl!, cut);
      await assertHealthy(`h1 cut ${cut}`);
    });
    it(`h2c, stream reset after ${cut} body bytes`, async () => {
      await h2Cut(s.adminUrl!, cut, "rst");
      await assertHealthy(`h2 rst ${cut}`);
    });
    it(`h2c, session destroyed after ${cut} body bytes`, async () => {
      await h2Cut(s.adminUrl!, cut, "session");
      await assertHealthy(`h2 session ${cut}`);
    });
  }

  it("no file is left behind, and a full backup still streams to the end", async () => {
    // Compaction may retire and add segments; anything else (a temp file) is a leftover.
    await eventually(() => filesUnder(dir).every((f) => files.includes(f) || /^segments\/[^/]+\.seg$/.test(f)), 10_000, "only data files");
    const res = await fetch(`${s.adminUrl}/backup`, { method: "POST" });
    assert.equal(res.status, 200);
    assert.ok((await res.arrayBuffer()).byteLength > 0);
    await assertHealthy("full backup");
  });
});
