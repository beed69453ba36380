// `zizq compact`: asks the running server to compact its storage now (POST /compact on the
// admin listener, API.md §5). Resolves once the server replied 2xx, i.e. compaction is done.

import type { AdminClientConfig } from "./config.ts";
import { postAdmin } from "./_admin-request.ts";

export async function runCompact(config: AdminClientConfig): Promise<void> {
  const response = await postAdmin(config, "/compact");
  response.resume(); // 204 has no body; drain anyway so the socket is released
}
