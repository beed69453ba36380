// A client that resets a response mid-body with RST_STREAM(NO_ERROR), then hangs up:
// Node 20's http2 leaves the server's session waiting on a stream that never ends, its
// socket's end never read, so the connection and the unsent body stayed for good (an
// audit: 201 descriptors held after 200 such clients of GET /jobs). The liveness check
// (lib/http/listen.ts) skipped closed sessions; it judges them too now. A real server
// with the default idle time (10 s), so this takes ~20 s.

import fs from "node:fs";
import http2 from "node:http2";
import { after, describe, it } from "node:test";
import { eventually, startServer } from "../helpers/server.ts";
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
