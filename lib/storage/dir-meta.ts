// The data dir's meta.json: its format version and segment size, read at open (and
// written when the dir is new, or upgraded from an older format). Written whole or not
// at all: a power cut leaves the old file or the new one (writeMeta).

import path from "node:path";
import { StorageError } from "./errors.ts";
import { DIR_FORMAT_VERSION, MIN_SEGMENT_BYTES, READABLE_DIR_FORMATS, SEGMENT_HEADER_BYTES } from "./format.ts";
import type { FsPort } from "./fs-port.ts";

/** The dir's segment size: from meta.json, or `segmentBytes` written into a new one. */
export async function readOrCreateMeta(fs: FsPort, dir: string, segmentBytes: number, nowMs: number): Promise<number> {
  const file = path.join(dir, "meta.json");
  let text: string | undefined;
  try {
    text = (await fs.readFile(file)).toString("utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  if (text === undefined) {
    if (!Number.isInteger(segmentBytes) || segmentBytes < MIN_SEGMENT_BYTES) {
      throw new StorageError("io", `segment size must be at least ${MIN_SEGMENT_BYTES} bytes`);
    }
    await writeMeta(fs, file, { format: DIR_FORMAT_VERSION, segment_bytes: segmentBytes, created_at: nowMs });
    return segmentBytes;
  }
  let meta: { format?: number; segment_bytes?: number };
  try {
    meta = JSON.parse(text) as typeof meta;
  } catch (err) {
    // Named, not JSON.parse's bare "Unexpected token…": which file, and why it matters.
    const why = (err as Error).message.replace(/\s+/g, " ");
    throw new StorageError("corrupt", `${file} is not valid JSON (${why}); it describes the data dir and cannot be guessed`);
  }
  if (meta === null || typeof meta !== "object" || !READABLE_DIR_FORMATS.includes(meta.format!)) {
    throw new StorageError("corrupt", `${file}: unsupported format ${meta?.format} (this build reads formats ${READABLE_DIR_FORMATS.join(" and ")})`);
  }
  if (!Number.isInteger(meta.segment_bytes) || meta.segment_bytes! < SEGMENT_HEADER_BYTES) {
    throw new StorageError("corrupt", `${file}: bad segment_bytes`);
  }
  // A format-1 dir reads as it is; from now on it may get shorter segments, which a
  // format-1 build would misread: mark it, so such a build refuses it by name.
  if (meta.format !== DIR_FORMAT_VERSION) await writeMeta(fs, file, { ...meta, format: DIR_FORMAT_VERSION });
  return meta.segment_bytes!;
}

/**
 * Write meta.json so that a power cut leaves the old file or the new one, whole: the
 * bytes synced before the rename, the rename (and the `segments` dir made before it)
 * synced after. Runs when a dir is created or upgraded, never on the write path, so
 * buffered mode pays it too: without it a power cut soon after a dir was made left an
 * empty meta.json under its name (the rename reached the disk, the bytes did not), and
 * the store refused to open ("not valid JSON"), in fsync mode with acknowledged jobs in
 * its segments (test/storage/power-loss.test.ts).
 */
async function writeMeta(fs: FsPort, file: string, meta: object): Promise<void> {
  const tmp = file + ".tmp";
  const bytes = Buffer.from(JSON.stringify(meta) + "\n");
  const fd = await fs.open(tmp, "w");
  try {
    const written = await fs.writev(fd, [bytes], 0);
    if (written !== bytes.length) throw new StorageError("io", `short write of ${tmp}: ${written} of ${bytes.length} bytes`);
    await fs.fdatasync(fd);
  } finally {
    await fs.close(fd);
  }
  await fs.rename(tmp, file);
  await fs.syncDir(path.dirname(file));
}
