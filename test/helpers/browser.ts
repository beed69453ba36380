// Headless Chromium for the dashboard tests: Debian's `chromium` package driven by
// playwright-core (which downloads no browser of its own). When the binary is missing
// and we are root, it is installed with apt-get first (CI machines start without it).

import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { type Browser, type BrowserContext, chromium } from "playwright-core";
import { tmpDir } from "./tmp.ts";

const execFileAsync = promisify(execFile);

export const CHROMIUM = process.env.ZIZQ_CHROMIUM ?? "/usr/bin/chromium";
/** Screenshots and other artifacts of browser tests (gitignored). */
export const ARTIFACTS = path.resolve(import.meta.dirname, "../../test-artifacts");

let installing: Promise<string> | undefined;

/**
 * The Chromium binary, installing Debian's package when missing (root only). Async on
 * purpose: a synchronous apt-get blocked this process's event loop for a minute on a
 * fresh machine, and a server started beside it (the tests start both at once) was
 * declared "did not start within 20000 ms" because its output could not be read.
 */
export function ensureChromium(): Promise<string> {
  if (fs.existsSync(CHROMIUM)) return Promise.resolve(CHROMIUM);
  if (process.getuid?.() !== 0) return Promise.reject(new Error(`${CHROMIUM} is missing: run \`apt-get update && apt-get install -y chromium\` as root`));
  // One install at a time across the test files running in parallel (apt's locks make a
  // second apt-get fail, not wait): flock queues them, and the next one finds it there.
  installing ??= execFileAsync("flock", [
    path.join(os.tmpdir(), "zizq-chromium-install.lock"), "sh", "-c",
    'test -x "$1" || { apt-get update -q && apt-get install -y -q --no-install-recommends chromium; }', "sh", CHROMIUM,
  ], { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" }, timeout: 600_000, maxBuffer: 64 * 1024 * 1024 }).then(() => {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`apt-get installed chromium but ${CHROMIUM} is still missing`);
    return CHROMIUM;
  });
  return installing;
}

const ARGS = [
  "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync",
];

/** A fresh headless profile (its own user-data-dir) with the flags that work on these machines. */
export async function launchBrowser(): Promise<BrowserContext> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launchPersistentContext(tmpDir(), { executablePath: await ensureChromium(), headless: true, viewport: { width: 1280, height: 800 }, args: ARGS });
}

/**
 * The browser alone: each newContext() is a fresh, cacheless profile (benches time first
 * loads). With `niceness`, Chromium and every process it forks run at that nice value
 * (through a `nice -n` wrapper script), so a bench can keep it off the server's cores.
 */
export async function launchChromium(niceness?: number): Promise<Browser> {
  let executablePath = await ensureChromium();
  if (niceness !== undefined) {
    const wrapper = path.join(tmpDir(), "chromium-nice.sh");
    fs.writeFileSync(wrapper, `#!/bin/sh\nexec nice -n ${niceness} ${executablePath} "$@"\n`, { mode: 0o755 });
    executablePath = wrapper;
  }
  return chromium.launch({ executablePath, headless: true, args: ARGS });
}
