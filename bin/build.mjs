#!/usr/bin/env node
// Build the server for production: one ESM bundle of bin/zizq.ts (dependencies stay in
// node_modules) plus the jq worker beside it, in dist/bin/. `npm start` runs it with
// plain node: the tsx loader costs ~54 MB of RSS per process (67 MB idle vs 121 MB,
// docs/decisions.md), a fifth of the 1M-job memory budget. Takes ~0.2 s.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
mkdirSync(`${root}dist/bin`, { recursive: true });
await build({
  entryPoints: [`${root}bin/zizq.ts`],
  outfile: `${root}dist/bin/zizq.mjs`,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  sourcemap: "linked",
  logLevel: "warning",
});
// lib/queue/_jq-pool.ts loads its worker by URL relative to itself; in the bundle, that
// is dist/bin/.
copyFileSync(`${root}lib/queue/_jq-worker.cjs`, `${root}dist/bin/_jq-worker.cjs`);
// The dashboard (web/) into dist/web with content-hashed names; the bundle serves those
// files (lib/http/dashboard-assets.ts). Same build function the server uses from sources.
execFileSync(process.execPath, ["--import", "tsx", "-e",
  `import(${JSON.stringify(`${root}lib/http/dashboard-assets.ts`)}).then((m) => m.buildDashboard(${JSON.stringify(root.replace(/\/$/, ""))}, ${JSON.stringify(`${root}dist/web`)}))`,
], { stdio: "inherit", cwd: root });
