// The dashboard behind the admin listener's TLS and mTLS: the page, its /stats and /api
// calls and its /events WebSocket (wss) all work with a client certificate, and the
// listener refuses a browser without one.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, it } from "node:test";
import type { BrowserContext } from "playwright-core";
import { issueCertificate } from "../../lib/cli/tls.ts";
import { req, uniq } from "../http/_client.ts";
import { launchChromium } from "../helpers/browser.ts";
import { type SpawnedServer, spawnServer } from "../helpers/server.ts";
import { tmpDir } from "../helpers/tmp.ts";

const WAIT = { timeout: 30_000 };
let server: SpawnedServer;
let browser: Awaited<ReturnType<typeof launchChromium>>;
const ca = issueCertificate({ kind: "ca", cn: "Zizq test CA", days: 1 });
const serverCert = issueCertificate({ kind: "server", cn: "Zizq admin", days: 1, sans: ["localhost", "127.0.0.1"], ca });
const client = issueCertificate({ kind: "client", cn: "operator", days: 1, ca });

before(async () => {
  const dir = tmpDir();
  const file = (name: string, pem: string) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, pem);
    return p;
  };
  [server, browser] = await Promise.all([
    spawnServer(tmpDir(), [
      "--admin-tls-cert", file("admin-cert.pem", serverCert.certPem), "--admin-tls-key", file("admin-key.pem", serverCert.keyPem),
      "--admin-tls-client-ca", file("ca.pem", ca.certPem),
    ]),
    launchChromium(),
  ]);
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

it("with a client certificate: the overview loads over https, goes live over wss, and shows a new queue", async () => {
  assert.match(server.adminUrl!, /^https:/);
  const origin = new URL(server.adminUrl!).origin;
  const context: BrowserContext = await browser.newContext({
    ignoreHTTPSErrors: true,
    clientCertificates: [{ origin, cert: Buffer.from(client.certPem), key: Buffer.from(client.keyPem) }],
  });
  const page = await context.newPage();
  await page.goto(`${server.adminUrl}/`);
  await page.waitForSelector("[data-live=connected]", WAIT);
  const q = uniq("tls");
  assert.equal((await req(server.url, "POST", "/jobs", { type: "t", queue: q, payload: 1 })).status, 201);
  await page.waitForFunction((q) => document.querySelector(`tr[data-queue="${q}"] td[data-count="ready"]`)?.textContent === "1", q, WAIT);
  await context.close();
});

it("without a client certificate the browser gets nothing", async () => {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  await assert.rejects(page.goto(`${server.adminUrl}/`, WAIT));
  await context.close();
});
