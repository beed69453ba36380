// Issue 12 §9: a client that goes away mid-request (socket closed mid-body, h2 stream
// reset, take stream dropped) is normal: nothing is logged at warn level or above, and
// the server keeps serving. A real `zizq serve` child, so its log is the operator's log.

import assert from "node:assert/strict";
import http2 from "node:http2";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { type SpawnedServer, eventually, spawnServer } from "../helpers/server.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";

/** Sends a request head and part of its body, then destroys the socket. */
function cutMidBody(url: string, method: string, path: string): Promise<void> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const c = net.connect(Number(u.port), u.hostname, () => {
      c.write(`${method} ${path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"type":`, () => {
        c.destroy();
        resolve();
      });
    });
    c.on("error", reject);
  });
}

describe("clients going away", () => {
  let s: SpawnedServer;
  before(async () => {
    s = await spawnServer(tmpDir(), ["--log-level", "debug"]);
  });
  after(async () => {
    await s?.stop();
    cleanupTmp();
  });

  it("are not logged as errors, and the server carries on", async () => {
    for (const [method, path] of [["POST", "/jobs"], ["POST", "/jobs/bulk"], ["PATCH", "/jobs?queue=x"], ["POST", "/jobs/x/success"], ["PUT", "/crons/g"]]) {
      await cutMidBody(s.url, method, path);
    }
    const session = http2.connect(s.url);
    session.on("error", () => {});
    const stream = session.request({ ":method": "POST", ":path": "/jobs", "content-type": "application/json", "content-length": "1000" });
    stream.on("error", () => {});
    await new Promise<void>((resolve) => stream.write('{"type":', () => resolve()));
    stream.close(http2.constants.NGHTTP2_CANCEL);
    session.close();
    const take = net.connect(Number(new URL(s.url).port), "127.0.0.1");
    await new Promise<void>((resolve) => take.write("GET /jobs/take HTTP/1.1\r\nhost: x\r\n\r\n", () => resolve()));
    await eventually(() => new Promise<boolean>((resolve) => take.once("data", () => resolve(true))), 10_000, "the take stream's head");
    take.destroy();
    // A request after all of them proves the server has handled them (one event loop).
    await eventually(async () => (await fetch(`${s.url}/health`)).status === 200, 10_000, "health");
    const loud = s.logs().split("\n").filter((l) => /"level":"(warn|error|fatal)"/.test(l));
    assert.deepEqual(loud, []);
    // …but they are there at debug level, for whoever looks for them.
    assert.match(s.logs(), /client went away mid-request/);
  });
});
