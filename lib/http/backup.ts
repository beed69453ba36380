// Admin POST /backup (API.md §5): the data dir as a tar.gz stream, every entry under
// `zizq-root/` (what `zizq restore` strips). The snapshot is consistent and taken
// without pausing the server (lib/storage/snapshot.ts); only compaction waits for it.
// A client that goes away mid-stream is normal: the producer stops, the snapshot is
// released (compaction resumes) and nothing is thrown or logged as an error.

import { Readable } from "node:stream";
import { createGzip } from "node:zlib";
import { pack as tarPack, type Pack } from "tar-stream";
import type { Queue } from "../queue/queue.ts";

/** One file of the snapshot (http may not import storage; the queue hands it over). */
type SnapshotFile = Awaited<ReturnType<Queue["snapshot"]>>["files"][number];

export async function backupResponse(queue: Queue, logError: (err: unknown) => void): Promise<Response> {
  const snapshot = await queue.snapshot();
  const tar = tarPack();
  const gzip = createGzip({ level: 1 }); // segments are mostly zero tails: level 1 is ~as small, much faster
  let gone = false;
  // The web stream's cancel (client disconnect, h2 RST) destroys gzip with an AbortError.
  // Why the no-op error listeners: tar-stream's entry sink and pack re-emit that abort as
  // 'error' events; unheard, they were an uncaught exception that stopped the server.
  const stop = (): void => {
    if (gone) return;
    gone = true;
    snapshot.release();
    tar.destroy();
  };
  gzip.once("close", stop);
  gzip.on("error", () => {});
  tar.on("error", () => {});
  tar.pipe(gzip);
  const mtime = new Date();
  (async () => {
    try {
      for (const file of snapshot.files) {
        if (gone) return;
        await writeEntry(tar, file, mtime, () => gone);
      }
      tar.finalize();
    } catch (err) {
      if (gone) return; // the client went away: not an error of ours
      logError(err);
      gzip.destroy(err as Error);
    } finally {
      snapshot.release();
    }
  })();
  return new Response(Readable.toWeb(gzip) as ReadableStream<Uint8Array>, {
    status: 200,
    headers: {
      "content-type": "application/gzip",
      "content-disposition": 'attachment; filename="backup.tar.gz"',
    },
  });
}

/** One tar entry from a snapshot file; rejects (without writing on) once `gone()` is true. */
function writeEntry(tar: Pack, file: SnapshotFile, mtime: Date, gone: () => boolean): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const entry = tar.entry({ name: `zizq-root/${file.name}`, size: file.size, mtime }, (err) => (err ? reject(err) : resolve()));
    entry.on("error", reject);
    (async () => {
      for await (const chunk of file.chunks()) {
        if (gone()) throw new Error("backup client went away");
        if (!entry.write(chunk)) await drainOrClose(entry);
      }
      entry.end(undefined);
    })().catch((err: unknown) => {
      entry.destroy();
      reject(err);
    });
  });
}

/** Resolves on 'drain', or on 'close' when the entry is destroyed instead (no hang). */
function drainOrClose(stream: NodeJS.EventEmitter): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      stream.off("drain", done).off("close", done);
      resolve();
    };
    stream.on("drain", done).on("close", done);
  });
}
