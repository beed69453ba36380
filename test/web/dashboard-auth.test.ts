// The dashboard behind access tokens (--auth-tokens): the page and its assets load
// without a token (they hold no data), every data call and the /events WebSocket need
// an admin token, which the page asks for, keeps in the tab and sends (the WebSocket
// carries it as a subprotocol, since browsers cannot set Authorization there).

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, it } from "node:test";
import { req, uniq } from "../http/_client.ts";
import { launchChromium } from "../helpers/browser.ts";
import { type SpawnedServer, spawnServer } from "../helpers/server.ts";
import { tmpDir } from "../helpers/tmp.ts";

const WAIT = { timeout: 30_000 };
const ADMIN = "admin-token-0123456789abcdef";
const WRITE = "write-token-0123456789abcdef";
let server: SpawnedServer;
let browser: Awaited<ReturnType<typeof launchChromium>>;

before(async () => {
  const file = path.join(tmpDir(), "tokens");
  fs.writeFileSync(file, `admin ${ADMIN}\nwrite ${WRITE}\n`);
  [server, browser] = await Promise.all([spawnServer(tmpDir(), ["--auth-tokens", file]), launchChromium()]);
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

it("the page is public, its data is not", async () => {
  const admin = server.adminUrl!;
  assert.equal((await fetch(`${admin}/`)).status, 200);
  assert.equal((await req(admin, "GET", "/stats")).status, 401);
  assert.equal((await req(admin, "GET", "/api/queues")).status, 401);
  assert.equal((await req(admin, "GET", "/stats", undefined, { authorization: `Bearer ${WRITE}` })).status, 403);
  assert.equal((await req(admin, "GET", "/stats", undefined, { authorization: `Bearer ${ADMIN}` })).status, 200);
});

it("the page asks for a token, then shows live data with it", async () => {
  const q = uniq("auth");
  const enqueued = await req(server.url, "POST", "/jobs", { type: "t", queue: q, payload: 1 }, { authorization: `Bearer ${WRITE}` });
  assert.equal(enqueued.status, 201);
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${server.adminUrl}/`);
  await page.waitForSelector("[data-token-form]", WAIT);
  await page.fill("[data-token-form] input", ADMIN);
  await page.click("[data-token-form] button");
  await page.waitForSelector("[data-live=connected]", WAIT);
  await page.waitForFunction((q) => document.querySelector(`tr[data-queue="${q}"] td[data-count="ready"]`)?.textContent === "1", q, WAIT);
  assert.equal(await page.locator("[data-token-form]").count(), 0);
  await context.close();
});
