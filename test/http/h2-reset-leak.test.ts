// A client that resets a response mid-body with RST_STREAM(NO_ERROR), then hangs up:
// Node 20's http2 leaves the server's session waiting on a stream that never ends, its
// socket's end never read, so the connection and the unsent body stayed for good (an
// audit: 201 descriptors held after 200 such clients of GET /jobs). The liveness check
// (lib/http/listen.ts) skipped closed sessions; it judges them too now. Since the reset
// stream itself is destroyed too (the second suite), such sessions end within a second
// or so, and this passes without the liveness change: it guards the pair, the liveness
// check (default idle time 10 s, so up to ~20 s) being the backstop. The liveness change
// alone is guarded by h2-goaway-liveness.test.ts (a GOAWAY, no reset, then silence).

import assert from "node:assert/strict";
import fs from "node:fs";
import http2 from "node:http2";
import { after, describe, it } from "node:test";
import { toNodeHandler } from "h3/node";
import { createAdminApp } from "../../lib/http/admin.ts";
import { listen } from "../../lib/http/listen.ts";
import { prng as seededRandom } from "../helpers/random.ts";
import { eventually, startServer, within } from "../helpers/server.ts";
import { cleanupTmp } from "../helpers/tmp.ts";
import { enqueueBulk } from "./_client.ts";

after(cleanupTmp);

describe("h2 sessions whose peer reset a response mid-body with NO_ERROR, then hung up", () => {
  it("are reaped, with their descriptors", { timeout: 90_000 }, async () => {
    const s = await startServer();
    try {
      await enqueueBulk(s.url, Array.from({ length: 1000 }, (_, n) => ({ queue: "q", payload: { n, pad: "x".repeat(200) } })));
      const fds = () => fs.readdirSync("/proc/self/fd").length;
      const before = fds();
      for (let i = 0; i < 50; i++) {
        const session = http2.connect(s.url);
        session.on("error", () => {});
        await new Promise<void>((resolve) => {
          const stream = session.request({ ":path": "/jobs?limit=1000" });
          stream.on("error", () => {});
          stream.once("data", () => {
            stream.close(http2.constants.NGHTTP2_NO_ERROR);
            // The client hangs up a moment later, as the audit's did (the stimulus, not a
            // wait for anything: at once, the reset and the hang-up often arrive together).
            setTimeout(() => {
              session.destroy();
              resolve();
            }, 5);
          });
        });
      }
      const held = fds() - before;
      await eventually(() => fds() <= before + 2, 60_000, `the server's descriptors back to ${before} (held ${held}, now ${fds() - before})`);
    } finally {
      await s.close();
    }
  });
});

// A client that resets a response mid-body with RST_STREAM(NO_ERROR) but keeps its session,
// the request side not read by the server (a GET or bodiless POST ends it on the HEADERS
// frame; no route reads that end): Node 20 waits for writes that can no longer complete,
// so the response never closed. A backup held its snapshot and compaction waited until a
// restart (an audit: 6 of 7 h2c runs); any such response held its unsent body until the
// session ended. lib/http/listen.ts destroys such streams now. The client resets once its
// stream window is full, so the server is certainly blocked on a write (the held case).

/** How the client sends its request: each leaves the request side unread by the server. */
const REQUESTS = {
  "no body": (session: http2.ClientHttp2Session, method: string, path: string) =>
    session.request({ ":method": method, ":path": path }, { endStream: true }),
  "a body the route never reads": (session: http2.ClientHttp2Session, method: string, path: string) =>
    session.request({ ":method": method, ":path": path }, { endStream: false }).end("{}"),
};

/** Resets `stream` with NO_ERROR once the server has filled its window (the client reads nothing). */
async function resetWhenWindowFull(stream: http2.ClientHttp2Stream): Promise<void> {
  stream.on("error", () => {});
  await new Promise<void>((resolve) => stream.once("response", () => resolve()));
  await eventually(() => stream.state.localWindowSize === 0, 10_000, "the server to fill the stream window");
  stream.close(http2.constants.NGHTTP2_NO_ERROR);
}


/** One request on `session`, answered in full: its status. */
function h2Status(session: http2.ClientHttp2Session, method: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":method": method, ":path": path });
    let status = 0;
    stream.on("response", (headers) => (status = Number(headers[":status"])));
    stream.resume();
    stream.on("end", () => resolve(status));
    stream.on("error", reject);
  });
}

describe("h2 responses the peer reset mid-body with NO_ERROR on a session it keeps", () => {
  for (const [shape, request] of Object.entries(REQUESTS)) {
    it(`a backup releases its snapshot: POST /compact completes on the same session (${shape})`, { timeout: 60_000 }, async () => {
      const s = await startServer();
      const admin = await listen(toNodeHandler(createAdminApp(s.queue, { logError: (err) => { throw err; } })), { host: "127.0.0.1", port: 0 });
      const session = http2.connect(admin.url);
      session.on("error", () => {});
      try {
        // ~1.5 MB of incompressible payloads: the archive is far longer than one window.
        const random = seededRandom(7);
        const pad = () => Buffer.from(Array.from({ length: 540 }, () => Math.floor(random() * 256))).toString("base64");
        for (let b = 0; b < 4; b++) {
          await enqueueBulk(s.url, Array.from({ length: 500 }, (_, n) => ({ queue: "q", payload: { n, pad: pad() } })));
        }
        await resetWhenWindowFull(request(session, "POST", "/backup"));
        // Compaction waits for every snapshot to be released; the session is still in use.
        const status = await within(h2Status(session, "POST", "/compact"), 20_000, "POST /compact (the snapshot is still held)");
        assert.equal(status, 204);
      } finally {
        session.destroy();
        await admin.close(500);
        await s.close();
      }
    });
  }

  for (const kind of ["streamed with backpressure", "ended with its bytes still queued"] as const) {
    for (const [shape, request] of Object.entries(REQUESTS)) {
      it(`a response ${kind} closes, so its source is released (${shape})`, { timeout: 30_000 }, async () => {
        let closed!: Promise<void>;
        const chunk = Buffer.alloc(16 * 1024, "x");
        const handler = (_req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
          closed = new Promise((resolve) => res.once("close", resolve));
          res.writeHead(200, { "content-type": "application/octet-stream" });
          if (kind === "ended with its bytes still queued") return void res.end(Buffer.alloc(1024 * 1024, "x"));
          let left = 256; // 4 MiB, far more than the client's window
          const pump = (): void => {
            while (left-- > 0) if (!res.write(chunk)) return void res.once("drain", pump);
            res.end();
          };
          pump();
        };
        const listener = await listen(handler, { host: "127.0.0.1", port: 0 });
        const session = http2.connect(listener.url);
        session.on("error", () => {});
        try {
          await resetWhenWindowFull(request(session, "GET", "/"));
          await within(closed, 10_000, "the server's response to close");
          // The session is kept and still serves.
          assert.equal(await within(h2Status(session, "GET", "/"), 10_000, "a second request"), 200);
        } finally {
          session.destroy();
          await listener.close(500);
        }
      });
    }
  }
});
