// `zizq backup <file>`: asks the running server's admin listener for a tar.gz snapshot
// (POST /backup, API.md §5) and streams it to disk. The file appears only once the whole
// archive has arrived, so an interrupted backup never looks like a complete one.

import { createWriteStream } from "node:fs";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import type { AdminClientConfig } from "./config.ts";
import { postAdmin } from "./_admin-request.ts";

/** Writes the backup to `file` (parents created) and returns its size in bytes. */
export async function runBackup(file: string, config: AdminClientConfig): Promise<number> {
  const target = path.resolve(file);
  const response = await postAdmin(config, "/backup");
  // API.md §5: the archive comes as application/gzip. Anything else (an HTML page from a
  // proxy or another program on the port) was saved as a "backup" with exit 0.
  const type = String(response.headers["content-type"] ?? "");
  if (!/^application\/(gzip|x-gzip)\b/.test(type)) {
    response.destroy();
    throw new Error(`backup failed: ${config.url} answered ${type || "no content type"}, not a backup (application/gzip): is it a zizq admin listener?`);
  }
  // Parents only once an archive is on its way: a failed backup left them behind.
  await mkdir(path.dirname(target), { recursive: true });
  // Write beside the target and rename: a rename within one directory is atomic, and a
  // dropped connection leaves only the `.partial` file, which we remove.
  const partial = `${target}.partial`;
  try {
    await pipeline(response, createWriteStream(partial));
    // A server that dies mid-stream may end the body without an error on HTTP/1.1.
    if (!response.complete) throw new Error("the server closed the connection before the backup was complete");
    await rename(partial, target);
  } catch (error) {
    await rm(partial, { force: true });
    throw new Error(`backup failed: ${(error as Error).message}`);
  }
  return (await stat(target)).size;
}
