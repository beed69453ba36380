// `zizq restore <archive>`: offline restore of a `zizq backup` tar.gz into an empty root
// directory, stripping the archive's `zizq-root/` prefix. Run it with the server stopped.
// Either every entry lands inside the target, or the target is left as it was found.

import { readdir, rm, stat, mkdir } from "node:fs/promises";
import path from "node:path";
import * as tar from "tar";

/** Every entry of a backup lives under this directory (API.md §5). */
const ARCHIVE_ROOT = "zizq-root";

// Backups hold plain files and directories only. Links are refused outright: a symlink
// entry followed by a file written "through" it is the classic tar escape.
const ALLOWED_TYPES = new Set(["File", "OldFile", "ContiguousFile", "Directory"]);

/** Extracts `archivePath` into `targetDir` (created if missing); returns the number of files written. */
export async function runRestore(archivePath: string, targetDir: string): Promise<number> {
  const archive = path.resolve(archivePath);
  const target = path.resolve(targetDir);
  const archiveStat = await stat(archive).catch(() => undefined);
  if (!archiveStat?.isFile()) throw new Error(`backup file not found: ${archive}`);

  const created = await prepareEmptyTarget(target);
  // Check every entry before writing any byte: a bad entry late in the archive must not
  // leave a half-restored directory behind that a server might then open.
  const problems: string[] = [];
  let entries = 0;
  let files = 0;
  let hasMeta = false;
  try {
    await tar.t({
      file: archive,
      strict: true, // without it a non-tar file lists as zero entries instead of failing
      onReadEntry: (entry) => {
        entries++;
        const problem = checkEntry(entry.path, entry.type, target);
        if (problem) problems.push(problem);
        else if (entry.type !== "Directory") files++;
        if (entry.path === `${ARCHIVE_ROOT}/meta.json` && entry.type !== "Directory") hasMeta = true;
      },
    });
  } catch (error) {
    await undo(target, created);
    throw new Error(`cannot read ${archive} as a tar.gz backup: ${(error as Error).message}`);
  }
  if (entries === 0) problems.push("the archive is empty");
  // Every backup holds the store's meta.json (segment size, format). Without it the
  // archive is some other tar.gz under zizq-root/, which restored as "0 files" or a
  // notes.txt, and a server then started an empty store there as if all were well.
  else if (!hasMeta && problems.length === 0) problems.push(`it has no ${ARCHIVE_ROOT}/meta.json (not a zizq backup?)`);
  if (problems.length > 0) {
    await undo(target, created);
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : "";
    throw new Error(`refusing to restore ${archive}: ${problems[0]}${more}`);
  }

  try {
    // strict turns node-tar's warnings (e.g. a path it would rewrite) into errors; owner
    // preservation is off so files belong to whoever restores, even when that is root.
    // Modes keep their permission bits only: a setuid or setgid bit in an archive would
    // leave a setuid file in the data dir of a root restore. A store writes none.
    await tar.x({
      file: archive, cwd: target, strip: 1, strict: true, preserveOwner: false,
      filter: (_path, entry) => {
        if ("mode" in entry && typeof entry.mode === "number") entry.mode &= 0o777;
        return true;
      },
    });
  } catch (error) {
    await undo(target, created);
    throw new Error(`restore failed, ${target} left as it was: ${(error as Error).message}`);
  }
  return files;
}

/** Returns a reason to refuse the entry, or undefined when it may be extracted. */
function checkEntry(entryPath: string, type: string, target: string): string | undefined {
  if (!ALLOWED_TYPES.has(type)) return `entry ${JSON.stringify(entryPath)} is a ${type}; only files and directories are restored`;
  if (entryPath === ARCHIVE_ROOT || entryPath === `${ARCHIVE_ROOT}/`) return undefined;
  if (!entryPath.startsWith(`${ARCHIVE_ROOT}/`)) {
    return `entry ${JSON.stringify(entryPath)} is outside ${ARCHIVE_ROOT}/ (not a zizq backup?)`;
  }
  const relative = entryPath.slice(ARCHIVE_ROOT.length + 1);
  const resolved = path.resolve(target, relative);
  const escapes = relative.split(/[\\/]/).includes("..") || !resolved.startsWith(target + path.sep);
  if (escapes) return `entry ${JSON.stringify(entryPath)} would be written outside ${target}`;
  return undefined;
}

/** Requires: target is missing or an empty directory. Returns whether we created it. */
async function prepareEmptyTarget(target: string): Promise<boolean> {
  const existing = await stat(target).catch(() => undefined);
  if (!existing) {
    await mkdir(target, { recursive: true });
    return true;
  }
  if (!existing.isDirectory()) throw new Error(`${target} exists and is not a directory`);
  const names = await readdir(target);
  if (names.length > 0) {
    throw new Error(`refusing to restore into ${target}: it is not empty (${names.length} entries); use an empty or new directory`);
  }
  return false;
}

/** Puts the target back as found: removed if we created it, emptied if it was empty. */
async function undo(target: string, created: boolean): Promise<void> {
  if (created) return rm(target, { recursive: true, force: true });
  for (const name of await readdir(target)) await rm(path.join(target, name), { recursive: true, force: true });
}
