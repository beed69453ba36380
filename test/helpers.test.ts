// The test helpers guard the suite itself: a server spawned by a test file whose
// `before` failed half-way (its handle never returned) must not keep that file, and so
// `npm test`, from ever exiting (test/helpers/server.ts kills it when the file ends).

import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { tmpDir } from "./helpers/tmp.ts";

const SERVER_HELPER = path.resolve(import.meta.dirname, "helpers/server.ts");

test("a spawned server nobody stops is killed when its test file ends, and the file exits", async () => {
  const dir = tmpDir();
  const pidFile = path.join(dir, "pid");
  const file = path.join(dir, "leak.test.mts");
  fs.writeFileSync(file, `
import fs from "node:fs";
import { test } from "node:test";
import { spawnServer } from ${JSON.stringify(SERVER_HELPER)};
test("leaks a server", async () => {
  const server = await spawnServer(${JSON.stringify(path.join(dir, "data"))});
  fs.writeFileSync(${JSON.stringify(pidFile)}, String(server.child.pid));
});
`);
  // The inner runner must not think it is a child of ours (NODE_TEST_CONTEXT).
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const runner = spawn(process.execPath, ["--import", "tsx", "--test", file], { cwd: path.resolve(import.meta.dirname, ".."), env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  runner.stdout!.on("data", (c) => (output += c));
  runner.stderr!.on("data", (c) => (output += c));
  const code = await new Promise<number | null>((resolve, reject) => {
    const deadline = setTimeout(() => {
      runner.kill("SIGKILL");
      reject(new Error("the test file did not exit within 60 s: the leaked server kept it alive"));
    }, 60_000);
    runner.once("exit", (c) => (clearTimeout(deadline), resolve(c)));
  });
  assert.equal(code, 0, `the inner test passed:\n${output}`);
  const pid = Number(fs.readFileSync(pidFile, "utf8"));
  assert.throws(() => process.kill(pid, 0), { code: "ESRCH" }, "the leaked server is gone");
});

test("a temp dir nobody cleans up is removed when its process exits", () => {
  const helper = path.resolve(import.meta.dirname, "helpers/tmp.ts");
  const script = `import fs from "node:fs"; import { tmpDir } from ${JSON.stringify(helper)};
const dir = tmpDir(); fs.mkdirSync(dir + "/segments"); fs.writeFileSync(dir + "/segments/0", "x"); console.log(dir);`;
  const out = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    cwd: path.resolve(import.meta.dirname, ".."), encoding: "utf8", timeout: 60_000,
  });
  const dir = out.trim();
  assert.match(dir, /zizq-test-/);
  assert.equal(fs.existsSync(dir), false, `${dir} is left behind`);
});
