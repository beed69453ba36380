// Admin POST /backup (API.md §5): the data dir as a tar.gz stream, every entry under
// `zizq-root/` (what `zizq restore` strips). The snapshot is consistent and taken
// without pausing the server (lib/storage/snapshot.ts); only compaction waits for it.

import { Readable } from "node:stream";
import { createGzip } from "node:zlib";
import { pack as tarPack } from "tar-stream";
import type { Queue } from "../queue/queue.ts";

export async function backupResponse(queue: Queue, logError: (err: unknown) => void): Promise<Response> {
  const snapshot = await queue.snapshot();
  const tar = tarPack();
  const gzip = createGzip({ level: 1 }); // segments are mostly zero tails: level 1 is ~as small, much faster
  tar.pipe(gzip);
  const mtime = new Date();
  (async () => {
    try {
      for (const file of snapshot.files) {
        await new Promise<void>((resolve, reject) => {
          const entry = tar.entry({ name: `zizq-root/${file.name}`, size: file.size, mtime }, (err) => (err ? reject(err) : resolve()));
          (async () => {
            for await (const chunk of file.chunks()) {
              if (!entry.write(chunk)) await new Promise<void>((r) => entry.once("drain", () => r()));
            }
            entry.end(undefined);
          })().catch(reject);
        });
      }
      tar.finalize();
    } catch (err) {
      logError(err);
      gzip.destroy(err as Error);
    } finally {
      snapshot.release();
    }
  })();
  // A client that goes away mid-download must not keep compaction paused.
  gzip.once("close", () => snapshot.release());
  return new Response(Readable.toWeb(gzip) as ReadableStream<Uint8Array>, {
    status: 200,
    headers: {
      "content-type": "application/gzip",
      "content-disposition": 'attachment; filename="backup.tar.gz"',
    },
  });
}
