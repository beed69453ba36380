// Issue 12 §1: an empty id, a trailing slash, an empty or dot path segment never reaches a
// collection route. Every route with a path parameter, every method, both protocols, both
// listeners; the jobs and cron groups are all still there (unpatched) afterwards.

import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { toNodeHandler } from "h3/node";
import { createAdminApp } from "../../lib/http/admin.ts";
import { listen, type Listener } from "../../lib/http/listen.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { cleanupTmp } from "../helpers/tmp.ts";
import { enqueueBulk, req } from "./_client.ts";
import { h1Request, h2Connect, h2Request } from "./_transport.ts";

/** Each path-parameter route of the primary app with its methods (app.ts METHODS). */
const PARAM_ROUTES: [string, string[]][] = [
  ["/jobs/:id", ["GET", "DELETE", "PATCH"]],
  ["/jobs/:id/success", ["POST"]],
  ["/jobs/:id/failure", ["POST"]],
  ["/jobs/:id/errors", ["GET"]],
  ["/jobs/:id/errors/:attempt", ["GET"]],
  ["/crons/:group", ["GET", "PUT", "PATCH", "DELETE"]],
  ["/crons/:group/entries", ["POST"]],
  ["/crons/:group/entries/:entry", ["GET", "PUT", "PATCH", "DELETE"]],
];

/** Spellings of "no value here" for one parameter. */
const HOLES = ["", ".", "..", "%2e", "%2E%2e"];

/** Every path with one parameter replaced by a hole (the others are real values). */
function holedPaths(pattern: string, real: Record<string, string>): string[] {
  const params = pattern.match(/:\w+/g) ?? [];
  const out: string[] = [];
  for (const hole of params) {
    for (const h of HOLES) {
      out.push(pattern.replace(/:\w+/g, (p) => (p === hole ? h : real[p])));
    }
  }
  // Collection paths with a trailing slash or a doubled one.
  out.push(pattern.split("/:")[0] + "/", pattern.split("/:")[0] + "//");
  return out;
}

const BODY = JSON.stringify({ priority: 4321, paused: true, entries: [], name: "e", expression: "* * * * *", message: "m", job: { type: "t" } });

describe("paths with an empty or dot segment", () => {
  let s: TestServer;
  let admin: Listener;
  let ids: string[];
  before(async () => {
    s = await startServer();
    ids = (await enqueueBulk(s.url, [{ queue: "keep" }, { queue: "keep" }, { queue: "keep" }])).map((j) => j.id as string);
    const cron = { entries: [{ name: "e", expression: "0 0 1 1 *", job: { type: "t", queue: "cq", payload: null } }] };
    assert.equal((await req(s.url, "PUT", "/crons/g", cron)).status, 200);
    admin = await listen(toNodeHandler(createAdminApp(s.queue, { logError: (e) => { throw e; } })), { host: "127.0.0.1", port: 0 });
  });
  after(async () => {
    await admin?.close(100);
    await s.close();
    cleanupTmp();
  });

  const assertIntact = async () => {
    const list = await req(s.url, "GET", "/jobs?queue=keep");
    assert.deepEqual(list.body!.jobs.map((j: { id: string }) => j.id), ids);
    for (const j of list.body!.jobs) assert.equal(j.priority, 32768);
    assert.deepEqual((await req(s.url, "GET", "/crons")).body, { crons: ["g"] });
    assert.equal((await req(s.url, "GET", "/crons/g")).body!.paused, false);
  };

  it("answer a JSON 404 over HTTP/1.1 and h2c; nothing is deleted or patched", async () => {
    const real = { ":id": ids[0], ":attempt": "1", ":group": "g", ":entry": "e" };
    const session = await h2Connect(s.url);
    try {
      for (const [pattern, methods] of PARAM_ROUTES) {
        for (const path of holedPaths(pattern, real)) {
          for (const method of methods) {
            const body = method === "GET" ? undefined : BODY;
            // An explicit length: node:http sends a DELETE body with neither length nor chunking.
            const headers: Record<string, string> = body ? { "content-type": "application/json", "content-length": String(body.length) } : {};
            for (const [proto, r] of [
              ["h1", await h1Request(s.url, method, path, headers, body)],
              ["h2", await h2Request(session, method, path, headers, body, { endStream: body === undefined })],
            ] as const) {
              const what = `${proto} ${method} ${path}`;
              // 405: the client itself resolved a dot segment (`/jobs/./failure` → `/jobs/failure`).
              assert.ok([400, 404, 405].includes(r.status), `${what}: ${r.status} ${r.body}`);
              assert.equal(r.headers["content-type"], "application/json", `${what}: ${r.status} ${r.body}`);
              assert.equal(typeof JSON.parse(r.body.toString()).error, "string", what);
            }
          }
        }
      }
    } finally {
      session.close();
    }
    await assertIntact();
  });

  it("the collections too: DELETE /jobs/, PATCH /jobs/, DELETE /crons/, GET /jobs/count/", async () => {
    for (const [method, path] of [["DELETE", "/jobs/"], ["PATCH", "/jobs/"], ["DELETE", "/crons/"], ["DELETE", "/jobs//"], ["GET", "/jobs/count/"]]) {
      const r = await req(s.url, method, path, method === "PATCH" ? { priority: 4321 } : undefined);
      assert.equal(r.status, 404, `${method} ${path}`);
      assert.deepEqual(r.body, { error: "not found" });
    }
    await assertIntact();
  });

  it("a request line with stray spaces (`PATCH /jobs/  HTTP/1.1`) is a 404", async () => {
    const url = new URL(s.url);
    for (const line of ["PATCH /jobs/  HTTP/1.1", "DELETE /jobs/  HTTP/1.1", "DELETE /crons/   HTTP/1.1"]) {
      const body = '{"priority":4321}';
      const answer = await new Promise<string>((resolve, reject) => {
        const c = net.connect(Number(url.port), url.hostname);
        let out = "";
        c.on("data", (d) => { out += d; });
        c.on("end", () => resolve(out));
        c.on("error", reject);
        c.end(`${line}\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
      });
      assert.match(answer, /^HTTP\/1\.1 (404|400) /, `${line}: ${answer}`);
      assert.match(answer, /"error"/, line);
    }
    await assertIntact();
  });

  it("admin listener: `/backup/` and `/compact/` are unknown paths; `/%` is a JSON 400, not a 500", async () => {
    for (const path of ["/backup/", "/compact/", "/compact//", "/backup/.", "/backup//"]) {
      const r = await h1Request(admin.url, "POST", path);
      assert.equal(r.status, 404, path);
    }
    for (const method of ["GET", "HEAD", "OPTIONS", "POST"]) {
      const r = await h1Request(admin.url, method, "/%");
      assert.equal(r.status, 400, `${method} /%`);
      assert.equal(r.headers["content-type"], "application/json");
      if (method !== "HEAD") assert.equal(typeof JSON.parse(r.body.toString()).error, "string");
    }
    await assertIntact();
  });
});

describe("request targets in other forms", () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
    await enqueueBulk(s.url, [{ queue: "keep" }, { queue: "keep" }]);
  });
  after(async () => {
    await s.close();
    cleanupTmp();
  });

  const rawLine = (line: string) => new Promise<string>((resolve, reject) => {
    const url = new URL(s.url);
    const c = net.connect(Number(url.port), url.hostname);
    let out = "";
    c.on("data", (d) => { out += d; });
    c.on("end", () => resolve(out));
    c.on("error", reject);
    c.end(`${line}\r\nhost: x\r\nconnection: close\r\n\r\n`);
  });

  it("absolute-form and relative targets with a trailing slash are 404s; absolute-form works otherwise", async () => {
    for (const line of [`DELETE ${s.url}/jobs/ HTTP/1.1`, "DELETE jobs/ HTTP/1.1", "DELETE jobs HTTP/1.1"]) {
      const answer = await rawLine(line);
      assert.match(answer, /^HTTP\/1\.1 (404|400) /, `${line}: ${answer}`);
    }
    assert.match(await rawLine(`GET ${s.url}/jobs/count HTTP/1.1`), /^HTTP\/1\.1 200 [\s\S]*"count":2/);
    assert.equal((await req(s.url, "GET", "/jobs/count?queue=keep")).body!.count, 2);
  });
});

describe("names holding '/' in a path segment", () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
  });
  after(async () => {
    await s.close();
    cleanupTmp();
  });

  // A client sends encodeURIComponent(name): "a/b" arrives as a%2Fb and must be stored as
  // "a/b", as the reference server does, not as the text "a%2Fb" (h3's decode keeps %2F).
  it("a cron group and entry, a paused queue and a budget key round-trip decoded", async () => {
    const job = { type: "t", queue: "cq", payload: null };
    const put = await req(s.url, "PUT", "/crons/nightly%2Feu", { entries: [{ name: "at%2F9", expression: "0 9 * * *", job }] });
    assert.equal(put.status, 200);
    assert.equal(put.body!.name, "nightly/eu");
    assert.deepEqual((await req(s.url, "GET", "/crons")).body, { crons: ["nightly/eu"] });
    const added = await req(s.url, "POST", "/crons/nightly%2Feu/entries", { name: "x/y", expression: "0 10 * * *", job });
    assert.equal(added.status, 201);
    assert.equal((await req(s.url, "GET", "/crons/nightly%2Feu/entries/x%2Fy")).body!.name, "x/y");
    assert.equal((await req(s.url, "DELETE", "/crons/nightly%2Feu")).status, 204);
    assert.deepEqual((await req(s.url, "GET", "/crons")).body, { crons: [] });

    assert.equal((await req(s.url, "POST", "/queues/mail%2Fbulk/pause")).status, 200);
    assert.equal((await req(s.url, "GET", "/queues/mail%2Fbulk")).body!.paused, true);

    const budget = await req(s.url, "POST", "/budgets/api%2Fv2", { allocation: 2, strategy: { type: "while_in_flight" } });
    assert.equal(budget.body!.key, "api/v2");
  });

  it("a bad escape is a JSON 400, not a 500", async () => {
    for (const path of ["/crons/bad%zz", "/queues/bad%zz/pause", "/budgets/bad%zz"]) {
      const r = await req(s.url, path === "/crons/bad%zz" ? "GET" : "POST", path);
      assert.equal(r.status, 400, path);
      assert.equal(typeof r.body!.error, "string", path);
    }
  });
});
