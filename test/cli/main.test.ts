// The `zizq` program end to end (spawned): --help, --version, serve as the default
// command, exit code 2 with `zizq: <message>` for bad flags, and the bin/zizq.js shim.
// No test here starts a real server: bad values stop each run before serve.ts is reached.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { ADMIN_CLIENT_FLAGS, SERVE_FLAGS, TLS_FLAGS } from "../../lib/cli/flags.ts";
import { REPO_ROOT, runCli } from "./_run-cli.ts";

describe("zizq --help and --version", () => {
  it("--version prints the package version", async () => {
    for (const flag of ["--version", "-v"]) {
      const result = await runCli([flag], {});
      assert.deepEqual(result, { code: 0, stdout: "zizq 0.7.0\n", stderr: "" });
    }
  });

  it("--help lists every subcommand", async () => {
    const result = await runCli(["--help"], {});
    assert.equal(result.code, 0);
    for (const command of ["serve", "top", "backup", "restore", "compact", "tls"]) {
      assert.match(result.stdout, new RegExp(`^\\s+${command}\\s`, "m"), command);
    }
  });

  it("serve --help shows every serve flag with its env twin and default", async () => {
    const { code, stdout } = await runCli(["serve", "--help"], {});
    assert.equal(code, 0);
    for (const spec of SERVE_FLAGS) {
      const line = stdout.split("\n").find((row) => row.includes(`--${spec.name} `));
      assert.ok(line, `--${spec.name} missing from help`);
      for (const env of spec.env) assert.ok(line.includes(env), `${env} missing from the --${spec.name} line`);
      if (spec.default !== undefined) assert.ok(line.includes(`(default ${spec.default})`), line);
    }
  });

  it("each subcommand's help shows its flags", async () => {
    const expectations: [string[], typeof SERVE_FLAGS][] = [
      [["backup", "--help"], ADMIN_CLIENT_FLAGS],
      [["compact", "--help"], ADMIN_CLIENT_FLAGS],
      [["tls", "--help"], TLS_FLAGS],
    ];
    for (const [args, specs] of expectations) {
      const { code, stdout } = await runCli(args, {});
      assert.equal(code, 0);
      for (const spec of specs) assert.ok(stdout.includes(`--${spec.name}`), `${args[0]}: --${spec.name}`);
    }
  });

  it("bin/zizq.js runs as an executable", async () => {
    const child = spawn(path.join(REPO_ROOT, "bin", "zizq.js"), ["--version"], { stdio: ["ignore", "pipe", "inherit"] });
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    const code = await new Promise((resolve) => child.on("close", resolve));
    assert.equal(code, 0);
    assert.equal(stdout, "zizq 0.7.0\n");
  });
});

describe("zizq exit codes", () => {
  const roots: string[] = [];
  after(() => Promise.all(roots.map((root) => rm(root, { recursive: true, force: true }))));

  it("serve is the default command: serve flags are read without naming it", async () => {
    const result = await runCli(["--port", "0", "--heartbeat-interval", "soon"], {});
    assert.equal(result.code, 2);
    assert.equal(result.stderr, 'zizq: --heartbeat-interval: invalid duration "soon": expected milliseconds or a duration like 500ms, 15s, 5m, 1h30m, 7d, 3w, 1y\n');
  });

  it("bad env values exit 2 naming the variable", async () => {
    const result = await runCli(["serve"], { ZIZQ_DEFAULT_COMMIT_MODE: "later" });
    assert.equal(result.code, 2);
    assert.equal(result.stderr, 'zizq: ZIZQ_DEFAULT_COMMIT_MODE: "later" is not one of buffered, fsync\n');
  });

  it("a partial TLS pair is a startup error", async () => {
    const result = await runCli(["serve", "--tls-cert", "/tmp/cert.pem"], {});
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^zizq: --tls-cert needs --tls-key as well/);
  });

  it("unknown options and stray arguments exit 2", async () => {
    const typo = await runCli(["--prot", "7890"], {});
    assert.deepEqual([typo.code, typo.stderr], [2, 'zizq: unknown option --prot for "zizq serve"\n']);
    const stray = await runCli(["serv"], {});
    assert.equal(stray.code, 2);
    assert.match(stray.stderr, /unexpected argument "serv"/);
    const wrongCommand = await runCli(["compact", "--port", "1"], {});
    assert.deepEqual([wrongCommand.code, wrongCommand.stderr], [2, 'zizq: unknown option --port for "zizq compact"\n']);
    // Only --no-admin exists: --admin=false was taken as known and started the admin listener.
    const positive = await runCli(["serve", "--admin=false"], {});
    assert.deepEqual([positive.code, positive.stderr], [2, 'zizq: unknown option --admin=false for "zizq serve" (--no-admin turns it off)\n']);
  });

  it("top and tls validate their flags before running", async () => {
    const top = await runCli(["top", "-r", "fast"], {});
    assert.equal(top.code, 2);
    assert.match(top.stderr, /^zizq: --refresh-rate: invalid duration "fast"/);
    const tls = await runCli(["tls", "client-cert"], {});
    assert.deepEqual([tls.code, tls.stderr], [2, "zizq: tls client-cert needs --name\n"]);
  });

  it("restore of a missing file exits 1 and creates nothing", async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), "zizq-main-"));
    roots.push(root);
    const result = await runCli(["restore", path.join(root, "none.tar.gz"), "--dir", path.join(root, "target")], {});
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^zizq: backup file not found: /);
    assert.ok(!existsSync(path.join(root, "target")));
  });

  it("a missing positional argument fails", async () => {
    const result = await runCli(["backup"], {});
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /Insufficient arguments/);
  });
});
