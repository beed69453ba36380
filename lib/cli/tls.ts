// Placeholder for `zizq tls <init|ca|server-cert|client-cert>`: another change writes the
// certificate helpers. Options arrive fully resolved (defaults filled) from config.ts.

import type { TlsAction, TlsCommandOptions } from "./config.ts";

export async function runTlsCommand(_action: TlsAction, _options: TlsCommandOptions): Promise<void> {
  throw new Error("tls: not implemented yet");
}
