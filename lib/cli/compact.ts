// `zizq compact`: asks the running server to compact its storage now (POST /compact on the
// admin listener, API.md §5). Resolves once the server replied 2xx, i.e. compaction is done.

import type { AdminClientConfig } from "./config.ts";
import { COMPACT_SILENCE_MS, postAdmin } from "./_admin-request.ts";

export async function runCompact(config: AdminClientConfig): Promise<void> {
  const response = await postAdmin(config, "/compact", COMPACT_SILENCE_MS);
  response.resume(); // 204 has no body; drain anyway so the socket is released
  // API.md §5 answers 204; a 200 (some other program on the port) said "finished" before.
  if (response.statusCode !== 204) throw new Error(`${config.url} answered HTTP ${response.statusCode}, not 204: is it a zizq admin listener?`);
}
