// The data dir's exclusive lock: `zizq.lock` holds the owner's pid. A second server
// refuses to start while that pid is alive; after a kill -9 the pid is dead and the
// next server takes over at once (an mtime-based lock would make a restart wait).
// Node has no flock(2) without a native addon; a pid file is the portable choice.
//
// Takeover of a stale lock is serialised by a second file, `zizq.lock.break`: only its
// holder may delete `zizq.lock`, after reading again, under it, that the pid is dead.
// Without it two starters could both judge the lock stale, and the slower one deleted
// the lock the faster one had just created (both then "held" it: issue 12,
// test/storage/lock-race.test.ts). Lock files are created whole (written under a temp
// name, then hard-linked into place), so nobody reads a half-written pid as garbage.
// Residual: a starter that dies in the few syscalls it holds the breaker leaves it
// stale; the next starters remove it by the same pid rule, unserialised.
//
// A lock file also holds its owner's start time (Linux: /proc/<pid>/stat, clock ticks
// since boot). After a kill -9 or a host restart the pid can belong to another process
// by the time we look, and a live pid alone blocked every start for good. A live pid
// whose start time differs is stale. Where /proc is missing, or in a lock file written
// before, the pid decides alone.

import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { StorageError } from "./errors.ts";

export interface DirLock {
  release(): void;
}

/**
 * Lock files held by this process. A lock file naming our own pid is stale only if we
 * do not hold it: a restarted container reuses pid 1, so the pid alone cannot tell a
 * crashed earlier life from a second openStore() on the same dir in this process.
 */
const held = new Set<string>();

/** How long a starter waits for another one that is clearing a stale lock. */
const TAKEOVER_WAIT_MS = 5000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** A process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat), if known. */
export function startTimeOf(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: count from its end.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/** What a lock file says: its owner's pid (NaN for garbage) and start time, if written. */
interface Owner { pid: number; start?: string }

/** A live owner other than this process: the pid is alive and, when both are known, started when the file says. */
function liveOwner(owner: Owner): boolean {
  const { pid, start } = owner;
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || !alive(pid)) return false;
  if (start === undefined) return true;
  const now = startTimeOf(pid);
  return now === undefined || now === start;
}

/** The owner named in a lock file; "gone" when there is no such file. */
function readOwner(file: string): Owner | "gone" {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return "gone";
    throw err;
  }
  const [pid, start] = text.trim().split(/\s+/);
  return { pid: Number.parseInt(pid ?? "", 10), start };
}

/** The live process other than this one that holds `dir`'s lock, if any. */
export function lockHolder(dir: string): number | undefined {
  const owner = readOwner(path.join(dir, "zizq.lock"));
  return owner !== "gone" && liveOwner(owner) ? owner.pid : undefined;
}

/** This process's lock line, read from /proc when a lock is first taken, not at import. */
let ownLine: string | undefined;
function ownerLine(): string {
  if (ownLine === undefined) {
    const start = startTimeOf(process.pid);
    ownLine = `${process.pid}${start === undefined ? "" : ` ${start}`}\n`;
  }
  return ownLine;
}

/** Create `file` holding our pid (and start time), atomically and only if absent; false if it exists. */
function createExclusive(file: string): boolean {
  const tmp = `${file}.${process.pid}-${randomBytes(4).toString("hex")}.tmp`;
  fs.writeFileSync(tmp, ownerLine());
  try {
    fs.linkSync(tmp, file);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return false;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP") throw err;
    // A file system without hard links: an exclusive create (a reader may see it empty).
    try {
      fs.writeFileSync(file, ownerLine(), { flag: "wx" });
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw e;
    }
  } finally {
    try { fs.unlinkSync(tmp); } catch { /* already gone */ }
  }
}

function unlinkQuietly(file: string): void {
  try { fs.unlinkSync(file); } catch { /* already gone */ }
}

/** Block this thread for `ms` (lockDir is synchronous; this wait is rare and short). */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export function lockDir(dir: string): DirLock {
  const file = path.join(dir, "zizq.lock");
  const breaker = `${file}.break`;
  const deadline = Date.now() + TAKEOVER_WAIT_MS;
  for (;;) {
    if (createExclusive(file)) {
      held.add(file);
      let released = false;
      return {
        release: () => {
          if (released) return;
          released = true;
          held.delete(file);
          unlinkQuietly(file);
        },
      };
    }
    if (held.has(file)) throw new StorageError("locked", `data dir ${dir} is already open in this process`);
    const owner = readOwner(file);
    if (owner === "gone") continue; // released or cleared meanwhile: try again
    if (liveOwner(owner)) {
      throw new StorageError("locked", `data dir ${dir} is in use by another zizq server (pid ${owner.pid}); stop it first`);
    }
    // Stale: its owner is gone. Remove it under the breaker, judged again under it.
    if (createExclusive(breaker)) {
      try {
        const again = readOwner(file);
        if (again !== "gone" && !liveOwner(again)) unlinkQuietly(file);
      } finally {
        unlinkQuietly(breaker);
      }
      continue;
    }
    // Another starter is clearing it; or one died holding the breaker: clear that too.
    const breakerOwner = readOwner(breaker);
    if (breakerOwner !== "gone" && !liveOwner(breakerOwner)) unlinkQuietly(breaker);
    if (Date.now() > deadline) throw new StorageError("locked", `could not lock data dir ${dir}`);
    pause(1);
  }
}
