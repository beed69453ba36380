// Headless Chromium for the dashboard tests: Debian's `chromium` package driven by
// playwright-core (which downloads no browser of its own). When the binary is missing
// and we are root, it is installed with apt-get first (CI machines start without it).

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { type Browser, type BrowserContext, chromium } from "playwright-core";
import { tmpDir } from "./tmp.ts";

export const CHROMIUM = process.env.ZIZQ_CHROMIUM ?? "/usr/bin/chromium";
/** Screenshots and other artifacts of browser tests (gitignored). */
export const ARTIFACTS = path.resolve(import.meta.dirname, "../../test-artifacts");

/** The Chromium binary, installing Debian's package when missing (root only). */
export function ensureChromium(): string {
  if (fs.existsSync(CHROMIUM)) return CHROMIUM;
  if (process.getuid?.() !== 0) throw new Error(`${CHROMIUM} is missing: run \`apt-get update && apt-get install -y chromium\` as root`);
  const run = (args: string[]) => execFileSync("apt-get", args, {
    stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" }, timeout: 600_000,
  });
  run(["update"]);
  run(["install", "-y", "--no-install-recommends", "chromium"]);
  if (!fs.existsSync(CHROMIUM)) throw new Error(`apt-get installed chromium but ${CHROMIUM} is still missing`);
  return CHROMIUM;
}

const ARGS = [
  "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync",
];

/** A fresh headless profile (its own user-data-dir) with the flags that work on these machines. */
export async function launchBrowser(): Promise<BrowserContext> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launchPersistentContext(tmpDir(), { executablePath: ensureChromium(), headless: true, viewport: { width: 1280, height: 800 }, args: ARGS });
}

/**
 * The browser alone: each newContext() is a fresh, cacheless profile (benches time first
 * loads). With `niceness`, Chromium and every process it forks run at that nice value
 * (through a `nice -n` wrapper script), so a bench can keep it off the server's cores.
 */
export function launchChromium(niceness?: number): Promise<Browser> {
  let executablePath = ensureChromium();
  if (niceness !== undefined) {
    const wrapper = path.join(tmpDir(), "chromium-nice.sh");
    fs.writeFileSync(wrapper, `#!/bin/sh\nexec nice -n ${niceness} ${executablePath} "$@"\n`, { mode: 0o755 });
    executablePath = wrapper;
  }
  return chromium.launch({ executablePath, headless: true, args: ARGS });
}
