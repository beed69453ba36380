// A real `zizq serve` at its open-file limit (EMFILE): the limit is lowered from outside
// with prlimit(1) and filled with idle connections, so the next segment cannot be
// preallocated. Enqueues must get a 503 that says so (not a 500), nothing refused may be
// written, the operator's log must say it once (not once a request), and the server must
// take writes again once files are free. Skipped where prlimit is missing (util-linux).

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import { after, it } from "node:test";
import { refusalLog } from "../../lib/cli/_refusal-log.ts";
import { QueueError } from "../../lib/queue/types.ts";
import { eventually, spawnServer } from "../helpers/server.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";

after(() => cleanupTmp());

const hasPrlimit = (): boolean => {
  try {
    execFileSync("prlimit", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};

const openFiles = (pid: number): number => fs.readdirSync(`/proc/${pid}/fd`).length;

it("at the open-file limit, enqueues get a 503 saying so, nothing refused is written, and writes resume", { skip: hasPrlimit() ? false : "no prlimit(1)" }, async () => {
  const server = await spawnServer(tmpDir(), ["--segment-size", "1MiB"]);
  const pid = server.child.pid!;
  // One kept-alive connection carries every request: a new one could not be accepted.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const post = (path: string, body: string) => new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request(`${server.url}${path}`, { method: "POST", agent, headers: { "content-type": "application/json" } }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (c: string) => { text += c; }).on("end", () => resolve({ status: res.statusCode!, body: text }));
    });
    req.on("error", reject).end(body);
  });
  const pad = "x".repeat(1000);
  const bulk = (n: number) => JSON.stringify({ jobs: Array.from({ length: 100 }, (_, i) => ({ type: "t", queue: "q", payload: { n, i, pad } })) });
  const idle: net.Socket[] = [];
  try {
    assert.equal((await post("/jobs", JSON.stringify({ type: "t", queue: "q", payload: 0 }))).status, 201);
    let accepted = 1;
    // The soft limit a few files above what is open now; idle connections take the rest.
    const limit = openFiles(pid) + 4;
    execFileSync("prlimit", ["--pid", String(pid), `--nofile=${limit}:`]);
    for (let i = 0; i < 12; i++) idle.push(net.connect(Number(new URL(server.url).port), "127.0.0.1").on("error", () => {}));
    await eventually(() => openFiles(pid) >= limit, 10_000, "the server's file table to fill");

    // Each bulk is ~110 KB: within 60 of them a 1 MiB segment needs a new spare.
    let refused: { status: number; body: string } | undefined;
    for (let n = 0; n < 60 && !refused; n++) {
      const r = await post("/jobs/bulk", bulk(n));
      if (r.status === 201) accepted += 100;
      else refused = r;
    }
    assert.ok(refused, "no enqueue was refused at the open-file limit");
    assert.equal(refused.status, 503, refused.body);
    assert.match(JSON.parse(refused.body).error, /open-file limit \(EMFILE\)/);
    assert.doesNotMatch(refused.body, /\/segments\//, "a client must not be shown the server's paths");
    // Refused again while full: still a 503, and the log keeps to one line.
    assert.equal((await post("/jobs/bulk", bulk(1000))).status, 503);

    for (const s of idle) s.destroy();
    const resumed = await eventually(async () => {
      const r = await post("/jobs/bulk", bulk(2000));
      return r.status === 201 ? r : undefined;
    }, 10_000, "an enqueue to succeed once files are free");
    accepted += 100;
    assert.ok(resumed);

    const count = await fetch(`${server.url}/jobs/count`).then((r) => r.json()) as { count: number };
    assert.equal(count.count, accepted, "exactly the acknowledged jobs are stored");
    const lines = server.logs().split("\n").filter((l) => l.includes('"storage_refused"'));
    assert.equal(lines.length, 1, lines.join("\n"));
    const line = JSON.parse(lines[0]) as { level: number | string; code: string; err: { code?: string; message: string } };
    assert.equal(line.code, "unavailable");
    assert.match(line.err.message, /EMFILE/);
  } finally {
    for (const s of idle) s.destroy();
    agent.destroy();
    await server.kill9();
  }
});

it("refusal log lines: each kind at once, then at most one per interval with the count between", () => {
  const lines: Record<string, unknown>[] = [];
  let t = 0;
  const log = refusalLog({ warn: (fields: Record<string, unknown>) => { lines.push(fields); } } as never, 10_000, () => t);
  const full = new QueueError("full", "storage is full", undefined, new Error("ENOSPC"));
  const files = new QueueError("unavailable", "open-file limit", undefined, new Error("EMFILE"));
  log(full);
  log(full);
  log(files); // another kind is not held back by the first
  t = 9_999;
  log(full);
  t = 10_000;
  log(full);
  assert.deepEqual(lines.map((l) => [l.code, l.refused_since_last_line]), [["full", undefined], ["unavailable", undefined], ["full", 2]]);
});
