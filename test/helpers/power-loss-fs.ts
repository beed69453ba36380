// An fs port (lib/storage/fs-port.ts) that models what a power cut keeps. Every call goes
// to the real files (the live view: what the page cache shows the process), and is also
// recorded in a model of the disk beneath. cut() freezes the model at any moment, and
// materialise() writes one possible post-power-loss directory from a frozen cut: the
// durable state, plus a seeded random part of what was not yet durable.
//
// The model (conservative; docs/operations.md "Durability modes" promises fsync mode
// survives exactly this):
//  - File data is durable once written and then fdatasync'd on that file (the bytes the
//    fdatasync saw when it was issued; writes made while it ran are not covered). Size
//    too: fdatasync flushes the metadata needed to read the data back.
//  - Data not yet durable may survive in any 512-byte sector independently (a power cut
//    tears writes at sector granularity, and writeback order is not write order). Within
//    one sector, what survives is a prefix of the writes that touched it (writeback
//    writes the page as it stood at some moment), never an older write over a newer one.
//  - Names (create, rename, unlink, mkdir) are durable only after syncDir of the parent
//    directory. fdatasync of a file does not make its name durable (POSIX; Linux's
//    fsync(2) says so). Which of the other name changes survive depends on `names`:
//      "journal": a prefix of them, in issue order, and a syncDir makes every earlier one
//                 durable (ext4 and XFS journal metadata in order; a directory fsync
//                 commits the whole running transaction).
//      "posix":   any subset, each one kept or lost on its own, and a syncDir only makes
//                 that directory's changes durable (the minimum POSIX promises).
//  - An inode with no durable name is gone, whatever was synced into it.
//  - Faults, opt-in (arm()): one call fails, once. Nothing fails unless armed.
//    - writev, EIO or ENOSPC: nothing written. "short": the first half of the bytes is
//      written (and recorded as any write), the call returns that count.
//    - fdatasync, EIO: what Linux does, taken conservatively. The write-back of the pages
//      it covered may have failed in part: every write it covered (pending when it was
//      issued) becomes an orphan: after a cut, any subset of its sectors may be on disk
//      (as an unsynced write), and it is NOT made durable, by this call or by any later
//      fdatasync of the file: Linux marks the pages clean once it has reported the error,
//      so a later successful fdatasync says nothing about them. Only a newer write over
//      the same bytes that is then synced makes those bytes durable (its own data: the
//      orphan's bytes it covers are no longer possible). Orphans are older than every
//      write still pending, and are applied under them at materialise().
//    - syncDir, EIO: no name change becomes durable by it; they stay pending, as before
//      the call, and a later syncDir that succeeds makes them durable (a journaling fs
//      keeps them in its running transaction, or, once a commit failed, shuts down so no
//      later sync succeeds). Not the fdatasync rule: a fs that loses a dir's entries
//      under a later successful dir sync (no journal) is not modelled.
//  - Reads: the process reads the live files, so after a failed fdatasync it still reads
//    the new bytes, as from the page cache. Decided not to model the page being evicted
//    (it is clean now) and read back from the disk older: the store rolls back a failed
//    batch and pads over it, so it never serves those bytes; what could still differ is a
//    read of an acknowledged buffered-mode record in pages a failed background sync
//    covered, and that read is not exercised.
// Not modelled: truncating a file that already has data (the store never does: every
// file it opens with "w" is new), bit rot, lying disks, an EIO on any other call (open,
// rename, unlink, mkdir, read), a fault that persists over more than one call.

import fs from "node:fs";
import path from "node:path";
import { type FsPort, nodeFs } from "../../lib/storage/fs-port.ts";

export type NamesModel = "journal" | "posix";
export const SECTOR_BYTES = 512;

interface Write {
  seq: number;
  offset: number;
  data: Buffer;
}

interface Inode {
  dir: boolean;
  /** Immutable: replaced (never changed in place) when an fdatasync lands, so cuts can share it. */
  durable: Buffer;
  /** Append-only until an fdatasync replaces the array: a cut keeps (array, length). */
  pending: Write[];
  /** Writes a failed fdatasync covered (see the header); replaced, never changed in place. */
  orphans: readonly Write[];
}

/** A fault armed for the next call of its kind (see the header). */
export type Fault =
  | { call: "writev"; error: "EIO" | "ENOSPC" | "short" }
  | { call: "fdatasync"; error: "EIO" }
  | { call: "syncDir"; error: "EIO" };

/** A name change not yet durable (paths are absolute, under the port's root). */
export type NameOp =
  | { seq: number; kind: "link"; path: string; inode: number }
  | { seq: number; kind: "unlink"; path: string }
  | { seq: number; kind: "rename"; from: string; to: string };

/** A frozen moment of the model: what a power cut at that moment would start from. */
export interface Cut {
  seq: number;
  names: Map<string, number>;
  ops: readonly NameOp[];
  inodes: Map<number, { dir: boolean; durable: Buffer; pending: readonly Write[]; orphans: readonly Write[] }>;
}

/** How much of what was not durable survives one materialised cut. */
export type Survival = "none" | "all" | "random";

export class PowerLossFs implements FsPort {
  readonly root: string;
  readonly names: NamesModel;
  private seq = 0;
  private nextInode = 1;
  private readonly inodes = new Map<number, Inode>();
  /** Names as the process sees them now. */
  private readonly current = new Map<string, number>();
  /** Names as they are on disk for sure. */
  private durableNames = new Map<string, number>();
  private ops: NameOp[] = [];
  private readonly fds = new Map<number, number>();
  /** Counts of calls, for reports. */
  readonly counts = { writes: 0, fdatasyncs: 0, syncDirs: 0, renames: 0, unlinks: 0, creates: 0, faults: 0 };
  /** Faults armed and not yet fired, at most one per call kind. */
  private readonly armed = new Map<Fault["call"], Fault>();
  /** Each fault fired, for reports: call, error, file. */
  readonly fired: string[] = [];
  /** Called after every call that changes the model (tests take cuts here). */
  onChange: () => void = () => {};

  /** `root` must exist and be empty: it counts as durable, with nothing in it. */
  constructor(root: string, names: NamesModel = "journal") {
    this.root = path.resolve(root);
    this.names = names;
    const id = this.nextInode++;
    this.inodes.set(id, { dir: true, durable: Buffer.alloc(0), pending: [], orphans: [] });
    this.current.set(this.root, id);
    this.durableNames.set(this.root, id);
  }

  cut(): Cut {
    const inodes: Cut["inodes"] = new Map();
    for (const [id, n] of this.inodes) inodes.set(id, { dir: n.dir, durable: n.durable, pending: n.pending.slice(), orphans: n.orphans });
    return { seq: this.seq, names: new Map(this.durableNames), ops: this.ops.slice(), inodes };
  }

  // ---- the port -------------------------------------------------------------------

  async open(file: string, flags: string): Promise<number> {
    const p = path.resolve(file);
    const fd = await nodeFs.open(p, flags);
    let id = this.current.get(p);
    if (flags.startsWith("w") || flags.startsWith("a")) {
      if (id === undefined) id = this.create(p, false);
      else if (flags.startsWith("w") && this.hasData(id)) throw new Error(`power-loss model: truncating ${p}, which holds data, is not modelled`);
    }
    if (id === undefined) throw new Error(`power-loss model: ${p} opened but never created through the port`);
    this.fds.set(fd, id);
    return fd;
  }

  async close(fd: number): Promise<void> {
    this.fds.delete(fd);
    await nodeFs.close(fd);
  }

  /** Make the next call of `fault.call` fail as `fault` says (replacing a fault armed for that call). */
  arm(fault: Fault): void {
    this.armed.set(fault.call, fault);
  }

  /** Disarm every fault not yet fired. */
  disarm(): void {
    this.armed.clear();
  }

  async writev(fd: number, buffers: Buffer[], position: number): Promise<number> {
    const data = this.writeFault(fd, Buffer.concat(buffers));
    const n = await nodeFs.writev(fd, [data], position);
    this.recordWrite(fd, data.subarray(0, n), position);
    return n;
  }

  writevSync = (fd: number, buffers: Buffer[], position: number): number => {
    const data = this.writeFault(fd, Buffer.concat(buffers));
    const n = nodeFs.writevSync!(fd, [data], position);
    this.recordWrite(fd, data.subarray(0, n), position);
    return n;
  };

  async fdatasync(fd: number): Promise<void> {
    const id = this.inodeOf(fd);
    const upTo = this.seq;
    const fault = this.fire("fdatasync", id);
    if (!fault) await nodeFs.fdatasync(fd);
    const n = this.inodes.get(id)!;
    const covered = n.pending.filter((w) => w.seq <= upTo);
    n.pending = n.pending.filter((w) => w.seq > upTo);
    this.counts.fdatasyncs++;
    if (fault) {
      // Neither durable now nor by a later fdatasync: orphans (see the header).
      n.orphans = [...n.orphans, ...covered];
      this.onChange();
      throw injected("EIO", "fdatasync");
    }
    n.durable = applyWrites(n.durable, covered);
    // The bytes just made durable are newer than any orphan's: those are no longer possible.
    if (n.orphans.length > 0) n.orphans = n.orphans.flatMap((o) => covered.reduce<Write[]>((pieces, w) => pieces.flatMap((p) => without(p, w)), [o]));
    this.onChange();
  }

  read = nodeFs.read;
  readSync = nodeFs.readSync;
  readdir = nodeFs.readdir;
  readFile = nodeFs.readFile;
  size = nodeFs.size;

  async mkdir(dir: string): Promise<void> {
    const p = path.resolve(dir);
    await nodeFs.mkdir(p);
    // Recursive: every missing level under the root is a new name in its parent.
    const missing: string[] = [];
    for (let at = p; at !== this.root && !this.current.has(at); at = path.dirname(at)) missing.unshift(at);
    for (const m of missing) this.create(m, true);
    if (missing.length > 0) this.onChange();
  }

  async rename(from: string, to: string): Promise<void> {
    const f = path.resolve(from);
    const t = path.resolve(to);
    await nodeFs.rename(f, t);
    const id = this.current.get(f);
    if (id === undefined) throw new Error(`power-loss model: renaming ${f}, never created through the port`);
    this.current.delete(f);
    this.current.set(t, id);
    this.ops.push({ seq: ++this.seq, kind: "rename", from: f, to: t });
    this.counts.renames++;
    this.onChange();
  }

  async unlink(file: string): Promise<void> {
    const p = path.resolve(file);
    await nodeFs.unlink(p);
    this.current.delete(p);
    this.ops.push({ seq: ++this.seq, kind: "unlink", path: p });
    this.counts.unlinks++;
    this.onChange();
  }

  async writeFile(file: string, data: string | Buffer, flags?: string): Promise<void> {
    const p = path.resolve(file);
    await nodeFs.writeFile(p, data, flags);
    let id = this.current.get(p);
    if (id === undefined) id = this.create(p, false);
    else if (this.hasData(id)) throw new Error(`power-loss model: rewriting ${p}, which holds data, is not modelled`);
    const bytes = typeof data === "string" ? Buffer.from(data) : Buffer.from(data);
    this.inodes.get(id)!.pending.push({ seq: ++this.seq, offset: 0, data: bytes });
    this.counts.writes++;
    this.onChange();
  }

  async syncDir(dir: string): Promise<void> {
    const p = path.resolve(dir);
    const upTo = this.seq;
    if (this.fire("syncDir")) {
      this.counts.syncDirs++;
      throw injected("EIO", "fsync");
    }
    await nodeFs.syncDir(p);
    // A journal commit makes every earlier name change durable; POSIX only this dir's.
    const durable = (op: NameOp) => op.seq <= upTo && (this.names === "journal" || opDir(op) === p);
    for (const op of this.ops) if (durable(op)) applyNameOp(this.durableNames, op);
    this.ops = this.ops.filter((op) => !durable(op));
    this.counts.syncDirs++;
    this.onChange();
  }

  // ---- internals ------------------------------------------------------------------

  private create(p: string, dir: boolean): number {
    const id = this.nextInode++;
    this.inodes.set(id, { dir, durable: Buffer.alloc(0), pending: [], orphans: [] });
    this.current.set(p, id);
    this.ops.push({ seq: ++this.seq, kind: "link", path: p, inode: id });
    this.counts.creates++;
    return id;
  }

  private hasData(id: number): boolean {
    const n = this.inodes.get(id)!;
    return n.durable.length > 0 || n.pending.length > 0;
  }

  private inodeOf(fd: number): number {
    const id = this.fds.get(fd);
    if (id === undefined) throw new Error(`power-loss model: fd ${fd} not opened through the port`);
    return id;
  }

  /** The fault armed for `call`, if any: fired (taken off, counted), else undefined. */
  private fire(call: Fault["call"], inode?: number): Fault | undefined {
    const fault = this.armed.get(call);
    if (!fault) return undefined;
    this.armed.delete(call);
    this.counts.faults++;
    const file = inode === undefined ? "" : [...this.current].find(([, id]) => id === inode)?.[0] ?? "(unlinked)";
    this.fired.push(`${call} ${fault.error}${file ? ` ${path.relative(this.root, file)}` : ""}`);
    return fault;
  }

  /** A writev's data as the armed fault leaves it (short: the first half), or its error thrown. */
  private writeFault(fd: number, data: Buffer): Buffer {
    const fault = this.fire("writev", this.inodeOf(fd));
    if (!fault) return data;
    if (fault.error === "short") return data.subarray(0, Math.floor(data.length / 2));
    throw injected(fault.error, "write");
  }

  private recordWrite(fd: number, data: Buffer, position: number): void {
    if (data.length === 0) return;
    this.inodes.get(this.inodeOf(fd))!.pending.push({ seq: ++this.seq, offset: position, data: Buffer.from(data) });
    this.counts.writes++;
    this.onChange();
  }
}

const opDir = (op: NameOp): string => path.dirname(op.kind === "rename" ? op.from : op.path);

function applyNameOp(names: Map<string, number>, op: NameOp): void {
  if (op.kind === "link") {
    names.set(op.path, op.inode);
  } else if (op.kind === "unlink") {
    names.delete(op.path);
  } else {
    // A rename whose source never became a durable name moves nothing.
    const id = names.get(op.from);
    if (id === undefined) return;
    names.delete(op.from);
    names.set(op.to, id);
  }
}

function injected(code: "EIO" | "ENOSPC", syscall: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected by the power-loss model, ${syscall}`), { code, syscall, errno: code === "ENOSPC" ? -28 : -5 });
}

/** What of `o` is left outside the bytes `w` wrote: up to two pieces, keeping o's seq. */
function without(o: Write, w: Write): Write[] {
  const oEnd = o.offset + o.data.length;
  const wEnd = w.offset + w.data.length;
  if (wEnd <= o.offset || w.offset >= oEnd) return [o];
  const pieces: Write[] = [];
  if (w.offset > o.offset) pieces.push({ seq: o.seq, offset: o.offset, data: o.data.subarray(0, w.offset - o.offset) });
  if (wEnd < oEnd) pieces.push({ seq: o.seq, offset: wEnd, data: o.data.subarray(wEnd - o.offset) });
  return pieces;
}

function applyWrites(base: Buffer, writes: readonly Write[]): Buffer {
  let length = base.length;
  for (const w of writes) length = Math.max(length, w.offset + w.data.length);
  const out = Buffer.alloc(length);
  base.copy(out);
  for (const w of writes) w.data.copy(out, w.offset);
  return out;
}

/** What a materialised cut kept, for reports. */
export interface Materialised {
  nameOps: { pending: number; kept: number };
  /** Sectors of pending writes and of orphans (a failed fdatasync's), and how many of either were kept. */
  sectors: { pending: number; orphaned: number; kept: number };
}

/**
 * Write the directory a power cut at `cut` could leave, under `target` (which takes the
 * place of the port's root). `random` decides what of the non-durable survives.
 */
export function materialise(
  cut: Cut, root: string, target: string, random: () => number, survival: Survival | { names: Survival; data: Survival }, names: NamesModel,
  /** Unsynced sectors to lose whatever `survival` says (by path under the root), for tests that need one exact loss. */
  lose?: (file: string, sector: number) => boolean,
  /**
   * "posix" only: pending name changes to keep (true) or lose (false) whatever `survival`
   * says (undefined: as it says), for tests that need one exact order of name changes.
   */
  keepName?: (op: NameOp) => boolean | undefined,
): Materialised {
  const nameSurvival = typeof survival === "string" ? survival : survival.names;
  const dataSurvival = typeof survival === "string" ? survival : survival.data;
  const keep = (): boolean => nameSurvival === "all" || (nameSurvival === "random" && random() < 0.5);
  // ---- names
  const result = new Map(cut.names);
  let kept = 0;
  if (names === "journal") {
    const k = nameSurvival === "all" ? cut.ops.length : nameSurvival === "none" ? 0 : Math.floor(random() * (cut.ops.length + 1));
    for (const op of cut.ops.slice(0, k)) applyNameOp(result, op);
    kept = k;
  } else {
    for (const op of cut.ops) {
      if (!(keepName?.(op) ?? keep())) continue;
      applyNameOp(result, op);
      kept++;
    }
  }
  // ---- data: per sector, a prefix of the writes that touched it
  const sectors = { pending: 0, orphaned: 0, kept: 0 };
  const contents = new Map<number, Buffer>();
  const pathOf = new Map<number, string>();
  for (const [p, id] of result) pathOf.set(id, path.relative(root, p));
  const contentOf = (id: number): Buffer => {
    const known = contents.get(id);
    if (known) return known;
    const n = cut.inodes.get(id)!;
    const bySector = new Map<number, number>(); // sector -> writes touching it
    for (const w of n.pending) for (const s of sectorsOf(w)) bySector.set(s, (bySector.get(s) ?? 0) + 1);
    const cutAt = new Map<number, number>(); // sector -> how many of its writes survive
    for (const [s, count] of bySector) {
      let c = dataSurvival === "all" ? count : dataSurvival === "none" ? 0 : random() < 0.5 ? count : Math.floor(random() * (count + 1));
      if (lose?.(pathOf.get(id) ?? "", s)) c = 0;
      cutAt.set(s, c);
      sectors.pending++;
      if (c > 0) sectors.kept++;
    }
    let out = Buffer.from(n.durable);
    // Orphans (a failed fdatasync's): any subset of their sectors, older than every pending write.
    const put = (w: Write, s: number): void => {
      const from = Math.max(w.offset, s * SECTOR_BYTES);
      const to = Math.min(w.offset + w.data.length, (s + 1) * SECTOR_BYTES);
      if (to > out.length) {
        const grown = Buffer.alloc(to);
        out.copy(grown);
        out = grown;
      }
      w.data.copy(out, from, from - w.offset, to - w.offset);
    };
    for (const o of n.orphans) {
      for (const s of sectorsOf(o)) {
        sectors.orphaned++;
        const c = dataSurvival === "all" || (dataSurvival === "random" && random() < 0.5);
        if (!c || lose?.(pathOf.get(id) ?? "", s)) continue;
        put(o, s);
        sectors.kept++;
      }
    }
    const seen = new Map<number, number>();
    for (const w of n.pending) {
      for (const s of sectorsOf(w)) {
        const i = seen.get(s) ?? 0;
        seen.set(s, i + 1);
        if (i >= cutAt.get(s)!) continue;
        put(w, s);
      }
    }
    contents.set(id, out);
    return out;
  };
  // Parents first; a name whose parent did not survive is gone with it.
  const paths = [...result.keys()].sort((a, b) => a.length - b.length);
  const made = new Set<string>();
  for (const p of paths) {
    if (p !== root && !made.has(path.dirname(p))) continue;
    const id = result.get(p)!;
    const to = path.join(target, path.relative(root, p));
    if (cut.inodes.get(id)!.dir) {
      fs.mkdirSync(to, { recursive: true });
      made.add(p);
    } else {
      fs.writeFileSync(to, contentOf(id));
    }
  }
  return { nameOps: { pending: cut.ops.length, kept }, sectors };
}

function* sectorsOf(w: Write): Iterable<number> {
  const last = Math.floor((w.offset + w.data.length - 1) / SECTOR_BYTES);
  for (let s = Math.floor(w.offset / SECTOR_BYTES); s <= last; s++) yield s;
}
