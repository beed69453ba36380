// Temp dirs for tests: one fresh dir per call, removed by cleanupTmp() in an after hook,
// and in any case when the process exits. Why both: many files start servers through
// helpers that make dirs for them and never call cleanupTmp(), and each `npm test` left
// ~20 dirs (up to 6 MB each) in the temp dir. node --test runs every file in a process
// of its own, so the exit hook cleans up after each file.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const made: string[] = [];
let hooked = false;

export function tmpDir(prefix = "zizq-test-"): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  if (!hooked) {
    hooked = true;
    process.once("exit", cleanupTmp);
  }
  return dir;
}

export function cleanupTmp(): void {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}
