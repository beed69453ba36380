#!/usr/bin/env node
// Build what the package ships (dependencies stay in node_modules, ESM throughout):
// - dist/bin/zizq.mjs: the `zizq` command, split into chunks in dist/_bin (one per
//   subcommand, loaded when it runs). `npm start` runs it with plain node:
//   the tsx loader costs ~54 MB of RSS per process (67 MB idle vs 121 MB,
//   docs/decisions.md), a fifth of the 1M-job memory budget.
// - dist/zizq.mjs and dist/client.mjs: the package entries "." and "./client", built
//   together with code splitting, so both import one shared copy of the client classes
//   (an error thrown by the embedded queue is `instanceof` the class from "zizq/client").
// - the jq worker and the log verifier's worker beside each bundle that may load them.
// - dist/web: the dashboard (web/), content-hashed files the admin listener serves.
// `--types` also emits the .d.ts files into dist/types/ (tsc, a few seconds; prepack does).
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const common = { bundle: true, platform: "node", target: "node20", packages: "external", logLevel: "warning" };

// Chunk names carry a hash: drop the last build's so only live ones get packed.
rmSync(`${root}dist/_bin`, { recursive: true, force: true });
rmSync(`${root}dist/_chunks`, { recursive: true, force: true });
mkdirSync(`${root}dist/bin`, { recursive: true });
// Split, so each subcommand's packages load only when it runs: `zizq serve` does not load
// node-forge (`zizq tls`) or tar (`zizq restore`). The chunks sit in dist/_bin, a sibling
// of dist/bin, so that "../.." from either is the package root (dashboard-assets.ts).
await build({
  ...common,
  // The log verifier's worker (lib/storage/verify-thread.ts starts it from beside the
  // chunk that holds that module: dist/_bin here, dist/_chunks in the library build).
  entryPoints: { "bin/zizq": `${root}bin/zizq.ts`, "_bin/verify-worker": `${root}lib/storage/verify-worker.ts` },
  outdir: `${root}dist`,
  outExtension: { ".js": ".mjs" },
  chunkNames: "_bin/[name]-[hash]",
  format: "esm",
  splitting: true,
  sourcemap: "linked",
  banner: { js: "#!/usr/bin/env node" },
});
await build({
  ...common,
  entryPoints: { zizq: `${root}lib/entry/zizq.ts`, client: `${root}lib/client/index.ts`, "_chunks/verify-worker": `${root}lib/storage/verify-worker.ts` },
  outdir: `${root}dist`,
  outExtension: { ".js": ".mjs" },
  chunkNames: "_chunks/[name]-[hash]",
  format: "esm",
  splitting: true,
});
// lib/queue/_jq-pool.ts loads its worker by URL relative to itself: in the bin bundle that
// is dist/bin/, in the library build the chunk that holds the pool (dist/_chunks/).
copyFileSync(`${root}lib/queue/_jq-worker.cjs`, `${root}dist/_bin/_jq-worker.cjs`);
mkdirSync(`${root}dist/_chunks`, { recursive: true });
copyFileSync(`${root}lib/queue/_jq-worker.cjs`, `${root}dist/_chunks/_jq-worker.cjs`);

if (process.argv.includes("--types")) {
  rmSync(`${root}dist/types`, { recursive: true, force: true });
  execFileSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, "-p", `${root}tsconfig.build.json`], { stdio: "inherit" });
  // Our sources import with .ts extensions; a consumer resolves the declarations by .js.
  for (const file of readdirSync(`${root}dist/types`, { recursive: true })) {
    if (!String(file).endsWith(".d.ts")) continue;
    const at = `${root}dist/types/${file}`;
    writeFileSync(at, readFileSync(at, "utf8").replace(/(["'])(\.{1,2}\/[^"']*)\.ts\1/g, "$1$2.js$1"));
  }
}

// The dashboard (web/) into dist/web with content-hashed names; the bundle serves those
// files (lib/http/dashboard-assets.ts). Same build function the server uses from sources.
execFileSync(process.execPath, ["--import", "tsx", "-e",
  `import(${JSON.stringify(`${root}lib/http/dashboard-assets.ts`)}).then((m) => m.buildDashboard(${JSON.stringify(root.replace(/\/$/, ""))}, ${JSON.stringify(`${root}dist/web`)}))`,
], { stdio: "inherit", cwd: root });
