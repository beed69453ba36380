// Placeholder for `zizq serve`: another change wires storage, queue and HTTP here.
// main.ts lazily imports this module and awaits runServe until the server has stopped.

import type { Logger } from "pino";
import type { ServeConfig } from "./config.ts";

/** Start the listeners on a recovered store; resolves after a graceful stop. */
export async function runServe(_config: ServeConfig, _logger: Logger): Promise<void> {
  throw new Error("serve: not implemented yet");
}
