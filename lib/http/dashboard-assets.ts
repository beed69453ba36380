// The dashboard's static files: web/ sources bundled by esbuild into content-hashed
// files (dist/web by `npm run build`), held in memory and served by the admin app.
// When dist/web is missing (a dev checkout run through tsx, the tests) the same build
// runs in memory on first use (~0.3 s), so there is one way to produce the files.

import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export interface Asset {
  body: Buffer;
  type: string;
  /** Hashed names are immutable; index.html is revalidated every load. */
  immutable: boolean;
  etag: string;
}

/**
 * Where the built files come from. The seam exists for the single executable
 * (bin/zizq-sea.ts), which has no file tree and no import.meta.url: it reads them from an
 * embedded asset instead. Everyone else: dist/web if built, else an in-memory build.
 */
export const dashboardSource = {
  load: (): Promise<Map<string, Buffer>> => loadFromPackage(),
};

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};

const etagOf = (body: Buffer) => `"${createHash("sha256").update(body).digest("base64url").slice(0, 16)}"`;

/** Build web/ into `outDir` (written) or into memory (outDir undefined): name → bytes. */
export async function buildDashboard(root: string, outDir?: string): Promise<Map<string, Buffer>> {
  const { build } = await import("esbuild");
  const result = await build({
    entryPoints: { app: path.join(root, "web/main.ts"), style: path.join(root, "web/style.css") },
    bundle: true,
    format: "esm",
    target: "es2020",
    minify: true,
    write: false,
    outdir: "/assets",
    entryNames: "[name]-[hash]",
    jsx: "preserve",
    logLevel: "warning",
    legalComments: "none",
  });
  const files = new Map<string, Buffer>();
  let js = "";
  let css = "";
  for (const out of result.outputFiles) {
    const name = path.basename(out.path);
    files.set(name, Buffer.from(out.contents));
    if (name.endsWith(".js")) js = name;
    else if (name.endsWith(".css")) css = name;
  }
  const template = fs.readFileSync(path.join(root, "web/index.html"), "utf8");
  files.set("index.html", Buffer.from(template.replace("%APP_JS%", `/assets/${js}`).replace("%APP_CSS%", `/assets/${css}`)));
  if (outDir) {
    fs.rmSync(outDir, { recursive: true, force: true });
    fs.mkdirSync(outDir, { recursive: true });
    for (const [name, body] of files) fs.writeFileSync(path.join(outDir, name), body);
  }
  return files;
}

function toAssets(files: Map<string, Buffer>): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const [name, body] of files) {
    const type = TYPES[path.extname(name)] ?? "application/octet-stream";
    assets.set(name, { body, type, immutable: name !== "index.html", etag: etagOf(body) });
  }
  return assets;
}

/** From a build (dist/web beside the bundle) or, in a source checkout, a fresh build of web/. */
async function loadFromPackage(): Promise<Map<string, Buffer>> {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // The package root, from lib/http (sources run by tsx), dist/bin (the `zizq` bundle) or
  // dist/_chunks (the library's `serve()`, where no esbuild is installed to build from).
  const root = path.resolve(here, "../..");
  // Only a build trusts dist/web: from sources it could be stale, so build afresh.
  const built = path.basename(path.dirname(here)) === "dist";
  const dist = path.join(root, "dist/web");
  if (built && fs.existsSync(path.join(dist, "index.html"))) {
    const files = new Map<string, Buffer>();
    for (const name of fs.readdirSync(dist)) files.set(name, fs.readFileSync(path.join(dist, name)));
    return files;
  }
  return buildDashboard(root);
}

let loading: Promise<Map<string, Asset>> | undefined;

/** The dashboard files, loaded once per process. */
export function dashboardAssets(): Promise<Map<string, Asset>> {
  loading ??= dashboardSource.load().then(toAssets);
  loading.catch(() => {
    loading = undefined;
  });
  return loading;
}
