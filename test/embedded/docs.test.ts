// docs/embedded.md's complete example runs as written and prints what the doc says. It
// imports "zizq" and "zizq/client" by name: the file sits inside the package (self-
// reference) and the `zizq-source` export condition maps those names to the sources.

import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { promisify } from "node:util";
import { open } from "../../lib/embedded/open.ts";
import { eventually } from "../helpers/server.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, "../..");

after(cleanupTmp);

function docExample(file: string, name: string): string {
  const doc = fs.readFileSync(path.join(ROOT, file), "utf8");
  const m = new RegExp(`<!-- example: ${name}\\b[^>]*-->\\s*\`\`\`ts\\n([\\s\\S]*?)\`\`\``).exec(doc);
  assert.ok(m, `${file} has no "${name}" example`);
  return m[1];
}

test("docs/embedded.md: the complete example runs and prints what the doc shows", { timeout: 120_000 }, async () => {
  const scratch = path.join(ROOT, ".tmp");
  fs.mkdirSync(scratch, { recursive: true });
  const file = path.join(scratch, `embedded-doc-${process.pid}.ts`);
  fs.writeFileSync(file, docExample("docs/embedded.md", "embedded-doc"));
  const cwd = tmpDir();
  try {
    const { stdout } = await run(process.execPath, ["--conditions=zizq-source", "--import", import.meta.resolve("tsx"), file], { cwd });
    const lines = stdout.trim().split("\n");
    assert.equal(lines[0], "duplicate: true true");
    assert.deepEqual(lines.slice(1, 3).sort(), ["welcome, user 1", "welcome, user 2"]);
    assert.deepEqual(lines.slice(3), ["dead: { user: 13 } unlucky user", "missing job: true"]);
    assert.ok(fs.existsSync(path.join(cwd, "zizq-root")));
  } finally {
    fs.rmSync(file, { force: true });
  }
});

test("docs/embedded.md: the budgets example runs and prints what the doc shows", { timeout: 120_000 }, async () => {
  const scratch = path.join(ROOT, ".tmp");
  fs.mkdirSync(scratch, { recursive: true });
  const file = path.join(scratch, `embedded-budgets-${process.pid}.ts`);
  fs.writeFileSync(file, docExample("docs/embedded.md", "embedded-budgets"));
  try {
    const { stdout } = await run(process.execPath, ["--conditions=zizq-source", "--import", import.meta.resolve("tsx"), file], { cwd: tmpDir() });
    assert.deepEqual(stdout.trim().split("\n"), ["bound: [ { key: 'mail-provider', cost: 1 } ]", "jobs on it: 1"]);
  } finally {
    fs.rmSync(file, { force: true });
  }
});

test("docs/embedded.md: the shutdown example stops on SIGTERM, closes the queue after the worker, and exits", { timeout: 120_000 }, async () => {
  const scratch = path.join(ROOT, ".tmp");
  fs.mkdirSync(scratch, { recursive: true });
  const file = path.join(scratch, `embedded-shutdown-${process.pid}.ts`);
  fs.writeFileSync(file, docExample("docs/embedded.md", "embedded-shutdown"));
  const cwd = tmpDir();
  const child = spawn(process.execPath, ["--conditions=zizq-source", "--import", import.meta.resolve("tsx"), file], { cwd });
  try {
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => { stdout += chunk; });
    child.stderr.on("data", (chunk: Buffer) => { stderr += chunk; });
    const exited = once(child, "exit");
    await eventually(() => stdout.includes("sent {"), 60_000, "the job handled");
    child.kill("SIGTERM");
    const [code] = await exited;
    assert.equal(code, 0, stderr);
    assert.deepEqual(stdout.trim().split("\n"), ["sent { to: 'a@example.com' }", "stopped"]);
    assert.equal(stderr, "");
    const queue = await open({ dir: path.join(cwd, "zizq-root") });
    try {
      assert.equal(await queue.countJobs(), 0, "the job was acked before the queue closed");
    } finally {
      await queue.close();
    }
  } finally {
    child.kill("SIGKILL");
    fs.rmSync(file, { force: true });
  }
});
