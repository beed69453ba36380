#!/usr/bin/env node
// `npm run build:exe`: dist/zizq, the whole `zizq` command as one Node single executable
// application (SEA): no node_modules, no source tree, no Node.js install needed.
// 1. bin/zizq-sea.ts and every dependency → one CommonJS file (Node 20's SEA main must be
//    CommonJS, and its require() reaches only built-in modules).
// 2. The jq worker → one CommonJS source with jq-web inlined; it and jq's wasm become SEA
//    assets (Node ≥ 20.12), which bin/zizq-sea.ts starts the worker from; the log
//    verifier's worker and the built dashboard are more assets.
// 3. node --experimental-sea-config makes the blob; postject injects it into a copy of node.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const out = `${root}dist/sea/`;
const exe = `${root}dist/zizq`;
const require = createRequire(import.meta.url);
const { version } = JSON.parse(readFileSync(`${root}package.json`, "utf8"));

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  logLevel: "warning",
  plugins: [],
};
// Optional native speed-ups that ws and msgpackr try to require (inside try/catch) and do
// without: stubs that throw, so the executable never asks its builtin-only require() for them.
const optionalNative = {
  name: "optional-native",
  setup(b) {
    b.onResolve({ filter: /^(bufferutil|utf-8-validate|msgpackr-extract)$/ }, (args) => ({ path: args.path, namespace: "stub" }));
    b.onLoad({ filter: /.*/, namespace: "stub" }, (args) => ({ contents: `throw new Error("${args.path} is not in the executable");` }));
  },
};
common.plugins.push(optionalNative);

// jq-web instantiates itself on require with no options and reads jq.wasm beside its own
// file; in the executable the wasm arrives through workerData instead (Module.wasmBinary).
const jqWasmFromWorkerData = {
  name: "jq-wasm-from-worker-data",
  setup(b) {
    b.onLoad({ filter: /jq-web[\\/]jq\.js$/ }, (args) => {
      const source = readFileSync(args.path, "utf8");
      const patched = source.replace("jq = jq().then(", "jq = jq(globalThis.__zizqJqModuleArg).then(");
      if (patched === source) throw new Error("jq-web changed: its self-instantiation call was not found");
      return { contents: patched, loader: "js" };
    });
  },
};
await build({
  ...common,
  entryPoints: [`${root}lib/queue/_jq-worker.cjs`],
  outfile: `${out}jq-worker.js`,
  banner: { js: "globalThis.__zizqJqModuleArg = { wasmBinary: require('node:worker_threads').workerData.jqWasm };" },
  plugins: [optionalNative, jqWasmFromWorkerData],
});
// The log verifier's worker (lib/storage/verify-worker.ts), started from its asset.
await build({
  ...common,
  entryPoints: [`${root}lib/storage/verify-worker.ts`],
  outfile: `${out}verify-worker.js`,
});
await build({
  ...common,
  entryPoints: [`${root}bin/zizq-sea.ts`],
  outfile: `${out}zizq.cjs`,
  define: { __ZIZQ_VERSION__: JSON.stringify(version) },
  // import.meta.url only appears on paths the executable replaces (the jq worker file, package.json).
  logOverride: { "empty-import-meta": "silent" },
});

// The dashboard, built as `npm run build` builds it, as one JSON asset { name: base64 }.
execFileSync(process.execPath, ["--import", "tsx", "-e",
  `import(${JSON.stringify(`${root}lib/http/dashboard-assets.ts`)}).then((m) => m.buildDashboard(${JSON.stringify(root.replace(/\/$/, ""))}, ${JSON.stringify(`${out}web`)}))`,
], { stdio: "inherit", cwd: root });
const web = {};
for (const name of readdirSync(`${out}web`)) web[name] = readFileSync(`${out}web/${name}`).toString("base64");
writeFileSync(`${out}dashboard.json`, JSON.stringify(web));

writeFileSync(`${out}sea-config.json`, JSON.stringify({
  main: `${out}zizq.cjs`,
  output: `${out}zizq.blob`,
  disableExperimentalSEAWarning: true,
  assets: {
    "jq-worker.js": `${out}jq-worker.js`,
    "verify-worker.js": `${out}verify-worker.js`,
    "jq.wasm": require.resolve("jq-web/jq.wasm"),
    "dashboard.json": `${out}dashboard.json`,
  },
}));
execFileSync(process.execPath, ["--experimental-sea-config", `${out}sea-config.json`], { stdio: "inherit" });
rmSync(exe, { force: true });
copyFileSync(process.execPath, exe);
// postject's ELF writer warns about note sections it leaves alone; show its output only on failure.
try {
  execFileSync(process.execPath, [
    require.resolve("postject/dist/cli.js"), exe, "NODE_SEA_BLOB", `${out}zizq.blob`,
    "--sentinel-fuse", "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2",
  ], { stdio: "pipe" });
} catch (err) {
  process.stderr.write(`${err.stdout ?? ""}${err.stderr ?? ""}`);
  throw err;
}
console.log(`built ${exe}`);
