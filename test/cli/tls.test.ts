// `zizq tls` helpers (API.md §6.2): file names, skip-existing vs --overwrite, CA reuse,
// and certificates that Node's own X.509 parser accepts with the right extensions.

import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { runTlsCommand } from "../../lib/cli/tls.ts";
import type { TlsAction, TlsCommandOptions } from "../../lib/cli/config.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";
import { runCli } from "./_run-cli.ts";

function options(action: TlsAction, outDir: string, extra: Partial<TlsCommandOptions> = {}): TlsCommandOptions {
  return {
    action,
    outDir,
    overwrite: false,
    days: action === "ca" ? 3650 : 365,
    caDays: 3650,
    caCertPath: path.join(outDir, "ca-cert.pem"),
    caKeyPath: path.join(outDir, "ca-key.pem"),
    cn: { init: "Zizq CA", ca: "Zizq CA", "server-cert": "Zizq Server", "client-cert": extra.clients?.[0] ?? "" }[action],
    sans: ["localhost"],
    clients: [],
    ...extra,
  };
}
const run = (opts: TlsCommandOptions) => runTlsCommand(opts.action, opts, () => {});
const cert = (dir: string, file: string) => new X509Certificate(fs.readFileSync(path.join(dir, file)));
const days = (c: X509Certificate) => Math.round((Date.parse(c.validTo) - Date.parse(c.validFrom)) / 86_400_000);

describe("zizq tls", () => {
  after(cleanupTmp);

  it("init writes the CA, the server pair and client pairs, signed by that CA", async () => {
    const dir = path.join(tmpDir(), "tls"); // created on demand
    const result = await run(options("init", dir, { clients: ["worker"], sans: ["localhost", "127.0.0.1"] }));
    const files = ["ca-cert.pem", "ca-key.pem", "server-cert.pem", "server-key.pem", "client-worker-cert.pem", "client-worker-key.pem"];
    assert.deepEqual(fs.readdirSync(dir).sort(), [...files].sort());
    assert.deepEqual(result.skipped, []);
    assert.equal(result.written.length, 6);
    assert.equal(fs.statSync(path.join(dir, "server-key.pem")).mode & 0o777, 0o600);

    const ca = cert(dir, "ca-cert.pem");
    assert.equal(ca.ca, true);
    assert.match(ca.subject, /CN=Zizq CA/);
    assert.equal(days(ca), 3650);
    const server = cert(dir, "server-cert.pem");
    assert.equal(server.ca, false);
    assert.ok(server.checkIssued(ca) && server.verify(ca.publicKey), "server cert signed by the CA");
    assert.match(server.subject, /CN=Zizq Server/);
    assert.equal(server.subjectAltName, "DNS:localhost, IP Address:127.0.0.1");
    assert.equal(days(server), 365);
    const client = cert(dir, "client-worker-cert.pem");
    assert.ok(client.verify(ca.publicKey));
    assert.match(client.subject, /CN=worker/);
    assert.deepEqual(client.keyUsage, ["1.3.6.1.5.5.7.3.2"], "clientAuth only");
    assert.deepEqual(server.keyUsage, ["1.3.6.1.5.5.7.3.1"], "serverAuth only");
  });

  it("skips existing files unless overwrite, and reuses the CA on disk", async () => {
    const dir = tmpDir();
    await run(options("init", dir));
    const before = fs.readFileSync(path.join(dir, "server-cert.pem"), "utf8");
    const again = await run(options("init", dir, { clients: ["late"] }));
    assert.equal(again.skipped.length, 4, "CA and server pairs skipped");
    assert.equal(fs.readFileSync(path.join(dir, "server-cert.pem"), "utf8"), before);
    assert.ok(cert(dir, "client-late-cert.pem").verify(cert(dir, "ca-cert.pem").publicKey), "signed by the kept CA");

    const forced = await run(options("server-cert", dir, { overwrite: true, sans: ["zizq.internal"], days: 30 }));
    assert.deepEqual(forced.skipped, []);
    const server = cert(dir, "server-cert.pem");
    assert.equal(server.subjectAltName, "DNS:zizq.internal");
    assert.equal(days(server), 30);
  });

  it("a half-present pair is skipped whole rather than half-replaced", async () => {
    const dir = tmpDir();
    await run(options("ca", dir));
    fs.writeFileSync(path.join(dir, "server-key.pem"), "keep me");
    const result = await run(options("server-cert", dir));
    assert.equal(result.skipped.length, 2);
    assert.equal(fs.existsSync(path.join(dir, "server-cert.pem")), false);
    assert.equal(fs.readFileSync(path.join(dir, "server-key.pem"), "utf8"), "keep me");
  });

  it("ca uses --cn and 3650 days; client-cert names its files after --name", async () => {
    const dir = tmpDir();
    await run(options("ca", dir, { cn: "Acme CA" }));
    assert.match(cert(dir, "ca-cert.pem").subject, /CN=Acme CA/);
    assert.equal(days(cert(dir, "ca-cert.pem")), 3650);
    await run(options("client-cert", dir, { clients: ["billing"], cn: "billing" }));
    assert.match(cert(dir, "client-billing-cert.pem").subject, /CN=billing/);
  });

  it("server-cert and client-cert need an existing CA", async () => {
    const dir = tmpDir();
    await assert.rejects(run(options("server-cert", dir)), /cannot read the CA/);
    await assert.rejects(run(options("client-cert", dir, { clients: ["w"] })), /cannot read the CA/);
  });
});

describe("zizq serve with TLS files that cannot work", () => {
  after(cleanupTmp);

  it("is refused before the store opens, one line naming the flag, exit 2", async () => {
    const dir = tmpDir();
    await run(options("init", dir));
    const empty = path.join(dir, "empty.pem");
    fs.writeFileSync(empty, "");
    const data = path.join(dir, "data");
    const serve = (extra: string[]) => runCli(["serve", "--dir", data, "--port", "0", "--no-admin",
      "--tls-cert", path.join(dir, "server-cert.pem"), "--tls-key", path.join(dir, "server-key.pem"), ...extra], {});
    const cases: [string[], RegExp][] = [
      [["--tls-client-ca", empty], /^zizq: --tls-client-ca: .*empty\.pem is not usable: no PEM certificate in it$/],
      [["--tls-client-ca", path.join(dir, "server-key.pem")], /^zizq: --tls-client-ca: .* is not usable: no PEM certificate in it$/],
      [["--tls-client-ca", path.join(dir, "missing.pem")], /^zizq: --tls-client-ca: cannot read .*missing\.pem: ENOENT/],
    ];
    for (const [extra, message] of cases) {
      const r = await serve(extra);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr.trim(), message);
    }
    const mismatch = await runCli(["serve", "--dir", data, "--port", "0", "--no-admin",
      "--tls-cert", path.join(dir, "server-cert.pem"), "--tls-key", path.join(dir, "ca-key.pem")], {});
    assert.equal(mismatch.code, 2, mismatch.stderr);
    assert.match(mismatch.stderr.trim(), /^zizq: --tls-key: .*ca-key\.pem is not usable: it does not match the certificate in .*server-cert\.pem$/);
    assert.equal(fs.existsSync(data), false, "refused before the store was made");
  });
});
