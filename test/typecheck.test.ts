// The type check is part of the suite: tsx runs the sources without checking types, so
// without this a type error (or an unused import: tsconfig.json sets noUnusedLocals and
// noUnusedParameters) would land through a green `npm test`. The server, client, tests
// and benches (tsconfig.json), then the dashboard (web/tsconfig.json).

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import path from "node:path";
import { it } from "node:test";
import { promisify } from "node:util";

const ROOT = path.resolve(import.meta.dirname, "..");
const TSC = path.join(ROOT, "node_modules/typescript/bin/tsc");

for (const project of [".", "web"]) {
  it(`tsc --noEmit -p ${project} reports nothing`, async () => {
    const result = await promisify(execFile)(process.execPath, [TSC, "--noEmit", "-p", project], { cwd: ROOT, timeout: 600_000 })
      .then(() => "", (err: { stdout?: string; message: string }) => err.stdout || err.message);
    assert.equal(result, "");
  });
}
