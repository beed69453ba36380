// The few filesystem calls the store makes, behind one object so tests can swap it
// to inject short writes, ENOSPC and fsync failures (test/storage/faults.test.ts).
// Every segment read and write goes through this port (the pid lock file does not).

import fs from "node:fs";
import { promisify } from "node:util";

export interface FsPort {
  open(path: string, flags: string): Promise<number>;
  close(fd: number): Promise<void>;
  /** Positional gather write; resolves with bytes written (may be short). */
  writev(fd: number, buffers: Buffer[], position: number): Promise<number>;
  /**
   * The same, synchronously. Optional: the log writer uses it when present (see
   * log-writer.ts); a test port may leave it out to exercise the async path.
   */
  writevSync?(fd: number, buffers: Buffer[], position: number): number;
  fdatasync(fd: number): Promise<void>;
  /** Positional read; resolves with bytes read. */
  read(fd: number, buffer: Buffer, offset: number, length: number, position: number): Promise<number>;
  /** Synchronous positional read: payload reads are page-cache hits in the common case, and
   * a thread-pool round trip costs more than the copy. */
  readSync(fd: number, buffer: Buffer, offset: number, length: number, position: number): number;
  mkdir(path: string): Promise<void>;
  readdir(path: string): Promise<string[]>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  readFile(path: string): Promise<Buffer>;
  writeFile(path: string, data: string | Buffer, flags?: string): Promise<void>;
  size(path: string): Promise<number>;
  /** fsync a directory so renames and creates in it survive power loss. */
  syncDir(path: string): Promise<void>;
}

// Hand-wrapped: util.promisify of these resolves with an object, not a byte count.
const writevAsync = (fd: number, buffers: Buffer[], position: number): Promise<number> =>
  new Promise((resolve, reject) => fs.writev(fd, buffers, position, (err, n) => (err ? reject(err) : resolve(n))));
const readAsync = (fd: number, buffer: Buffer, offset: number, length: number, position: number): Promise<number> =>
  new Promise((resolve, reject) => fs.read(fd, buffer, offset, length, position, (err, n) => (err ? reject(err) : resolve(n))));

export const nodeFs: FsPort = {
  // Not fs.promises.open: a FileHandle closes its fd when garbage collected.
  open: promisify(fs.open) as (path: string, flags: string) => Promise<number>,
  close: promisify(fs.close),
  writev: writevAsync,
  writevSync: (fd, buffers, position) => fs.writevSync(fd, buffers, position),
  fdatasync: promisify(fs.fdatasync),
  read: readAsync,
  readSync: (fd, buffer, offset, length, position) => fs.readSync(fd, buffer, offset, length, position),
  mkdir: async (path) => { await fs.promises.mkdir(path, { recursive: true }); },
  readdir: (path) => fs.promises.readdir(path),
  rename: (from, to) => fs.promises.rename(from, to),
  unlink: (path) => fs.promises.unlink(path),
  readFile: (path) => fs.promises.readFile(path),
  writeFile: (path, data, flags) => fs.promises.writeFile(path, data, { flag: flags ?? "w" }),
  size: async (path) => (await fs.promises.stat(path)).size,
  syncDir: async (path) => {
    const fd = fs.openSync(path, "r");
    try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
  },
};
