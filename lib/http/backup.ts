// Admin POST /backup (API.md §5): the data dir as a tar.gz stream, every entry under
// `zizq-root/` (what `zizq restore` strips). The snapshot is consistent and taken
// without pausing the server (lib/storage/snapshot.ts); only compaction waits for it.
// A client that goes away mid-stream is normal: the producer stops, the snapshot is
// released (compaction resumes) and nothing is thrown or logged as an error.

import { Readable, pipeline } from "node:stream";
import { createGzip } from "node:zlib";
import { Header } from "tar";
import type { Queue } from "../queue/queue.ts";

/** One file of the queue's snapshot (named through the queue: http does not reach storage). */
type SnapshotFile = Awaited<ReturnType<Queue["snapshot"]>>["files"][number];

const BLOCK = 512;

export async function backupResponse(queue: Queue, logError: (err: unknown) => void): Promise<Response> {
  const snapshot = await queue.snapshot();
  const gzip = createGzip({ level: 1 }); // segments are mostly zero tails: level 1 is ~as small, much faster
  // Only a failure of the archive's own source is ours to log. The web stream's cancel
  // (client disconnect, h2 RST) destroys gzip with an AbortError, which pipeline()
  // reports too: that one is the client going away.
  let failure: unknown;
  const source = async function* (): AsyncGenerator<Buffer> {
    try {
      yield* tarArchive(snapshot.files, new Date());
    } catch (err) {
      failure = err;
      throw err;
    }
  };
  pipeline(Readable.from(source(), { objectMode: false, highWaterMark: 64 * 1024 }), gzip, () => {
    snapshot.release();
    if (failure !== undefined) logError(failure);
  });
  return new Response(Readable.toWeb(gzip) as ReadableStream<Uint8Array>, {
    status: 200,
    headers: {
      "content-type": "application/gzip",
      "content-disposition": 'attachment; filename="backup.tar.gz"',
    },
  });
}

/**
 * The tar bytes of `files` (ustar: a 512-byte header per file, its bytes padded to 512,
 * two zero blocks at the end). Headers come from node-tar's encoder; its Pack is not used
 * because it reads whole files by path, and an entry here is a snapshot's byte range of a
 * file the server may still be appending to.
 */
async function* tarArchive(files: readonly SnapshotFile[], mtime: Date): AsyncGenerator<Buffer> {
  for (const file of files) {
    const header = Buffer.alloc(BLOCK);
    const path = `zizq-root/${file.name}`;
    // Our names are short; a name that needed a PAX extension would be mangled, so refuse it.
    if (new Header({ path, size: file.size, mode: 0o644, mtime, type: "File" }).encode(header, 0)) {
      throw new Error(`backup: file name too long for a tar header: ${path}`);
    }
    yield header;
    let written = 0;
    for await (const chunk of file.chunks()) {
      written += chunk.length;
      yield chunk;
    }
    if (written !== file.size) throw new Error(`backup: ${path} gave ${written} bytes, expected ${file.size}`);
    const pad = (BLOCK - (file.size % BLOCK)) % BLOCK;
    if (pad > 0) yield Buffer.alloc(pad);
  }
  yield Buffer.alloc(2 * BLOCK);
}
