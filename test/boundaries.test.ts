// Dependencies point one way: storage ← queue ← http, and cli may use all three
// (STYLE.md §2); lib/client is a room of its own that imports nothing of the server.
// This scans every import line in lib/ and fails on an import that points the wrong way,
// or on a barrel index.ts (except the public entries listed below).

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";

const LIB = path.resolve(import.meta.dirname, "../lib");
const ALLOWED: Record<string, string[]> = {
  storage: ["storage"],
  queue: ["queue", "storage"],
  http: ["http", "queue"],
  cli: ["cli", "http", "queue", "storage"],
  client: ["client"],
  // The embedded queue sits over lib/queue with no HTTP in between (issue 8); it builds
  // the client's resource classes, so code moves between the two unchanged.
  embedded: ["embedded", "queue", "storage", "client"],
  // The package entry (package.json "exports" ".") re-exports the public rooms.
  entry: ["entry", "embedded", "cli", "client"],
};
/** Package entry points: barrels by design (what users import), not internal modules. */
const PUBLIC_ENTRIES = ["client/index.ts"];

function files(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(path.join(dir, e.name)) : /\.(ts|cjs|mjs|js)$/.test(e.name) ? [path.join(dir, e.name)] : []);
}

test("lib layers import only downward (storage ← queue ← http; cli uses all; embedded over queue)", () => {
  const violations: string[] = [];
  for (const file of files(LIB)) {
    const layer = path.relative(LIB, file).split(path.sep)[0];
    const source = fs.readFileSync(file, "utf8");
    for (const m of source.matchAll(/(?:from\s+|import\s*\(\s*|require\(\s*)["'](\.[^"']+)["']/g)) {
      const target = path.relative(LIB, path.resolve(path.dirname(file), m[1])).split(path.sep)[0];
      if (!ALLOWED[layer]?.includes(target)) violations.push(`${path.relative(LIB, file)} imports ${m[1]} (${layer} → ${target})`);
    }
  }
  assert.deepEqual(violations, []);
});

test("no barrel index.ts files inside lib/ (public entries aside)", () => {
  const barrels = files(LIB).filter((f) => path.basename(f).startsWith("index."));
  assert.deepEqual(barrels.map((f) => path.relative(LIB, f)).filter((f) => !PUBLIC_ENTRIES.includes(f)), []);
});

test("lib/client imports no server package and no server-only dependency", () => {
  const SERVER_ONLY = ["h3", "listhen", "pino", "croner", "jq-web", "scru128", "lru-cache", "sade", "ws", "tar"];
  const violations: string[] = [];
  for (const file of files(path.join(LIB, "client"))) {
    const source = fs.readFileSync(file, "utf8");
    for (const m of source.matchAll(/(?:from\s+|import\s*\(\s*|require\(\s*)["']([^"'.][^"']*)["']/g)) {
      const pkg = m[1].startsWith("@") ? m[1].split("/").slice(0, 2).join("/") : m[1].split("/")[0];
      if (SERVER_ONLY.includes(pkg)) violations.push(`${path.relative(LIB, file)} imports ${m[1]}`);
    }
  }
  assert.deepEqual(violations, []);
});

test("web/ (the dashboard) talks to the server only over HTTP: no imports of lib/, and lib/ imports nothing of web/", () => {
  const WEB = path.resolve(import.meta.dirname, "../web");
  const violations: string[] = [];
  for (const file of files(WEB)) {
    for (const m of fs.readFileSync(file, "utf8").matchAll(/(?:from\s+|import\s*\(\s*)["'](\.[^"']+)["']/g)) {
      if (!path.resolve(path.dirname(file), m[1]).startsWith(WEB + path.sep)) violations.push(`${path.relative(WEB, file)} imports ${m[1]}`);
    }
  }
  for (const file of files(LIB)) {
    for (const m of fs.readFileSync(file, "utf8").matchAll(/(?:from\s+|import\s*\(\s*)["'](\.[^"']+)["']/g)) {
      if (path.resolve(path.dirname(file), m[1]).startsWith(WEB + path.sep)) violations.push(`lib/${path.relative(LIB, file)} imports ${m[1]}`);
    }
  }
  assert.deepEqual(violations, []);
});
