// listen(): one plain port serving HTTP/1.1 and h2c, TLS with ALPN h2/http1.1, and close()
// semantics, exercised over real sockets with a tiny h3 app (test/http/_transport.ts).

import assert from "node:assert/strict";
import http from "node:http";
import type http2 from "node:http2";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { toNodeHandler } from "h3/node";
// An independent decoder (not the one under test); it reads uint64 as number.
import { decode as unpack } from "@msgpack/msgpack";
import { issueCertificate, type PemPair } from "../../lib/cli/tls.ts";
import { encodeMsgpack } from "../../lib/http/codec.ts";
import { listen, type Listener } from "../../lib/http/listen.ts";
import { createTestApp, h1Request, h2Connect, h2Request, waitFor, type TestApp } from "./_transport.ts";

const JSON_HEADERS = { "content-type": "application/json", accept: "application/json" };
const MSGPACK_HEADERS = { "content-type": "application/msgpack", accept: "application/msgpack" };
const PAYLOAD = { name: "ünï", at: 1_735_689_600_000, list: [1, 2.5, null, true] };

describe("listen: plain TCP serves HTTP/1.1 and h2c on one port", () => {
  let t: TestApp;
  let listener: Listener;
  let session: http2.ClientHttp2Session;
  before(async () => {
    t = createTestApp();
    // A short h2 idle ping, so a connection nghttp2 gave up on is found quickly.
    listener = await listen(toNodeHandler(t.app), { host: "127.0.0.1", port: 0, h2IdlePingMs: 50 });
    session = await h2Connect(listener.url);
  });
  after(async () => {
    session.close();
    await listener.close(100);
  });

  it("port 0 binds a real ephemeral port and reports it", async () => {
    assert.notEqual(listener.port, 0);
    assert.equal(listener.url, `http://127.0.0.1:${listener.port}`);
    assert.equal(listener.scheme, "http");
    const other = await listen(toNodeHandler(t.app), { host: "127.0.0.1", port: 0 });
    assert.notEqual(other.port, listener.port);
    await other.close();
  });

  it("HTTP/1.1 echoes JSON", async () => {
    const res = await h1Request(listener.url, "POST", "/echo", JSON_HEADERS, JSON.stringify(PAYLOAD));
    assert.equal(res.status, 200);
    assert.equal(res.headers["content-type"], "application/json");
    assert.deepEqual(JSON.parse(res.body.toString()), { echo: PAYLOAD, httpVersion: "1.1" });
  });

  it("HTTP/1.1 echoes MessagePack, timestamps as uint64", async () => {
    const res = await h1Request(listener.url, "POST", "/echo", MSGPACK_HEADERS, encodeMsgpack(PAYLOAD));
    assert.equal(res.headers["content-type"], "application/msgpack");
    assert.deepEqual(unpack(res.body) as unknown, { echo: PAYLOAD, httpVersion: "1.1" });
    assert.ok(res.body.includes(Buffer.from([0xcf, 0x00, 0x00, 0x01, 0x94])), "at is written as 0xcf uint64");
  });

  it("HTTP/1.1 keep-alive serves several requests on one socket", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const ports = new Set<number>();
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((resolve, reject) => {
        const req = http.request(`${listener.url}/echo`, { method: "POST", agent, headers: JSON_HEADERS }, (res) => {
          ports.add(res.socket.localPort!);
          res.resume().on("end", resolve);
        });
        req.on("error", reject);
        req.end("{}");
      });
    }
    agent.destroy();
    assert.equal(ports.size, 1);
  });

  it("h2c (prior knowledge) echoes JSON and MessagePack", async () => {
    const json = await h2Request(session, "POST", "/echo", JSON_HEADERS, JSON.stringify(PAYLOAD));
    assert.equal(json.status, 200);
    assert.deepEqual(JSON.parse(json.body.toString()), { echo: PAYLOAD, httpVersion: "2.0" });
    const msgpack = await h2Request(session, "POST", "/echo", MSGPACK_HEADERS, encodeMsgpack(PAYLOAD));
    assert.equal(msgpack.headers["content-type"], "application/msgpack");
    assert.deepEqual(unpack(msgpack.body), { echo: PAYLOAD, httpVersion: "2.0" });
  });

  it("h2 204 is HEADERS with END_STREAM and no DATA frame", async () => {
    const res = await h2Request(session, "POST", "/empty");
    assert.equal(res.status, 204);
    assert.equal(res.endAfterHeaders, true);
    assert.equal(res.dataEvents, 0);
  });

  it("a preface split over several packets is still h2c", async () => {
    const socket = net.connect(listener.port, "127.0.0.1");
    await new Promise((resolve) => socket.once("connect", resolve));
    socket.write("P");
    // The rest of the preface plus an empty SETTINGS frame; the server answers with SETTINGS.
    await new Promise((resolve) => setImmediate(resolve));
    socket.write(Buffer.concat([Buffer.from("RI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]));
    const first = await new Promise<Buffer>((resolve) => socket.once("data", resolve));
    assert.equal(first[3], 0x04, "server speaks h2: first frame is SETTINGS");
    socket.destroy();
  });

  it("an HTTP/1.1 request sent byte by byte (first byte matches the preface) is HTTP/1.1", async () => {
    const socket = net.connect(listener.port, "127.0.0.1");
    await new Promise((resolve) => socket.once("connect", resolve));
    socket.setNoDelay(true);
    let received = "";
    socket.on("data", (c: Buffer) => (received += c.toString()));
    const request = "POST /echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 3\r\nconnection: close\r\n\r\n[7]";
    for (const byte of request) {
      socket.write(byte);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await new Promise((resolve) => socket.once("close", resolve));
    assert.match(received, /^HTTP\/1\.1 200/);
    assert.ok(received.includes('{"echo":[7],"httpVersion":"1.1"}'), received);
  });

  it("1 MiB bodies pass through the sniffer on both protocols", async () => {
    const big = { blob: "x".repeat(1024 * 1024) };
    const h1 = await h1Request(listener.url, "POST", "/echo", JSON_HEADERS, JSON.stringify(big));
    assert.equal(JSON.parse(h1.body.toString()).echo.blob.length, big.blob.length);
    const h2 = await h2Request(session, "POST", "/echo", JSON_HEADERS, JSON.stringify(big));
    assert.equal(JSON.parse(h2.body.toString()).echo.blob.length, big.blob.length);
  });

  it("garbage frames after the h2 preface close that connection; others keep working", async () => {
    const socket = net.connect(listener.port, "127.0.0.1");
    await new Promise((resolve) => socket.once("connect", resolve));
    const closed = new Promise((resolve) => socket.on("close", resolve));
    socket.on("error", () => {});
    socket.resume();
    // SETTINGS frame whose length (5) is not a multiple of 6: a connection error.
    socket.write(Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), Buffer.from([0, 0, 5, 4, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5])]));
    await closed;
    const res = await h2Request(session, "POST", "/echo", JSON_HEADERS, "[1]");
    assert.equal(res.status, 200);
    const h1 = await h1Request(listener.url, "POST", "/echo", JSON_HEADERS, "[2]");
    assert.equal(h1.status, 200);
  });

  it("a stalled loop while a PING is outstanding does not convict a healthy h2 session", async () => {
    // The failure this pins: under a loaded machine the liveness guard fired before the
    // PING's ACK was read, and the server destroyed a healthy session (the shared one above).
    const own = await h2Connect(listener.url);
    own.on("error", () => {});
    let stalls = 0;
    await new Promise<void>((resolve) => {
      own.on("ping", () => {
        // Block this process (server and client both live here) for longer than the whole
        // guard window, right after the server's PING arrived: a stall, not a sleep.
        const until = Date.now() + 120;
        while (Date.now() < until);
        if (++stalls === 3) resolve();
      });
      own.once("close", () => resolve());
    });
    assert.equal(own.destroyed, false, "session survived the stalls");
    const res = await h2Request(own, "POST", "/echo", JSON_HEADERS, "[3]");
    assert.equal(res.status, 200);
    own.close();
  });

  it("unknown errors become a logged generic 500", async () => {
    const res = await h1Request(listener.url, "GET", "/boom");
    assert.equal(res.status, 500);
    assert.deepEqual(JSON.parse(res.body.toString()), { error: "internal server error" });
    assert.equal((t.logged.at(-1) as Error).message, "secret detail");
  });
});

describe("listen: TLS with ALPN h2 and http/1.1", () => {
  let t: TestApp;
  let listener: Listener;
  let ca: PemPair;
  before(async () => {
    ca = issueCertificate({ kind: "ca", cn: "Test CA", days: 1 });
    const server = issueCertificate({ kind: "server", cn: "Test Server", days: 1, sans: ["localhost", "127.0.0.1"], ca });
    t = createTestApp();
    listener = await listen(toNodeHandler(t.app), {
      host: "127.0.0.1",
      port: 0,
      tls: { cert: server.certPem, key: server.keyPem },
    });
  });
  after(() => listener.close(100));

  it("reports an https URL", () => {
    assert.equal(listener.scheme, "https");
    assert.equal(listener.url, `https://127.0.0.1:${listener.port}`);
  });

  it("h2 over TLS echoes JSON and MessagePack; 204 has no DATA", async () => {
    const session = await h2Connect(listener.url, { ca: ca.certPem });
    try {
      assert.equal(session.alpnProtocol, "h2");
      const json = await h2Request(session, "POST", "/echo", JSON_HEADERS, JSON.stringify(PAYLOAD));
      assert.deepEqual(JSON.parse(json.body.toString()), { echo: PAYLOAD, httpVersion: "2.0" });
      const msgpack = await h2Request(session, "POST", "/echo", MSGPACK_HEADERS, encodeMsgpack(PAYLOAD));
      assert.deepEqual(unpack(msgpack.body), { echo: PAYLOAD, httpVersion: "2.0" });
      const empty = await h2Request(session, "POST", "/empty");
      assert.deepEqual([empty.status, empty.endAfterHeaders, empty.dataEvents], [204, true, 0]);
    } finally {
      session.close();
    }
  });

  it("HTTP/1.1 over TLS echoes JSON and MessagePack", async () => {
    const tls = { ca: ca.certPem };
    const json = await h1Request(listener.url, "POST", "/echo", JSON_HEADERS, JSON.stringify(PAYLOAD), tls);
    assert.deepEqual(JSON.parse(json.body.toString()), { echo: PAYLOAD, httpVersion: "1.1" });
    const msgpack = await h1Request(listener.url, "POST", "/echo", MSGPACK_HEADERS, encodeMsgpack(PAYLOAD), tls);
    assert.deepEqual(unpack(msgpack.body), { echo: PAYLOAD, httpVersion: "1.1" });
  });
});

describe("listen: close()", () => {
  it("lets an in-flight request finish, refuses new connections, closes idle keep-alive", { timeout: 20_000 }, async () => {
    const t = createTestApp();
    const listener = await listen(toNodeHandler(t.app), { host: "127.0.0.1", port: 0 });
    const agent = new http.Agent({ keepAlive: true });
    const idle = await new Promise<net.Socket>((resolve) => {
      const req = http.get(`${listener.url}/boom`, { agent }, (res) => res.resume().on("end", () => resolve(req.socket!)));
    });
    const idleClosed = new Promise((resolve) => idle.once("close", resolve));
    const slow = h1Request(listener.url, "GET", "/slow");
    await waitFor(() => t.slowPending() === 1, "/slow in its handler");
    // A long grace: close must not need it (idle sockets go at once, /slow is released).
    const closing = listener.close(60_000);
    await idleClosed;
    await assert.rejects(h1Request(listener.url, "GET", "/slow"), /ECONNREFUSED/);
    t.releaseSlow();
    const res = await slow;
    assert.deepEqual([res.status, res.body.toString(), res.headers.connection], [200, "done", "close"]);
    await closing;
    agent.destroy();
  });

  it("sends GOAWAY to h2 sessions", async () => {
    const t = createTestApp();
    const listener = await listen(toNodeHandler(t.app), { host: "127.0.0.1", port: 0 });
    const session = await h2Connect(listener.url);
    await h2Request(session, "POST", "/empty");
    const goaway = new Promise((resolve) => session.once("goaway", resolve));
    const closing = listener.close(60_000);
    await goaway;
    session.close();
    await closing;
  });

  it("does not wait beyond graceMs for a live stream, which sees its cancel", { timeout: 20_000 }, async () => {
    const t = createTestApp();
    const listener = await listen(toNodeHandler(t.app), { host: "127.0.0.1", port: 0 });
    const ended = new Promise<void>((resolve) => {
      http.get(`${listener.url}/take`, (res) => {
        res.resume();
        res.on("close", () => resolve());
      });
    });
    await waitFor(() => t.streams.length === 1, "stream open");
    await listener.close(50);
    await ended;
    await waitFor(() => t.streams[0].cancelled === 1, "onCancel");
  });

  it("over TLS too: a live h2 stream is cut at graceMs and sees its cancel", { timeout: 20_000 }, async () => {
    const ca = issueCertificate({ kind: "ca", cn: "Test CA", days: 1 });
    const server = issueCertificate({ kind: "server", cn: "Test Server", days: 1, sans: ["localhost"], ca });
    const t = createTestApp();
    const listener = await listen(toNodeHandler(t.app), {
      host: "127.0.0.1",
      port: 0,
      tls: { cert: server.certPem, key: server.keyPem },
    });
    const session = await h2Connect(listener.url, { ca: ca.certPem });
    session.on("error", () => {});
    const stream = session.request({ ":path": "/take" });
    stream.on("error", () => {});
    stream.resume();
    await waitFor(() => t.streams.length === 1, "stream open");
    await listener.close(50);
    await waitFor(() => t.streams[0].cancelled === 1, "onCancel");
    await waitFor(() => session.destroyed || session.closed, "client session ended");
  });
});
