// `zizq backup` and `zizq compact` against a tiny local admin server on an ephemeral port:
// streaming to a file, non-2xx errors with status and body, and no partial files left.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { runBackup } from "../../lib/cli/backup.ts";
import { runCompact } from "../../lib/cli/compact.ts";
import type { AdminClientConfig } from "../../lib/cli/config.ts";
import { runCli } from "./_run-cli.ts";

/** 300 KB in several chunks, so the client really has to stream it. */
const ARCHIVE = Buffer.concat(Array.from({ length: 10 }, (_, i) => Buffer.alloc(30_000, i)));

let mode: "ok" | "fail" | "cut" | "html" = "ok";
const requests: string[] = [];
const server = http.createServer((request, response) => {
  requests.push(`${request.method} ${request.url}`);
  if (mode === "fail") {
    response.writeHead(500, { "content-type": "text/plain" }).end("backup failed");
  } else if (mode === "html") {
    response.writeHead(200, { "content-type": "text/html" }).end("<html>hello, not zizq</html>");
  } else if (request.url === "/compact") {
    response.writeHead(204).end();
  } else if (mode === "cut") {
    response.writeHead(200, { "content-type": "application/gzip" });
    response.write(ARCHIVE.subarray(0, 1000), () => response.socket?.destroy());
  } else {
    response.writeHead(200, { "content-type": "application/gzip" });
    for (let i = 0; i < ARCHIVE.length; i += 30_000) response.write(ARCHIVE.subarray(i, i + 30_000));
    response.end();
  }
});

let root: string;
let config: AdminClientConfig;

before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "zizq-backup-"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  config = { url: `http://127.0.0.1:${port}`, caCertPath: undefined, clientCertPath: undefined, clientKeyPath: undefined };
});
after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(root, { recursive: true, force: true });
});

describe("an admin URL that is not a zizq admin listener", () => {
  it("a 200 that is not a gzip archive is no backup (no file, no directories); nor a 200 to /compact a compaction", async () => {
    mode = "html";
    const file = path.join(root, "html", "b.tar.gz");
    await assert.rejects(runBackup(file, config), /^Error: backup failed: http:\/\/127\.0\.0\.1:\d+ answered text\/html, not a backup \(application\/gzip\)/);
    assert.equal(existsSync(path.join(root, "html")), false);
    await assert.rejects(runCompact(config), /answered HTTP 200, not 204: is it a zizq admin listener\?/);
  });

  it("a listener that accepts and never answers is given up on", async () => {
    const { postAdmin } = await import("../../lib/cli/_admin-request.ts");
    const held = new Set<net.Socket>();
    const silent = net.createServer((socket) => held.add(socket)); // reads nothing, answers nothing
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
      await assert.rejects(postAdmin({ ...config, url }, "/backup", 300), /no answer for 0 s/);
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});

describe("runBackup", () => {
  it("POSTs /backup and streams the body into a file, creating parent directories", async () => {
    mode = "ok";
    requests.length = 0;
    const file = path.join(root, "nested", "deeper", "backup.tar.gz");
    const bytes = await runBackup(file, config);
    assert.deepEqual(requests, ["POST /backup"]);
    assert.equal(bytes, ARCHIVE.length);
    assert.deepEqual(await readFile(file), ARCHIVE);
    assert.deepEqual(await readdir(path.dirname(file)), ["backup.tar.gz"]);
  });

  it("turns a non-2xx reply into an error with status and body, and writes no file", async () => {
    mode = "fail";
    const file = path.join(root, "failed", "backup.tar.gz");
    await assert.rejects(runBackup(file, config), /POST \/backup failed: HTTP 500: backup failed/);
    assert.equal(existsSync(path.dirname(file)), false, "no file, and no directory made for it");
  });

  it("fails on a connection cut mid-stream and removes the partial file", async () => {
    mode = "cut";
    const file = path.join(root, "cut", "backup.tar.gz");
    await assert.rejects(runBackup(file, config), /^Error: backup failed: /);
    assert.deepEqual(await readdir(path.dirname(file)), []);
  });

  it("reports an unreachable server", async () => {
    const closed = { ...config, url: "http://127.0.0.1:1" };
    await assert.rejects(runBackup(path.join(root, "x.tar.gz"), closed), /cannot reach http:\/\/127\.0\.0\.1:1/);
  });

  it("reads the TLS files for https and names a missing one", async () => {
    const tls = { ...config, url: "https://127.0.0.1:1", caCertPath: path.join(root, "missing-ca.pem") };
    await assert.rejects(runBackup(path.join(root, "y.tar.gz"), tls), /cannot read CA certificate .*missing-ca\.pem/);
  });
});

describe("runCompact", () => {
  it("POSTs /compact and accepts 204", async () => {
    mode = "ok";
    requests.length = 0;
    await runCompact(config);
    assert.deepEqual(requests, ["POST /compact"]);
  });

  it("errors on a failed compaction", async () => {
    mode = "fail";
    await assert.rejects(runCompact(config), /POST \/compact failed: HTTP 500/);
  });
});

describe("zizq backup / compact (CLI)", () => {
  it("backs up through the real CLI using ZIZQ_ADMIN_URL", async () => {
    mode = "ok";
    const file = path.join(root, "cli", "b.tar.gz");
    const result = await runCli(["backup", file], { ZIZQ_ADMIN_URL: config.url });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /wrote 300000 bytes/);
    assert.ok(existsSync(file));
  });

  it("exits 1 with the server's error, and 2 for an unpaired client cert", async () => {
    mode = "fail";
    const failed = await runCli(["compact", "--url", config.url], {});
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /^zizq: POST \/compact failed: HTTP 500: backup failed\n$/);
    const unpaired = await runCli(["compact", "--url", "https://127.0.0.1:1", "--client-cert", "c.pem"], {});
    assert.equal(unpaired.code, 2);
    assert.match(unpaired.stderr, /--client-cert and --client-key must be given together/);
  });
});
