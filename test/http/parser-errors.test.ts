// Issue 12 §6 and §7: errors Node's HTTP/1.1 parser answers itself (431, 417, 400) carry a
// JSON body; an id= list of the page limit (2,000 ids) fits; and a 413 reaches a client
// that is still uploading, Connection: close or not, instead of a reset.

import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { MAX_HEADER_BYTES } from "../../lib/http/_client-errors.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { cleanupTmp } from "../helpers/tmp.ts";
import { h2Connect, h2Request } from "./_transport.ts";

interface RawAnswer {
  status: number;
  headers: string;
  body: string;
  /** A socket error the client saw (EPIPE, ECONNRESET), if any. */
  error?: string;
}

/** Sends `head` (and then `body` chunks, as fast as the socket takes them) on a fresh socket. */
function raw(url: string, head: string, body?: { bytes: number; chunked: boolean }): Promise<RawAnswer> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(u.port), u.hostname);
    let got = "";
    let error: string | undefined;
    socket.on("data", (d) => { got += d; });
    socket.on("error", (e) => { error = e.message; });
    socket.on("close", () => {
      const [headers, ...rest] = got.split("\r\n\r\n");
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(headers ?? "")?.[1] ?? 0);
      resolve({ status, headers: headers ?? "", body: rest.join("\r\n\r\n"), error });
    });
    socket.write(head);
    if (!body) return;
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let sent = 0;
    const pump = (): void => {
      while (sent < body.bytes && !socket.destroyed) {
        sent += chunk.length;
        const data = body.chunked ? Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n")]) : chunk;
        if (!socket.write(data)) {
          socket.once("drain", pump);
          return;
        }
      }
      if (body.chunked && !socket.destroyed) socket.write("0\r\n\r\n");
    };
    pump();
  });
}

/** The body of a chunked response, de-chunked. */
function dechunk(body: string): string {
  let out = "";
  for (let rest = body; ;) {
    const eol = rest.indexOf("\r\n");
    const size = parseInt(rest.slice(0, eol), 16);
    if (!(size > 0)) return out;
    out += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
}

const jsonError = (a: RawAnswer) => {
  assert.match(a.headers, /content-type: application\/json/i, a.headers);
  const body = /transfer-encoding: chunked/i.test(a.headers) ? dechunk(a.body) : a.body;
  return (JSON.parse(body) as { error: string }).error;
};

describe("parser-level errors and 413s", () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ maxBodyBytes: 1024 * 1024 });
  });
  after(async () => {
    await s.close();
    cleanupTmp();
  });

  const ids = (n: number) => Array.from({ length: n }, (_, i) => String(i).padStart(25, "0")).join(",");

  it("an id= list of 2,000 ids (the page limit) works over HTTP/1.1 and h2c", async () => {
    const a = await raw(s.url, `GET /jobs/count?id=${ids(2000)} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`);
    assert.equal(a.status, 200, a.headers);
    assert.deepEqual(JSON.parse(a.body), { count: 0 });
    const session = await h2Connect(s.url);
    try {
      const r = await h2Request(session, "GET", `/jobs/count?id=${ids(2000)}`, {}, undefined, { endStream: true });
      assert.equal(r.status, 200);
    } finally {
      session.close();
    }
  });

  it("a request line over the limit is a JSON 431", async () => {
    const a = await raw(s.url, `GET /jobs/count?id=${ids(3000)} HTTP/1.1\r\nhost: x\r\n\r\n`);
    assert.equal(a.status, 431);
    assert.equal(jsonError(a), `request line and headers too large (limit ${MAX_HEADER_BYTES} bytes)`);
  });

  it("Expect: the-unexpected is a JSON 417; an unparseable request a JSON 400", async () => {
    const a = await raw(s.url, "GET /health HTTP/1.1\r\nhost: x\r\nexpect: the-unexpected\r\n\r\n");
    assert.equal(a.status, 417);
    assert.match(jsonError(a), /^expectation failed/);
    const b = await raw(s.url, "GARBAGE\r\n\r\n");
    assert.equal(b.status, 400);
    assert.match(jsonError(b), /^bad request/);
  });

  it("HTTP/1.1 without Host is a JSON 400 (HTTP/1.0 needs none); CONNECT a JSON 405", async () => {
    const a = await raw(s.url, "GET /health HTTP/1.1\r\n\r\n");
    assert.equal(a.status, 400, a.headers);
    assert.equal(jsonError(a), "bad request: an HTTP/1.1 request needs a Host header");
    const old = await raw(s.url, "GET /health HTTP/1.0\r\n\r\n");
    assert.match(old.headers, /^HTTP\/1\.1 200 /);
    assert.equal(JSON.parse(old.body).status, "ok");
    const c = await raw(s.url, "CONNECT example.com:443 HTTP/1.1\r\nhost: example.com:443\r\n\r\n");
    assert.equal(c.status, 405, c.headers);
    assert.equal(jsonError(c), "method not allowed");
    assert.equal((await fetch(`${s.url}/health`)).status, 200);
  });

  for (const chunked of [false, true]) {
    for (const close of [true, false]) {
      it(`a 413 reaches a client still uploading 8 MiB (${chunked ? "chunked" : "content-length"}, ${close ? "Connection: close" : "keep-alive"})`, async () => {
        for (let i = 0; i < 3; i++) {
          const bytes = 8 * 1024 * 1024;
          const head = `POST /jobs HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n` +
            `${chunked ? "transfer-encoding: chunked" : `content-length: ${bytes}`}\r\n${close ? "connection: close\r\n" : ""}\r\n`;
          const a = await raw(s.url, head, { bytes, chunked });
          assert.equal(a.error, undefined, `the client saw ${a.error}`);
          assert.equal(a.status, 413, a.headers);
          assert.equal(jsonError(a), "request body too large (limit 1048576 bytes)");
        }
        assert.equal((await fetch(`${s.url}/health`)).status, 200);
      });
    }
  }
});
