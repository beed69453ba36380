// `zizq restore`: strips the zizq-root/ prefix, refuses non-empty targets, missing files,
// path escapes and links, and leaves the target as it was when it refuses.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { after, before, describe, it } from "node:test";
import * as tar from "tar";
import { runRestore } from "../../lib/cli/restore.ts";

let root: string;
let goodArchive: string;

before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "zizq-restore-"));
  const source = path.join(root, "source");
  // The layout `zizq backup` writes: the store's files right under zizq-root/.
  await mkdir(path.join(source, "zizq-root", "segments"), { recursive: true });
  await writeFile(path.join(source, "zizq-root", "meta.json"), '{"format":1}');
  await writeFile(path.join(source, "zizq-root", "segments", "00000001.seg"), Buffer.alloc(4096, 7));
  goodArchive = path.join(root, "backup.tar.gz");
  await tar.c({ gzip: true, file: goodArchive, cwd: source }, ["zizq-root"]);
});
after(() => rm(root, { recursive: true, force: true }));

/** A tar.gz with hand-made entries, for archives `tar.c` would never produce. */
async function craftArchive(name: string, entries: { path: string; type?: "File" | "SymbolicLink"; linkpath?: string; body?: string; mode?: number }[]) {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const body = Buffer.from(entry.body ?? "");
    const header = new tar.Header({
      path: entry.path,
      type: entry.type ?? "File",
      linkpath: entry.linkpath,
      mode: entry.mode ?? 0o644,
      size: entry.type === "SymbolicLink" ? 0 : body.length,
      mtime: new Date(0),
    });
    const block = Buffer.alloc(512);
    header.encode(block, 0);
    blocks.push(block);
    if (entry.type !== "SymbolicLink" && body.length > 0) {
      blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
    }
  }
  blocks.push(Buffer.alloc(1024));
  const file = path.join(root, name);
  await writeFile(file, gzipSync(Buffer.concat(blocks)));
  return file;
}

describe("runRestore", () => {
  it("extracts into a new directory, stripping the zizq-root/ prefix", async () => {
    const target = path.join(root, "restored-new");
    const files = await runRestore(goodArchive, target);
    assert.equal(files, 2);
    assert.deepEqual((await readdir(target)).sort(), ["meta.json", "segments"]);
    assert.equal(await readFile(path.join(target, "meta.json"), "utf8"), '{"format":1}');
    assert.deepEqual(await readFile(path.join(target, "segments", "00000001.seg")), Buffer.alloc(4096, 7));
  });

  it("extracts into an existing empty directory", async () => {
    const target = path.join(root, "restored-empty");
    await mkdir(target);
    await runRestore(goodArchive, target);
    assert.ok(existsSync(path.join(target, "meta.json")));
  });

  it("refuses a non-empty target and leaves it untouched", async () => {
    const target = path.join(root, "restored-busy");
    await mkdir(target);
    await writeFile(path.join(target, "keep.txt"), "mine");
    await assert.rejects(runRestore(goodArchive, target), /refusing to restore into .*restored-busy: it is not empty/);
    assert.deepEqual(await readdir(target), ["keep.txt"]);
  });

  it("errors when the backup file is missing", async () => {
    const target = path.join(root, "restored-missing");
    await assert.rejects(runRestore(path.join(root, "nope.tar.gz"), target), /backup file not found: .*nope\.tar\.gz/);
    assert.ok(!existsSync(target));
  });

  it("keeps only permission bits: no setuid or setgid file comes out of an archive", async () => {
    const archive = await craftArchive("setuid.tar.gz", [
      { path: "zizq-root/meta.json", body: "{}" },
      { path: "zizq-root/suid", body: "#!/bin/sh\n", mode: 0o6755 },
    ]);
    const target = path.join(root, "restored-setuid");
    await runRestore(archive, target);
    assert.equal((await stat(path.join(target, "suid"))).mode & 0o7777, 0o755);
  });

  it("refuses an entry that would escape the target, writing nothing", async () => {
    const archive = await craftArchive("escape.tar.gz", [
      { path: "zizq-root/meta.json", body: "{}" },
      { path: "zizq-root/../escaped.txt", body: "gotcha" },
    ]);
    const target = path.join(root, "restored-escape");
    await assert.rejects(runRestore(archive, target), /would be written outside/);
    assert.ok(!existsSync(target), "the target we created is removed again");
    assert.ok(!existsSync(path.join(root, "escaped.txt")));
  });

  it("refuses links and entries outside zizq-root/, keeping an empty target empty", async () => {
    const target = path.join(root, "restored-links");
    await mkdir(target);
    const link = await craftArchive("link.tar.gz", [{ path: "zizq-root/data", type: "SymbolicLink", linkpath: "/etc" }]);
    await assert.rejects(runRestore(link, target), /is a SymbolicLink; only files and directories/);
    const foreign = await craftArchive("foreign.tar.gz", [{ path: "etc/passwd", body: "root:x" }]);
    await assert.rejects(runRestore(foreign, target), /outside zizq-root\/ \(not a zizq backup\?\)/);
    assert.deepEqual(await readdir(target), []);
  });

  it("refuses a file that is not a tar.gz", async () => {
    const bogus = path.join(root, "bogus.tar.gz");
    await writeFile(bogus, "definitely not gzip");
    await assert.rejects(runRestore(bogus, path.join(root, "restored-bogus")), /cannot read .* as a tar\.gz backup/);
    assert.ok(!existsSync(path.join(root, "restored-bogus")));
    // A tar.gz under zizq-root/ without the store's meta.json is some other archive.
    for (const entries of [[{ path: "zizq-root/notes.txt", body: "hi" }], [{ path: "zizq-root/segments/00000001.seg", body: "x" }]]) {
      const target = path.join(root, "restored-not-a-backup");
      await assert.rejects(runRestore(await craftArchive("not-a-backup.tar.gz", entries), target), /has no zizq-root\/meta\.json \(not a zizq backup\?\)/);
      assert.ok(!existsSync(target));
    }
    const empty = await craftArchive("empty.tar.gz", []);
    await assert.rejects(runRestore(empty, path.join(root, "restored-empty-archive")), /as a tar\.gz backup|the archive is empty/);
  });
});
