// docs/operations.md must mention every CLI flag and env twin defined in flags.ts, so the
// operator docs cannot silently fall behind the code.

import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { it } from "node:test";
import { ADMIN_CLIENT_FLAGS, GLOBAL_FLAGS, SERVE_FLAGS, TLS_FLAGS, TOP_FLAGS } from "../../lib/cli/flags.ts";

it("docs/operations.md mentions every flag and env var", async () => {
  const doc = await readFile(new URL("../../docs/operations.md", import.meta.url), "utf8");
  const missing: string[] = [];
  for (const spec of [...GLOBAL_FLAGS, ...SERVE_FLAGS, ...ADMIN_CLIENT_FLAGS, ...TOP_FLAGS, ...TLS_FLAGS]) {
    if (!doc.includes(`--${spec.name}`)) missing.push(`--${spec.name}`);
    for (const env of spec.env) if (!doc.includes(env)) missing.push(env);
    if (spec.default !== undefined && !doc.includes(`\`${spec.default}\``)) missing.push(`default ${spec.default}`);
  }
  assert.deepEqual(missing, []);
});
