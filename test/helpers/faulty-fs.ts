// An fs port (lib/storage/fs-port.ts) that fails on command: ENOSPC or EIO on a write, a
// short write, a failing fdatasync. A fault can wait on a gate first, so a test can line
// up what is appended while the failing write is in flight.

import { type FsPort, nodeFs } from "../../lib/storage/fs-port.ts";

export type FaultKind = "enospc" | "eio" | "short" | "pass";

export interface Fault {
  kind: FaultKind;
  /** Which calls it applies to: by the file's path (renames followed) and, for writes,
   * the data. Default: writes and syncs of numbered segment files. */
  match?: (path: string, data?: readonly Buffer[]) => boolean;
  /** Stay armed until cleared, instead of firing once. */
  persistent?: boolean;
  /** Resolved when a call hits this fault; the call then waits for `gate`, if any. */
  reached?: () => void;
  gate?: Promise<void>;
}

export const isSegment = (path: string): boolean => /\/\d{8}\.seg$/.test(path);
export const isSpare = (path: string): boolean => /\/spare-[^/]*\.seg$/.test(path);
/** Preallocation: zeros written to a spare (not the segment header written after them). */
export const isPreallocation = (path: string, data?: readonly Buffer[]): boolean =>
  isSpare(path) && data !== undefined && data.every((b) => b.every((x) => x === 0));

function errno(code: string, syscall: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected, ${syscall}`), { code, syscall, errno: code === "ENOSPC" ? -28 : -5 });
}

/** A gate: `open()` lets the waiting call go on. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => { open = resolve; });
  return { promise, open };
}

export class FaultyFs implements FsPort {
  private readonly paths = new Map<number, string>();
  writeFaults: Fault[] = [];
  syncFaults: Fault[] = [];
  /** Faults for directory syncs (the first armed one hits the next syncDir; `match` is not used). */
  dirSyncFaults: Fault[] = [];
  dirSyncs = 0;
  /** Calls that reached numbered segment files (not spares being preallocated). */
  writes = 0;
  syncs = 0;

  /** Arm a fault for a later writev; returns a promise that resolves when one hits it. */
  failWrite(fault: Fault): Promise<void> {
    return this.arm(this.writeFaults, fault);
  }

  failSync(fault: Fault): Promise<void> {
    return this.arm(this.syncFaults, fault);
  }

  failSyncDir(fault: Fault): Promise<void> {
    return this.arm(this.dirSyncFaults, fault);
  }

  clear(): void {
    this.writeFaults = [];
    this.syncFaults = [];
    this.dirSyncFaults = [];
  }

  private arm(list: Fault[], fault: Fault): Promise<void> {
    return new Promise((resolve) => list.push({ ...fault, reached: () => { fault.reached?.(); resolve(); } }));
  }

  private async hit(list: Fault[], fd: number, data?: readonly Buffer[]): Promise<Fault | undefined> {
    const path = this.paths.get(fd) ?? "";
    const i = list.findIndex((f) => (f.match ?? isSegment)(path, data));
    if (i === -1) return undefined;
    const fault = list[i];
    if (!fault.persistent) list.splice(i, 1);
    fault.reached?.();
    if (fault.gate) await fault.gate;
    return fault;
  }

  async open(path: string, flags: string): Promise<number> {
    const fd = await nodeFs.open(path, flags);
    this.paths.set(fd, path);
    return fd;
  }

  async close(fd: number): Promise<void> {
    this.paths.delete(fd);
    await nodeFs.close(fd);
  }

  /**
   * The synchronous write the log writer prefers (as nodeFs offers it), with the same
   * faults. Absent while a gated fault is armed: a gate needs the asynchronous path.
   */
  get writevSync(): ((fd: number, buffers: Buffer[], position: number) => number) | undefined {
    if (this.writeFaults.some((f) => f.gate)) return undefined;
    return (fd, buffers, position) => {
      const path = this.paths.get(fd) ?? "";
      if (isSegment(path)) this.writes++;
      const i = this.writeFaults.findIndex((f) => (f.match ?? isSegment)(path, buffers));
      const fault = i === -1 ? undefined : this.writeFaults[i];
      if (fault && !fault.persistent) this.writeFaults.splice(i, 1);
      fault?.reached?.();
      if (!fault || fault.kind === "pass") return nodeFs.writevSync!(fd, buffers, position);
      if (fault.kind === "short") {
        const all = Buffer.concat(buffers);
        return nodeFs.writevSync!(fd, [all.subarray(0, Math.floor(all.length / 2))], position);
      }
      throw errno(fault.kind === "enospc" ? "ENOSPC" : "EIO", "write");
    };
  }

  async writev(fd: number, buffers: Buffer[], position: number): Promise<number> {
    if (isSegment(this.paths.get(fd) ?? "")) this.writes++;
    const fault = await this.hit(this.writeFaults, fd, buffers);
    if (!fault || fault.kind === "pass") return nodeFs.writev(fd, buffers, position);
    if (fault.kind === "short") {
      const all = Buffer.concat(buffers);
      const half = Math.floor(all.length / 2);
      return nodeFs.writev(fd, [all.subarray(0, half)], position);
    }
    throw errno(fault.kind === "enospc" ? "ENOSPC" : "EIO", "write");
  }

  async fdatasync(fd: number): Promise<void> {
    if (isSegment(this.paths.get(fd) ?? "")) this.syncs++;
    const fault = await this.hit(this.syncFaults, fd);
    if (fault && fault.kind !== "pass") throw errno(fault.kind === "enospc" ? "ENOSPC" : "EIO", "fdatasync");
    return nodeFs.fdatasync(fd);
  }

  async rename(from: string, to: string): Promise<void> {
    await nodeFs.rename(from, to);
    for (const [fd, path] of this.paths) if (path === from) this.paths.set(fd, to);
  }

  read = nodeFs.read;
  readSync = nodeFs.readSync;
  mkdir = nodeFs.mkdir;
  readdir = nodeFs.readdir;
  unlink = nodeFs.unlink;
  readFile = nodeFs.readFile;
  writeFile = nodeFs.writeFile;
  size = nodeFs.size;

  async syncDir(dir: string): Promise<void> {
    this.dirSyncs++;
    const fault = this.dirSyncFaults[0];
    if (fault && !fault.persistent) this.dirSyncFaults.shift();
    fault?.reached?.();
    if (fault?.gate) await fault.gate;
    if (fault && fault.kind !== "pass") throw errno(fault.kind === "enospc" ? "ENOSPC" : "EIO", "fsync");
    return nodeFs.syncDir(dir);
  }
}
