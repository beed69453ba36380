// The package as a user gets it (issue 8 §3): `npm pack` (prepack builds the bundles and
// the .d.ts), install the tarball into an empty project, type-check the README's two
// examples against the installed types, run them with plain node, and run the `zizq` bin.
// The pack runs in a copy of the package sources so it never races other tests over dist/.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { promisify } from "node:util";
import { startServer } from "../helpers/server.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, "../..");
const SOURCES = ["package.json", "package-lock.json", "bin", "lib", "web", "tsconfig.json", "tsconfig.build.json", "README.md", "CHANGELOG.md", "docs"];

after(cleanupTmp);

/** The code block after `<!-- example: NAME` in README.md. */
export function readmeExample(name: string): string {
  const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
  const m = new RegExp(`<!-- example: ${name}\\b[^>]*-->\\s*\`\`\`ts\\n([\\s\\S]*?)\`\`\``).exec(readme);
  assert.ok(m, `README.md has no "${name}" example`);
  return m[1];
}

/**
 * Every module a bundle loads before its code runs: its static imports, followed through
 * relative chunks. `bare` holds the package and node: specifiers reached.
 */
function staticImports(entry: string): { files: string[]; bare: Set<string> } {
  const files = new Set<string>();
  const bare = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const text = fs.readFileSync(file, "utf8");
    for (const m of text.matchAll(/(?:^|\n)(?:import|export)\s[^;]*?from\s*"([^"]+)";|(?:^|\n)import\s*"([^"]+)";/g)) {
      const spec = m[1] ?? m[2];
      if (spec.startsWith(".")) visit(path.resolve(path.dirname(file), spec));
      else bare.add(spec);
    }
  };
  visit(entry);
  return { files: [...files], bare };
}

/** `npm pack` of a copy of the package; returns the tarball path. */
async function pack(work: string): Promise<string> {
  const src = path.join(work, "src");
  for (const entry of SOURCES) fs.cpSync(path.join(ROOT, entry), path.join(src, entry), { recursive: true });
  fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(src, "node_modules"));
  const { stdout } = await run("npm", ["pack", "--silent", "--pack-destination", work], { cwd: src, maxBuffer: 1 << 24 });
  return path.join(work, stdout.trim().split("\n").pop()!);
}

test("npm pack → install into an empty project → README examples type-check and run; the bin runs", { timeout: 300_000 }, async () => {
  const work = tmpDir("zizq-pack-");
  const tarball = await pack(work);
  const { stdout: listing } = await run("tar", ["-tzf", tarball]);
  for (const file of ["package/dist/zizq.mjs", "package/dist/client.mjs", "package/dist/bin/zizq.mjs", "package/dist/types/entry/zizq.d.ts", "package/dist/web/index.html"]) {
    assert.ok(listing.includes(file), `${file} is in the tarball`);
  }
  assert.ok(!listing.includes("package/lib/"), "sources stay out of the tarball");

  const app = path.join(work, "app");
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  // Dependencies come from the npm cache when it has them (npm ci filled it), else the registry.
  await run("npm", ["install", tarball, "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts"], { cwd: app, maxBuffer: 1 << 24 });

  for (const name of ["embedded", "client"]) {
    fs.writeFileSync(path.join(app, `${name}.ts`), readmeExample(name));
    // The examples are plain JavaScript as well, so node runs the same text.
    fs.writeFileSync(path.join(app, `${name}.mjs`), readmeExample(name));
  }
  fs.writeFileSync(path.join(app, "tsconfig.json"), JSON.stringify({
    compilerOptions: {
      strict: true, target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", noEmit: true, skipLibCheck: true,
      types: ["node"], typeRoots: [path.join(ROOT, "node_modules/@types")],
    },
    files: ["embedded.ts", "client.ts"],
  }));
  await run(process.execPath, [path.join(ROOT, "node_modules/typescript/bin/tsc"), "-p", app]).catch((err) => {
    assert.fail(`the README examples do not type-check against the installed package:\n${err.stdout}${err.stderr}`);
  });

  const embedded = await run(process.execPath, ["embedded.mjs"], { cwd: app }).catch((err) => {
    assert.fail(`embedded.mjs failed (exit ${err.code}):\n${err.stdout}${err.stderr}`);
  });
  assert.match(embedded.stdout, /welcome \{ user: 42 \}/);
  assert.ok(fs.existsSync(path.join(app, "zizq-root")), "the embedded example made its data dir");

  const server = await startServer();
  try {
    const client = await run(process.execPath, ["client.mjs"], { cwd: app, env: { ...process.env, ZIZQ_URL: server.url } }).catch((err) => {
      assert.fail(`client.mjs failed (exit ${err.code}):\n${err.stdout}${err.stderr}`);
    });
    assert.match(client.stdout, /welcome \{ user: 42 \}/);
  } finally {
    await server.close();
  }

  // `import { open } from "zizq"` must not load the HTTP server (serve() loads it when
  // called): ~9 MB of RSS and half the import time for an app that only embeds the queue.
  const graph = staticImports(path.join(app, "node_modules/zizq/dist/zizq.mjs"));
  assert.ok(graph.bare.has("lru-cache") && graph.files.length > 1, `the walk follows the chunks: ${[...graph.bare]}`);
  for (const heavy of ["h3", "h3/node", "pino", "srvx", "ws", "node:http", "node:http2", "node:net", "node:tls"]) {
    assert.ok(!graph.bare.has(heavy), `"zizq" loads ${heavy} on import (static imports: ${[...graph.bare].join(", ")})`);
  }

  const { stdout: version } = await run(path.join(app, "node_modules/.bin/zizq"), ["--version"], { cwd: app });
  assert.match(version, /0\.\d+\.\d+/);
});
