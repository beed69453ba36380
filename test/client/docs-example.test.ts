// docs/client.md's complete example runs as written: the block after the
// `<!-- example: client -->` marker, with `zizq/client` pointed at lib/client, against a
// real server whose URL it gets from ZIZQ_URL.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, it } from "node:test";
import { promisify } from "node:util";
import { startServer, type TestServer } from "../helpers/server.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");

/** The fenced block after `<!-- example: NAME -->` in a markdown file. */
export function exampleBlock(file: string, name: string): string {
  const doc = fs.readFileSync(path.join(ROOT, file), "utf8");
  const match = new RegExp(`<!-- example: ${name} -->\\s*\`\`\`\\w*\\n([\\s\\S]*?)\`\`\``).exec(doc);
  assert.ok(match, `${file} has an example block "${name}"`);
  return match[1];
}

let s: TestServer;
before(async () => { s = await startServer(); });
after(async () => { await s.close(); cleanupTmp(); });

it("docs/client.md: the complete example runs and prints what it says", async () => {
  const source = exampleBlock("docs/client.md", "client").replace('"zizq/client"', JSON.stringify(path.join(ROOT, "lib/client/index.ts")));
  const file = path.join(tmpDir(), "example.mts");
  fs.writeFileSync(file, source);
  const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", file], {
    cwd: ROOT, env: { ...process.env, ZIZQ_URL: s.url }, timeout: 60_000,
  });
  const lines = stdout.trim().split("\n");
  assert.match(lines[0], /^enqueued \w+ \(ready\)$/);
  assert.deepEqual(lines.filter((l) => l.startsWith("welcome")).sort(), ["welcome user 1", "welcome user 2", "welcome user 3"]);
  assert.ok(lines.includes("left: 0"), stdout);
  assert.ok(lines.includes("not found: 404 job not found"), stdout);
});
