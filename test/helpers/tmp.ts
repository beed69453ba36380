// Temp dirs for tests: one fresh dir per call, removed by cleanupTmp() in an after hook.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const made: string[] = [];

export function tmpDir(prefix = "zizq-test-"): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export function cleanupTmp(): void {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}
