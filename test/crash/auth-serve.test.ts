// `zizq serve --auth-tokens FILE` as a real process: a bad line stops the server before it
// starts and the message names the line (never the token); both listeners and the admin
// WebSocket demand a Bearer token; SIGHUP reloads the file (a bad file keeps the old
// tokens); `zizq backup --token` gets through; no token ever shows up in the logs. Without
// --auth-tokens, SIGHUP (a closing terminal) stops the server gracefully.

import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { after, afterEach, describe, it } from "node:test";
import WebSocket from "ws";
import { runBackup } from "../../lib/cli/backup.ts";
import { eventually, spawnServer, type SpawnedServer, within } from "../helpers/server.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";
import { req } from "../http/_client.ts";

const WRITE = "write-0123456789abcdef-w";
const ADMIN = "admin-0123456789abcdef-a";
const NEXT = "admin-after-reload-0123456789";
const SECRET = "secret-never-logged-0123456789";
const ALL = [WRITE, ADMIN, NEXT, SECRET];

const running: SpawnedServer[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.kill9()));
});
after(() => cleanupTmp());

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** The WebSocket upgrade's HTTP status: 101 when it opened. */
function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^http/, "ws")}/events`, { headers });
    ws.once("open", () => {
      ws.terminate();
      resolve(101);
    });
    ws.once("unexpected-response", (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once("error", (err) => reject(err));
  });
}


/** The status of a request whose target goes out byte for byte (fetch would normalise it). */
function rawStatus(url: string, method: string, target: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(url);
    const r = http.request({ hostname, port, path: target, method, headers, agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode!));
    });
    r.on("upgrade", (res, socket) => {
      socket.destroy();
      resolve(res.statusCode!);
    });
    r.on("error", reject);
    r.end();
  });
}

describe("zizq serve --auth-tokens", () => {
  it("refuses to start on a bad line, naming it and not the token", async () => {
    const root = tmpDir();
    const file = path.join(root, "tokens");
    fs.writeFileSync(file, `write ${WRITE}\nsuperuser ${SECRET}\n`);
    await assert.rejects(spawnServer(path.join(root, "dir"), ["--auth-tokens", file]), (err: Error) => {
      assert.match(err.message, /server exited with [12] before listening/);
      assert.ok(err.message.includes(`--auth-tokens: ${file} line 2: unknown scope (expected read, write, admin)`), err.message);
      assert.ok(!err.message.includes(SECRET), "the token was printed");
      return true;
    });
    // Nothing was created or locked: the store was never opened.
    assert.equal(fs.existsSync(path.join(root, "dir", "segments")), false);
  });

  it("without --auth-tokens, SIGHUP stops the server gracefully: exit 0, lock released, a restart finds every job", async () => {
    const root = tmpDir();
    const dir = path.join(root, "dir");
    const srv = await spawnServer(dir);
    running.push(srv);
    const id = ((await req(srv.url, "POST", "/jobs", { type: "t", queue: "q", payload: 1 })).body as { id: string }).id;
    const exited = new Promise<number | null>((resolve) => srv.child.once("exit", (code) => resolve(code)));
    srv.child.kill("SIGHUP");
    assert.equal(await exited, 0, srv.logs());
    assert.match(srv.logs(), /"signal":"SIGHUP".*shutting down/);
    assert.match(srv.logs(), /stopped/);
    assert.equal(fs.existsSync(path.join(dir, "zizq.lock")), false, "the lock is released");
    const again = await spawnServer(dir);
    running.push(again);
    assert.equal((await req(again.url, "GET", `/jobs/${id}`)).status, 200);
  });

  it("guards both listeners and the WebSocket; SIGHUP reloads; tokens never reach the logs", async () => {
    const root = tmpDir();
    const file = path.join(root, "tokens");
    fs.writeFileSync(file, `write ${WRITE}\nadmin ${ADMIN}\n`);
    const srv = await spawnServer(path.join(root, "dir"), ["--auth-tokens", file]);
    running.push(srv);

    const missing = await req(srv.url, "GET", "/jobs");
    assert.equal(missing.status, 401);
    assert.equal(missing.headers.get("www-authenticate"), 'Bearer realm="zizq"');
    assert.equal((await req(srv.url, "GET", "/health")).status, 200);
    assert.equal((await req(srv.url, "POST", "/jobs", { type: "t", queue: "q", payload: 1 }, bearer(WRITE))).status, 201);
    assert.equal((await req(srv.url, "POST", "/reset", undefined, bearer(WRITE))).status, 403);

    assert.equal((await req(srv.adminUrl!, "POST", "/compact")).status, 401);
    assert.equal((await req(srv.adminUrl!, "POST", "/compact", undefined, bearer(WRITE))).status, 403);
    assert.equal((await req(srv.adminUrl!, "POST", "/compact", undefined, bearer(ADMIN))).status, 204);
    assert.equal(await upgradeStatus(srv.adminUrl!, {}), 401);
    assert.equal(await upgradeStatus(srv.adminUrl!, bearer(WRITE)), 403);
    assert.equal(await upgradeStatus(srv.adminUrl!, bearer(ADMIN)), 101);
    // The dashboard's page and assets are open; a spelling the router reads as another
    // path is not (`/assets/..\\api/jobs` was served as /api/jobs with no token).
    assert.equal(await rawStatus(srv.adminUrl!, "HEAD", "/", {}), 200);
    assert.equal(await rawStatus(srv.adminUrl!, "GET", "/assets/..\\api/jobs", {}), 401);
    assert.equal(await rawStatus(srv.adminUrl!, "GET", "/assets/..\\metrics", {}), 401);
    assert.equal(await rawStatus(srv.adminUrl!, "GET", "/assets/..\\api/jobs", bearer(ADMIN)), 404);
    const upgrade = { connection: "Upgrade", upgrade: "websocket", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==" };
    assert.equal(await rawStatus(srv.adminUrl!, "GET", "/assets/..\\events", upgrade), 404); // only the exact /events upgrades
    assert.equal(await rawStatus(srv.adminUrl!, "GET", "/events", { ...upgrade, ...bearer(ADMIN) }), 101);

    const config = { url: srv.adminUrl!, caCertPath: undefined, clientCertPath: undefined, clientKeyPath: undefined };
    const archive = path.join(root, "backup.tar.gz");
    await assert.rejects(runBackup(archive, config), /HTTP 401/);
    assert.ok((await runBackup(archive, { ...config, token: ADMIN })) > 0);

    // Requests that stay open are held against their token: a take stream holding a job
    // and an /events session, both opened with tokens the reload below revokes.
    const take = await fetch(`${srv.url}/jobs/take?queue=q&prefetch=1`, { headers: bearer(WRITE) });
    assert.equal(take.status, 200);
    const reader = take.body!.getReader();
    let taken = "";
    while (!taken.includes('"id"')) {
      const { value, done } = await within(reader.read(), 10_000, "the taken job");
      assert.ok(!done, "the take stream ended before its job");
      taken += Buffer.from(value).toString();
    }
    const jobId = (JSON.parse(taken.trim().split("\n").pop()!) as { id: string }).id;
    const ws = new WebSocket(`${srv.adminUrl!.replace(/^http/, "ws")}/events`, { headers: bearer(ADMIN) });
    const wsClosed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
    await new Promise((resolve, reject) => { ws.once("open", resolve); ws.once("error", reject); });

    // Reload: the new file replaces the old tokens.
    fs.writeFileSync(file, `admin ${NEXT}\n`);
    srv.child.kill("SIGHUP");
    await eventually(async () => (await req(srv.url, "GET", "/jobs", undefined, bearer(NEXT))).status === 200, 10_000, "the reloaded token");
    assert.equal((await req(srv.url, "GET", "/jobs", undefined, bearer(ADMIN))).status, 401);
    // They were ended (they used to go on taking and deleting jobs); the job is ready again.
    assert.equal(await within(wsClosed, 10_000, "the /events session to close"), 1008);
    await within((async () => { for (;;) if ((await reader.read()).done) return; })(), 10_000, "the take stream to end");
    await eventually(async () => (await req(srv.url, "GET", `/jobs/${jobId}`, undefined, bearer(NEXT))).body?.status === "ready", 10_000, "the job back to ready");
    // A bad file keeps the previous tokens.
    fs.writeFileSync(file, `admin ${SECRET}\nroot ${SECRET}x\n`);
    srv.child.kill("SIGHUP");
    await eventually(() => srv.logs().includes("kept the previous access tokens"), 10_000, "the reload error");
    assert.ok(srv.logs().includes("line 2: unknown scope"));
    assert.equal((await req(srv.url, "GET", "/jobs", undefined, bearer(NEXT))).status, 200);
    assert.equal((await req(srv.url, "GET", "/jobs", undefined, bearer(SECRET))).status, 401);

    for (const token of ALL) assert.ok(!srv.logs().includes(token), "a token reached the logs");
  });
});
