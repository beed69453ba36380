// serve(): the whole `zizq serve` in-process (lib/cli/serve.ts startServe, the same code
// path as the command), for apps and tests that want the HTTP API without a child
// process. Options are the command's settings in camelCase; the environment is not read.
//
// The HTTP stack (h3, pino, the routes, the listeners) loads on the first call, not with
// `import "zizq"`: an app that only embeds the queue would pay ~9 MB of RSS for it
// (docs/embedded.md, "Memory"). test/package/pack.test.ts checks the bundle's static imports.

import path from "node:path";
import type { Logger } from "pino";
import type { ServeConfig } from "../cli/config.ts";

export interface ServeOptions extends Partial<Omit<ServeConfig, "dir" | "log">> {
  /** Root directory of the data, created if missing (`--dir`). */
  dir: string;
  /** Primary listener port; 0 picks a free one. @default 7890 */
  port?: number;
  /** The admin listener (`zizq top`, backups) is off unless asked for in-process. @default false */
  adminEnabled?: boolean;
  /** A pino logger for the server's logs. @default silent */
  logger?: Logger;
}

export interface Server {
  /** The primary listener, e.g. `http://127.0.0.1:43121`. */
  url: string;
  /** The admin listener's URL when `adminEnabled`. */
  adminUrl: string | undefined;
  /** Graceful stop: streams end, in-flight jobs go back to ready, the dir lock is released. */
  close(): Promise<void>;
}

/** Start a server on `dir`; rejects if the dir is locked or the port is taken. */
export async function serve(options: ServeOptions): Promise<Server> {
  if (!options || typeof options.dir !== "string" || options.dir === "") throw new TypeError("serve() needs { dir }");
  const { logger, dir, ...settings } = options;
  const [{ resolveServeConfig }, { startServe }, { default: pino }] = await Promise.all([
    import("../cli/config.ts"), import("../cli/serve.ts"), import("pino"),
  ]);
  const defaults = resolveServeConfig({ dir: path.resolve(dir) }, {}, { stderrIsTTY: false });
  const config: ServeConfig = { ...defaults, adminEnabled: false, ...settings };
  const running = await startServe(config, logger ?? pino({ level: "silent" }));
  return { url: running.url, adminUrl: running.adminUrl, close: running.close };
}
