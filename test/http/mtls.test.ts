// mTLS (API.md §1.1): with a client CA configured, only clients presenting a certificate
// from that CA get through; the others fail in the TLS handshake, before any request.
// Certificates come from our own `zizq tls` helpers (lib/cli/tls.ts).

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { toNodeHandler } from "h3/node";
import { issueCertificate, type PemPair } from "../../lib/cli/tls.ts";
import { listen, type Listener } from "../../lib/http/listen.ts";
import { createTestApp, h1Request, h2Connect, h2Request, type TestApp } from "./_transport.ts";

const HEADERS = { "content-type": "application/json", accept: "application/json" };

describe("listen: mTLS", () => {
  let t: TestApp;
  let listener: Listener;
  let ca: PemPair;
  let client: PemPair;
  let strangerClient: PemPair;
  before(async () => {
    ca = issueCertificate({ kind: "ca", cn: "Zizq CA", days: 1 });
    const otherCa = issueCertificate({ kind: "ca", cn: "Other CA", days: 1 });
    const server = issueCertificate({ kind: "server", cn: "Zizq Server", days: 1, sans: ["localhost"], ca });
    client = issueCertificate({ kind: "client", cn: "worker", days: 1, ca });
    strangerClient = issueCertificate({ kind: "client", cn: "worker", days: 1, ca: otherCa });
    t = createTestApp();
    listener = await listen(toNodeHandler(t.app), {
      host: "127.0.0.1",
      port: 0,
      tls: { cert: server.certPem, key: server.keyPem, clientCa: ca.certPem },
    });
  });
  after(() => listener.close(100));

  it("accepts a client certificate from the configured CA (h2 and HTTP/1.1)", async () => {
    const tls = { ca: ca.certPem, cert: client.certPem, key: client.keyPem };
    const session = await h2Connect(listener.url, tls);
    try {
      const res = await h2Request(session, "POST", "/echo", HEADERS, "[1]");
      assert.deepEqual([res.status, JSON.parse(res.body.toString())], [200, { echo: [1], httpVersion: "2.0" }]);
    } finally {
      session.close();
    }
    const h1 = await h1Request(listener.url, "POST", "/echo", HEADERS, "[2]", tls);
    assert.deepEqual([h1.status, JSON.parse(h1.body.toString())], [200, { echo: [2], httpVersion: "1.1" }]);
  });

  it("rejects a client without a certificate before any request is read", async () => {
    const seen = t.requests();
    await assert.rejects(h1Request(listener.url, "POST", "/echo", HEADERS, "[3]", { ca: ca.certPem }), {
      code: "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED",
    });
    await assert.rejects(async () => {
      const session = await h2Connect(listener.url, { ca: ca.certPem });
      try {
        await h2Request(session, "POST", "/echo", HEADERS, "[4]");
      } finally {
        session.destroy();
      }
    }, { code: "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED" });
    assert.equal(t.requests(), seen);
  });

  it("rejects a certificate issued by another CA", async () => {
    const seen = t.requests();
    const tls = { ca: ca.certPem, cert: strangerClient.certPem, key: strangerClient.keyPem };
    // The server aborts the handshake (unknown CA); the client sees a reset or the alert.
    await assert.rejects(h1Request(listener.url, "POST", "/echo", HEADERS, "[5]", tls), (err: NodeJS.ErrnoException) =>
      /ECONNRESET|ALERT/.test(err.code ?? ""),
    );
    assert.equal(t.requests(), seen);
  });
});
