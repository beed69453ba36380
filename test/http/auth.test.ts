// Extension: access tokens (docs/api.md "Extensions"). The token file's rules (a bad line
// is named, its token never is), the scope each request needs, constant-time lookups by
// digest, and the real app behind withTokens over TLS with mTLS: 401 + WWW-Authenticate
// for a missing or unknown token, 403 for a short scope, both only after the handshake.

import assert from "node:assert/strict";
import https from "node:https";
import { after, before, describe, it } from "node:test";
import { toNodeHandler } from "h3/node";
import { decode as unpack } from "@msgpack/msgpack";
import { issueCertificate, type PemPair } from "../../lib/cli/tls.ts";
import { createApp } from "../../lib/http/app.ts";
import { TokenAuth, parseTokenFile, requiredScope } from "../../lib/http/auth.ts";
import { withTokens } from "../../lib/http/auth.ts";
import { listen, type Listener } from "../../lib/http/listen.ts";
import { createQueue, type Queue } from "../../lib/queue/queue.ts";
import { openStore, type Store } from "../../lib/storage/store.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";
import { h1Request, h2Connect, h2Request } from "./_transport.ts";

const READ = "read-token-0123456789abcdef";
const WRITE = "write-token-0123456789abcdef";
const ADMIN = "admin-token-0123456789abcdef";
const FILE = `# zizq tokens\n\nread ${READ}\nwrite   ${WRITE}\r\nadmin\t${ADMIN}\n`;

describe("token file", () => {
  it("parses scope/token lines, skipping blanks and comments", () => {
    assert.equal(parseTokenFile(FILE).length, 3);
    const auth = new TokenAuth(FILE);
    assert.equal(auth.scopeOf(READ), "read");
    assert.equal(auth.scopeOf(WRITE), "write");
    assert.equal(auth.scopeOf(ADMIN), "admin");
    assert.equal(auth.scopeOf("nope"), undefined);
    assert.equal(auth.scopeOf(READ + "x"), undefined);
  });

  it("names the bad line and never the token", () => {
    const secret = "s3cret-token-do-not-print-me";
    const cases: [string, RegExp][] = [
      [`read ${READ}\nsuper ${secret}\n`, /^f line 2: unknown scope \(expected read, write, admin\)$/],
      [`read ${READ}\n\nwrite ${secret} extra\n`, /^f line 3: expected "<scope> <token>" \(3 fields\)$/],
      [`${secret}\n`, /^f line 1: expected "<scope> <token>" \(1 fields\)$/],
      ["read short\n", /^f line 1: the token is shorter than 16 characters$/],
      [`read ${secret}é\n`, /^f line 1: the token must be printable ASCII without spaces$/],
      [`read ${secret}\nadmin ${secret}\n`, /^f line 2: the same token as line 1$/],
      ["# nothing\n\n", /^f: no tokens/],
    ];
    for (const [text, message] of cases) {
      assert.throws(() => parseTokenFile(text, "f"), (err: Error) => {
        assert.match(err.message, message);
        assert.ok(!err.message.includes(secret), "token leaked into the error");
        return true;
      });
    }
  });

  it("a reload with a bad file keeps the old tokens", () => {
    const auth = new TokenAuth(FILE);
    assert.throws(() => auth.reload("admin\n"));
    assert.equal(auth.scopeOf(ADMIN), "admin");
    auth.reload(`read ${ADMIN}\n`);
    assert.equal(auth.scopeOf(ADMIN), "read");
    assert.equal(auth.scopeOf(READ), undefined);
  });

  it("a reload closes held requests whose token no longer grants what they needed, and only those", () => {
    const auth = new TokenAuth(FILE);
    const closed: string[] = [];
    auth.hold(WRITE, "write", () => closed.push("write stream"));
    auth.hold(ADMIN, "write", () => closed.push("admin-token stream"));
    auth.hold(READ, "read", () => closed.push("read stream"));
    const release = auth.hold(READ, "read", () => closed.push("released"));
    release();
    assert.throws(() => auth.reload("admin\n"));
    assert.deepEqual(closed, [], "a bad file changes nothing");
    auth.reload(`read ${WRITE}\nadmin ${ADMIN}\n`); // WRITE lowered to read, READ revoked
    assert.deepEqual(closed.sort(), ["read stream", "write stream"]);
    auth.reload(`read ${WRITE}\n`);
    assert.deepEqual(closed.sort(), ["admin-token stream", "read stream", "write stream"]);
  });

  it("scopes: reads need read, take and writes need write, pause/resume/reset and the admin listener need admin", () => {
    assert.equal(requiredScope("GET", "/health", "primary"), undefined);
    assert.equal(requiredScope("GET", "/jobs", "primary"), "read");
    assert.equal(requiredScope("GET", "/queues/q", "primary"), "read");
    assert.equal(requiredScope("GET", "/jobs/take", "primary"), "write");
    assert.equal(requiredScope("POST", "/jobs", "primary"), "write");
    assert.equal(requiredScope("POST", "/jobs/retry", "primary"), "write");
    assert.equal(requiredScope("DELETE", "/jobs/x", "primary"), "write");
    assert.equal(requiredScope("POST", "/queues/q/pause", "primary"), "admin");
    assert.equal(requiredScope("POST", "/queues/q/resume", "primary"), "admin");
    assert.equal(requiredScope("POST", "/reset", "primary"), "admin");
    assert.equal(requiredScope("GET", "/health", "admin"), "admin");
    assert.equal(requiredScope("POST", "/backup", "admin"), "admin");
  });
});

describe("withTokens in front of the real app, over mTLS", () => {
  let store: Store;
  let queue: Queue;
  let listener: Listener;
  let ca: PemPair;
  let client: PemPair;
  const tls = () => ({ ca: ca.certPem, cert: client.certPem, key: client.keyPem });
  before(async () => {
    ca = issueCertificate({ kind: "ca", cn: "Zizq CA", days: 1 });
    const server = issueCertificate({ kind: "server", cn: "Zizq Server", days: 1, sans: ["localhost"], ca });
    client = issueCertificate({ kind: "client", cn: "worker", days: 1, ca });
    store = await openStore({ dir: tmpDir(), segmentBytes: 1024 * 1024 });
    queue = createQueue(store, { reaperIntervalMs: 0 });
    const app = createApp(queue, { logError: (err) => { throw err; } });
    listener = await listen(withTokens(toNodeHandler(app.app), new TokenAuth(FILE), "primary"), {
      host: "127.0.0.1", port: 0, tls: { cert: server.certPem, key: server.keyPem, clientCa: ca.certPem },
    });
  });
  after(async () => {
    await listener.close(100);
    queue.stop();
    await store.close();
    cleanupTmp();
  });

  const call = (method: string, path: string, token?: string, headers: Record<string, string> = {}, body?: string) =>
    h1Request(listener.url, method, path, { ...headers, ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) }, body, tls());

  it("401 with WWW-Authenticate for a missing or unknown token; nothing is written", async () => {
    const body = JSON.stringify({ type: "t", queue: "auth", payload: 1 });
    const missing = await call("POST", "/jobs", undefined, { "content-type": "application/json" }, body);
    assert.equal(missing.status, 401);
    assert.equal(missing.headers["www-authenticate"], 'Bearer realm="zizq"');
    assert.deepEqual(JSON.parse(missing.body.toString()), { error: "missing access token" });
    const wrong = await call("POST", "/jobs", "not-a-token-at-all-really", { "content-type": "application/json" }, body);
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers["www-authenticate"], 'Bearer realm="zizq", error="invalid_token"');
    assert.deepEqual(JSON.parse(wrong.body.toString()), { error: "invalid access token" });
    const basic = await h1Request(listener.url, "GET", "/jobs", { authorization: `Basic ${Buffer.from(`u:${READ}`).toString("base64")}` }, undefined, tls());
    assert.equal(basic.status, 401);
    assert.equal(store.table.size, 0);
    // MessagePack clients get the error in MessagePack.
    const packed = await call("GET", "/jobs", undefined, { accept: "application/msgpack" });
    assert.equal(packed.status, 401);
    assert.deepEqual(unpack(packed.body), { error: "missing access token" });
  });

  it("403 when the scope is short; write includes read, admin includes all", async () => {
    const forbidden = await call("POST", "/jobs", READ, { "content-type": "application/json" }, JSON.stringify({ type: "t", queue: "auth", payload: 1 }));
    assert.equal(forbidden.status, 403);
    assert.deepEqual(JSON.parse(forbidden.body.toString()), { error: "this token's scope is read; POST /jobs needs write" });
    assert.equal(store.table.size, 0);
    assert.equal((await call("GET", "/jobs", READ)).status, 200);
    assert.equal((await call("GET", "/jobs", WRITE)).status, 200);
    const created = await call("POST", "/jobs", WRITE, { "content-type": "application/json" }, JSON.stringify({ type: "t", queue: "auth", payload: 1 }));
    assert.equal(created.status, 201);
    assert.equal((await call("POST", "/queues/auth/pause", WRITE)).status, 403);
    assert.equal((await call("POST", "/queues/auth/pause", ADMIN)).status, 200);
    assert.equal((await call("POST", "/queues/auth/resume", ADMIN)).status, 200);
    assert.equal((await call("GET", "/health")).status, 200);
    assert.equal((await call("GET", "/jobs", `  ${READ}`)).status, 200, "extra spaces after Bearer");
    assert.equal((await h1Request(listener.url, "GET", "/jobs", { authorization: `bearer ${READ}` }, undefined, tls())).status, 200);
  });

  it("a target the router reads differently is judged as the router reads it: no spelling passes as a lesser route", async () => {
    // The check used to judge the raw path: `POST /reset\\` passed as a plain write and the
    // router (which reads `\\` as `/` and drops `#…`) reset the store.
    const raw = (method: string, target: string, token: string) => new Promise<number>((resolve, reject) => {
      const { hostname, port } = new URL(listener.url);
      const r = https.request({ hostname, port, path: target, method, agent: false, servername: "localhost", ...tls(), headers: { authorization: `Bearer ${token}` } }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode!));
      });
      r.on("error", reject);
      r.end();
    });
    assert.equal((await call("POST", "/jobs", WRITE, { "content-type": "application/json" }, JSON.stringify({ type: "t", queue: "spell", payload: 1 }))).status, 201);
    const jobs = store.table.size;
    for (const target of ["/jobs\\take", "/x/..\\jobs/take", "/jobs/take#"]) assert.equal(await raw("GET", target, READ), 403, target);
    const origin = new URL(listener.url).origin;
    for (const target of ["/reset\\", "/reset#", "/queues/spell\\pause", "/queues/spell/pause\\", `${origin}/queues/spell/pause`, `${origin}/reset`]) {
      assert.equal(await raw("POST", target, WRITE), 403, target);
    }
    // With the scope, a malformed spelling reaches nothing; the absolute form is the route.
    assert.equal(await raw("POST", "/reset\\", ADMIN), 404);
    assert.equal(await raw("POST", `${origin}/queues/spell/pause`, ADMIN), 200);
    assert.equal(store.table.size, jobs, "a job went away");
    assert.equal((await call("POST", "/queues/spell/resume", ADMIN)).status, 200);
  });

  it("the same over HTTP/2", async () => {
    const session = await h2Connect(listener.url, tls());
    try {
      const refused = await h2Request(session, "GET", "/jobs", {});
      assert.equal(refused.status, 401);
      assert.equal(refused.headers["www-authenticate"], 'Bearer realm="zizq"');
      assert.deepEqual(JSON.parse(refused.body.toString()), { error: "missing access token" });
      assert.equal((await h2Request(session, "GET", "/jobs", { authorization: `Bearer ${READ}` })).status, 200);
    } finally {
      session.close();
    }
  });

  it("mTLS still refuses a client without a certificate, token or not", async () => {
    await assert.rejects(h1Request(listener.url, "GET", "/jobs", { authorization: `Bearer ${ADMIN}` }, undefined, { ca: ca.certPem }), {
      code: "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED",
    });
  });
});
