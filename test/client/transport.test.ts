// How the client talks (CLIENT-API.md §2.2–2.3): RPCs over ONE HTTP/2 session (h2c with
// prior knowledge on http://), take over HTTP/1.1 with the stream media type, the
// headers per format; TLS with a private CA and mTLS against the real server.

import assert from "node:assert/strict";
import http2 from "node:http2";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { request as undiciRequest } from "undici";
import { issueCertificate, type PemPair } from "../../lib/cli/tls.ts";
import { H2cDispatcher } from "../../lib/client/_h2c-dispatcher.ts";
import { Client, ConnectionError } from "../../lib/client/index.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { cleanupTmp } from "../helpers/tmp.ts";
import { recorder } from "./_recorder.ts";
import { uniq, withTaken } from "./_setup.ts";

describe("transport", () => {
  it("RPCs share one h2c session; take is HTTP/1.1 with the NDJSON accept", async () => {
    const r = await recorder();
    const c = new Client({ url: r.url });
    try {
      await Promise.all(Array.from({ length: 20 }, () => c.health()));
      await c.reportSuccessBulk(["a"]);
      const jobs = await (await c.take({ prefetch: 0, queues: ["a", "b"] })).next();
      assert.equal(jobs.value!.payload, 1);
      const rpc = r.seen.filter((x) => !x.path.startsWith("/jobs/take"));
      assert.equal(rpc.length, 21);
      assert.deepEqual(new Set(rpc.map((x) => x.version)), new Set(["2.0"]));
      assert.equal(r.sessions(), 1, "one HTTP/2 session for every RPC");
      assert.equal(r.maxInFlight(), 20, "the 20 calls ran at once on it (multiplexed)");
      const health = rpc[0];
      assert.equal(health.headers.accept, "application/json");
      assert.equal(health.headers["content-type"], undefined, "no content-type without a body");
      const ack = rpc.find((x) => x.path === "/jobs/success")!;
      assert.deepEqual([ack.headers["content-type"], JSON.parse(ack.body)], ["application/json", { ids: ["a"] }]);
      const take = r.seen.find((x) => x.path.startsWith("/jobs/take"))!;
      assert.deepEqual([take.version, take.path, take.headers.accept], ["1.1", "/jobs/take?prefetch=0&queue=a%2Cb", "application/x-ndjson"]);
    } finally {
      await c.destroy();
      await r.close();
    }
  });

  it("msgpack format: msgpack media types on RPCs and the take stream", async () => {
    const r = await recorder();
    const c = new Client({ url: r.url, format: "msgpack" });
    try {
      await c.reportSuccessBulk(["a"]);
      const gen = await c.take();
      await gen.next();
      const ack = r.seen.find((x) => x.path === "/jobs/success")!;
      assert.deepEqual([ack.headers["content-type"], ack.headers.accept], ["application/msgpack", "application/msgpack"]);
      const take = r.seen.find((x) => x.path.startsWith("/jobs/take"))!;
      assert.deepEqual([take.path, take.headers.accept], ["/jobs/take", "application/vnd.zizq.msgpack-stream"]);
    } finally {
      await c.destroy();
      await r.close();
    }
  });
});

describe("TLS and mTLS against the real server", () => {
  let ca: PemPair;
  let clientCert: PemPair;
  let s: TestServer;
  before(async () => {
    ca = issueCertificate({ kind: "ca", cn: "Zizq test CA", days: 1 });
    const server = issueCertificate({ kind: "server", cn: "localhost", days: 1, sans: ["localhost", "127.0.0.1"], ca });
    clientCert = issueCertificate({ kind: "client", cn: "worker", days: 1, ca });
    s = await startServer({ tls: { cert: server.certPem, key: server.keyPem, clientCa: ca.certPem } });
  });
  after(async () => {
    await s.close();
    cleanupTmp();
  });

  for (const format of ["json", "msgpack"] as const) {
    it(`with the CA and a client certificate every call works (${format}, h2 RPCs, HTTP/1.1 take)`, async () => {
      assert.match(s.url, /^https:/);
      const c = new Client({ url: s.url, format, tls: { ca: ca.certPem, cert: clientCert.certPem, key: clientCert.keyPem } });
      try {
        const queue = uniq();
        const job = await c.enqueue({ type: "t", queue, payload: { x: 1 } });
        await withTaken(c, queue, 1, async ([taken]) => {
          assert.deepEqual(taken.payload, { x: 1 });
          await c.reportSuccessBulk([taken.id]);
        });
        assert.equal(await c.countJobs({ id: job.id, status: ["ready", "in_flight"] }), 0);
      } finally {
        await c.close();
      }
    });
  }

  it("without a client certificate the call fails with a ConnectionError", async () => {
    const c = new Client({ url: s.url, tls: { ca: ca.certPem } });
    try {
      await assert.rejects(c.health(), (err: unknown) => err instanceof ConnectionError && err.message.includes(s.url));
    } finally {
      await c.destroy();
    }
  });

  it("a body over the server's limit is its 413 over h2 too, and the session stays usable", async () => {
    // Written at once, 40 MB outgrew the h2 session's memory limit: a ConnectionError
    // (ENHANCE_YOUR_CALM) and every later call on the session refused.
    const c = new Client({ url: s.url, tls: { ca: ca.certPem, cert: clientCert.certPem, key: clientCert.keyPem } });
    try {
      const big = { type: "t", queue: "q", payload: "x".repeat(40 * 1024 * 1024) };
      await assert.rejects(c.enqueueRaw(big as never), { name: "ClientError", status: 413 });
      assert.deepEqual(await c.health(), { status: "ok" });
    } finally {
      await c.close();
    }
  });

  it("without the CA the server certificate is not trusted", async () => {
    const c = new Client({ url: s.url, tls: { cert: clientCert.certPem, key: clientCert.keyPem } });
    try {
      await assert.rejects(c.health(), ConnectionError);
    } finally {
      await c.destroy();
    }
  });
});

describe("process lifetime", () => {
  it("an idle client does not keep the process alive (no close() needed to exit)", async () => {
    const r = await recorder();
    try {
      const script = `import { Client } from ${JSON.stringify(new URL("../../lib/client/index.ts", import.meta.url).pathname)};
const c = new Client({ url: ${JSON.stringify(r.url)} });
console.log(JSON.stringify(await c.health()));`;
      const { execFile } = await import("node:child_process");
      const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { timeout: 60_000 });
      assert.equal(stdout.trim(), '{"status":"ok"}');
    } finally {
      await r.close();
    }
  });
});

describe("h2c dispatcher and a refused connect", () => {
  const options = { connectTimeout: 5_000, headersTimeout: 5_000, bodyTimeout: 5_000, maxConcurrentStreams: 16 };
  /** A port nothing listens on: bound, then released. */
  async function deadPort(): Promise<number> {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const { port } = probe.address() as net.AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    return port;
  }
  /** Its first session connects to `first` (a refused port), later ones to the origin. */
  class FirstSessionTo extends H2cDispatcher {
    opened = 0;
    constructor(origin: string, readonly first: string) { super(origin, options); }
    protected override openSession(): http2.ClientHttp2Session {
      return http2.connect(this.opened++ === 0 ? this.first : this.origin);
    }
  }

  it("a call that rode a refused connect goes again, once, on a fresh session", async () => {
    // The Worker-reconnect race: a connect begun while the server was down is refused after
    // the server is back, and a call that joined it must not fail for that.
    const server = await startServer();
    const d = new FirstSessionTo(server.url, `http://127.0.0.1:${await deadPort()}`);
    try {
      const res = await undiciRequest(`${server.url}/health`, { dispatcher: d });
      assert.equal(res.statusCode, 200);
      await res.body.text();
      assert.equal(d.opened, 2);
    } finally {
      await d.destroy();
      await server.close();
    }
  });

  it("a second refusal is the caller's error: one retry, no loop", async () => {
    const dead = `http://127.0.0.1:${await deadPort()}`;
    const d = new FirstSessionTo(dead, dead);
    try {
      await assert.rejects(undiciRequest(`${dead}/health`, { dispatcher: d }), (err: Error) => {
        const text = `${err.message} ${String((err.cause as Error | undefined)?.message)}`;
        return text.includes("ECONNREFUSED");
      });
      assert.equal(d.opened, 2);
    } finally {
      await d.destroy();
    }
  });
});
