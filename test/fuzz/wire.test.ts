// Fuzz at the wire: hostile headers, raw TCP garbage, partial h2 prefaces, random h2 frames,
// slow and half-open connections. Whatever the server still answers is a 2xx or a 4xx
// JSON error; connections end within a bounded time; the server keeps serving HTTP/1.1
// and h2 and keeps every job. Replay with the printed ZIZQ_SEED.

import assert from "node:assert/strict";
import net from "node:net";
import { describe, it } from "node:test";
import fc from "fast-check";
import { assertAnswer, fuzz } from "../helpers/fuzz.ts";
import { h2Connect, h2Request } from "../http/_transport.ts";
import { useFuzzServer } from "./_setup.ts";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

interface Exchange {
  /** Everything the server sent before closing (or before the bound). */
  got: Buffer;
  /** The socket was closed by the server within the bound. */
  closed: boolean;
}

/** Writes `chunks` (waiting `gapMs` between them), half-closes, and collects the answer. */
function exchange(url: string, chunks: Buffer[], { gapMs = 0, end = true, boundMs = 20_000 } = {}): Promise<Exchange> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(u.port), u.hostname);
    const parts: Buffer[] = [];
    let closed = false;
    const timer = setTimeout(() => {
      socket.destroy();
    }, boundMs);
    socket.on("data", (d: Buffer) => parts.push(d));
    socket.on("error", () => {});
    socket.on("end", () => {
      closed = true;
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ got: Buffer.concat(parts), closed: closed || parts.length > 0 });
    });
    (async () => {
      for (const chunk of chunks) {
        if (socket.destroyed) return;
        socket.write(chunk);
        if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
      }
      if (end && !socket.destroyed) socket.end();
    })();
  });
}

/** The first HTTP/1.1 response in `raw`, if any (body de-chunked or cut to content-length). */
function firstResponse(raw: Buffer): { status: number; contentType?: string; body: Buffer; head: boolean } | undefined {
  const text = raw.toString("latin1");
  const m = /^HTTP\/1\.1 (\d{3})[^\r\n]*\r\n/.exec(text);
  if (!m) return undefined;
  const headEnd = text.indexOf("\r\n\r\n");
  if (headEnd === -1) return { status: Number(m[1]), body: Buffer.alloc(0), head: true };
  const head = text.slice(0, headEnd);
  const contentType = /\r\ncontent-type: *([^\r\n]*)/i.exec(head)?.[1];
  let body = raw.subarray(headEnd + 4);
  if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
    const out: Buffer[] = [];
    let rest = body;
    for (;;) {
      const eol = rest.indexOf("\r\n");
      const size = eol === -1 ? 0 : parseInt(rest.subarray(0, eol).toString(), 16);
      if (!(size > 0)) break;
      out.push(rest.subarray(eol + 2, eol + 2 + size));
      rest = rest.subarray(eol + 2 + size + 2);
    }
    body = Buffer.concat(out);
  } else {
    const length = /\r\ncontent-length: *(\d+)/i.exec(head)?.[1];
    body = body.subarray(0, length === undefined ? 0 : Number(length));
  }
  return { status: Number(m[1]), contentType, body, head: false };
}

function assertRawAnswer(x: Exchange, what: string, headRequest = false): void {
  const r = firstResponse(x.got);
  if (!r) {
    // Nothing HTTP came back: fine for garbage and h2, as long as the server hung up.
    assert.ok(x.closed || x.got.length === 0, `${what}: ${x.got.toString("latin1").slice(0, 100)}`);
    return;
  }
  if (r.status < 200) return; // 100-continue and friends
  assertAnswer({ status: r.status, contentType: r.contentType, body: r.body }, what, headRequest || r.head);
}

describe("fuzz: the wire", () => {
  const f = useFuzzServer();

  const assertServing = async () => {
    await f.assertKept();
    const session = await h2Connect(f.s.url);
    try {
      assert.equal((await h2Request(session, "GET", "/health", {}, undefined, { endStream: true })).status, 200);
    } finally {
      session.close();
    }
  };

  it("hostile headers", async () => {
    const headerName = fc.oneof(
      fc.constantFrom("accept", "content-type", "content-length", "transfer-encoding", "expect", "connection", "host", "te", "upgrade", "x-zizq", "Content-Length", "accept-encoding"),
      fc.stringMatching(/^[a-zA-Z0-9!#$%&'*+.^_`|~-]{1,12}$/),
    );
    const headerValue = fc.oneof(
      fc.constantFrom("application/json", "application/msgpack", "application/x-ndjson", "text/event-stream", "*/*", "application/*;q=0", "chunked", "gzip, chunked", "100-continue", "the-unexpected", "close", "keep-alive", "-1", "99999999999999999999", "0", "5", "", "h2c", "trailers"),
      fc.string({ maxLength: 20 }).map((s) => s.replace(/[\r\n]/g, "")),
    );
    const request = fc.tuple(
      fc.constantFrom("GET /health", "GET /jobs", "POST /jobs", "GET /jobs/take?queue=fuzz-none", "PATCH /jobs?queue=fuzz-q", "POST /jobs/success", "HEAD /jobs", "OPTIONS /jobs"),
      fc.array(fc.tuple(headerName, headerValue), { maxLength: 6 }),
      fc.constantFrom("", '{"type":"t","queue":"fuzz-q","payload":1}', '{"ids":[]}', "{", "\u0000"),
    );
    await fuzz("headers", fc.asyncProperty(request, async ([line, headers, body]) => {
      const head = `${line} HTTP/1.1\r\nhost: x\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join("")}connection: close\r\n\r\n`;
      const x = await exchange(f.s.url, [Buffer.from(head, "latin1"), Buffer.from(body)], { boundMs: 15_000 });
      assertRawAnswer(x, JSON.stringify(head + body), line.startsWith("HEAD"));
    }), 150);
    await assertServing();
  });

  it("raw TCP garbage", async () => {
    const garbage = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.tuple(fc.constantFrom("GET ", "POST /jobs HTTP/1.1\r\n", "PRI * HTTP/2.0\r\n", "GET / HTTP/1.1\r\nhost: x\r\n", "\r\n\r\n"), fc.uint8Array({ maxLength: 100 }))
        .map(([prefix, rest]) => Buffer.concat([Buffer.from(prefix), rest])),
    );
    await fuzz("tcp garbage", fc.asyncProperty(garbage, async (bytes) => {
      const x = await exchange(f.s.url, [Buffer.from(bytes)], { boundMs: 15_000 });
      assert.ok(x.closed, `the server hung up on ${Buffer.from(bytes).toString("hex").slice(0, 80)}`);
      assertRawAnswer(x, Buffer.from(bytes).toString("hex").slice(0, 200));
    }), 150);
    await assertServing();
  });

  it("partial h2 prefaces and random h2 frames", async () => {
    const frame = fc.tuple(fc.nat({ max: 40 }), fc.nat({ max: 12 }), fc.nat({ max: 255 }), fc.nat({ max: 9 }), fc.uint8Array({ maxLength: 40 }))
      .map(([declared, type, flags, stream, payload]) => {
        const header = Buffer.alloc(9);
        header.writeUIntBE(declared, 0, 3);
        header[3] = type;
        header[4] = flags;
        header.writeUInt32BE(stream, 5);
        return Buffer.concat([header, payload]);
      });
    const input = fc.oneof(
      fc.nat({ max: PREFACE.length - 1 }).map((n) => [PREFACE.subarray(0, n)]),
      fc.array(frame, { maxLength: 5 }).map((frames) => [PREFACE, ...frames]),
      fc.uint8Array({ maxLength: 100 }).map((bytes) => [PREFACE, Buffer.from(bytes)]),
    );
    await fuzz("h2", fc.asyncProperty(input, fc.boolean(), async (chunks, end) => {
      // With a FIN the server ends the connection; without one the client vanishes (RST)
      // shortly after. (Silent peers are dropped by the sniffer / h2 liveness ping after
      // 10 s and more: test/http/listen.test.ts covers those timers.)
      const x = await exchange(f.s.url, chunks.map((c) => Buffer.from(c)), { end, boundMs: end ? 15_000 : 150 });
      if (end) assert.ok(x.closed, "a half-closed connection is ended");
    }), 40);
    await assertServing();
  });

  it("slow and half-open connections", async () => {
    const body = '{"type":"t","queue":"fuzz-q","payload":{"slow":true}}';
    const request = Buffer.from(`POST /jobs HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
    await fuzz("slow", fc.asyncProperty(fc.integer({ min: 1, max: 40 }), fc.nat({ max: request.length }), async (pieceBytes, cutAt) => {
      // Slow: the whole request a few bytes at a time; it is answered normally.
      const pieces: Buffer[] = [];
      for (let i = 0; i < request.length; i += pieceBytes * 4) pieces.push(request.subarray(i, i + pieceBytes * 4));
      const slow = await exchange(f.s.url, pieces, { gapMs: 2 });
      assert.equal(firstResponse(slow.got)?.status, 201, slow.got.toString().slice(0, 200));
      // Half-open: part of the request, then FIN. A JSON 4xx or a close, within the bound.
      const half = await exchange(f.s.url, [request.subarray(0, cutAt)], { boundMs: 15_000 });
      assert.ok(half.closed, `the server ended a half-open request cut at ${cutAt}`);
      assertRawAnswer(half, `cut at ${cutAt}`);
    }), 25);
    await assertServing();
  });
});
