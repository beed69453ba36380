// Placeholder for `zizq top`, the terminal UI over the admin WebSocket (API.md §5.1).
// A later change builds it; until then the command says so and exits 1.

import type { TopConfig } from "./config.ts";

export async function runTop(_options: TopConfig): Promise<number> {
  process.stderr.write("zizq top: not implemented yet\n");
  return 1;
}
