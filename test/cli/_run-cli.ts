// Test helper: runs the real `zizq` entry point (node --import tsx bin/zizq.ts) in a child
// process and collects exit code, stdout and stderr. Asynchronous, so an in-process test
// server can answer the child's requests meanwhile.

import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `env` is added to a copy of process.env minus ZIZQ_* (so the caller's shell cannot leak in). */
export function runCli(args: string[], env: NodeJS.ProcessEnv, options: { cwd?: string; timeoutMs?: number } = {}) {
  const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("ZIZQ_")));
  const child = spawn(process.execPath, ["--import", "tsx", "bin/zizq.ts", ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: { ...cleanEnv, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 20_000);
  return new Promise<CliResult>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
