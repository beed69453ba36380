// A consistent point-in-time copy of the data dir, taken while the server keeps
// serving (admin POST /backup). Segments are append-only, so after a flush every
// sealed segment is final and the head's bytes below its written end never change;
// compaction (the one thing that deletes segments) is paused until release().
// The copy of the head is padded with zeros to its segment size, so a restored dir
// is preallocated like any other (docs/operations.md, Backup and restore).

import path from "node:path";
import type { Store } from "./store.ts";

export interface SnapshotFile {
  /** Path relative to the data dir, with `/` separators. */
  name: string;
  size: number;
  /** The file's bytes in order, `size` in total. */
  chunks(): AsyncGenerator<Buffer>;
}

export interface Snapshot {
  files: SnapshotFile[];
  /** Let compaction run again. Idempotent. */
  release(): void;
}

const CHUNK = 1024 * 1024;

export async function openSnapshot(store: Store): Promise<Snapshot> {
  const release = await store.pauseCompaction();
  try {
    await store.flush();
    const fs = store.fs;
    const meta = await fs.readFile(path.join(store.dir, "meta.json"));
    const files: SnapshotFile[] = [{
      name: "meta.json",
      size: meta.length,
      chunks: async function* () { yield meta; },
    }];
    for (const no of store.segments.numbers()) {
      const segment = store.segments.get(no)!;
      const segmentBytes = segment.bytes;
      // Fixed now: bytes written after this point are not part of the snapshot.
      const end = Math.min(store.writer.writtenEnd(no), segmentBytes);
      files.push({
        name: `segments/${path.basename(segment.path)}`,
        size: segmentBytes,
        chunks: async function* () {
          for (let pos = 0; pos < segmentBytes; pos += CHUNK) {
            const length = Math.min(CHUNK, segmentBytes - pos);
            const buf = Buffer.alloc(length);
            const copy = Math.max(0, Math.min(length, end - pos));
            let done = 0;
            while (done < copy) {
              const n = await fs.read(segment.fd, buf, done, copy - done, pos + done);
              if (n === 0) break;
              done += n;
            }
            yield buf;
          }
        },
      });
    }
    return { files, release };
  } catch (err) {
    release();
    throw err;
  }
}
