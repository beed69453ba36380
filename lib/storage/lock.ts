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

/** A pid that names a live owner other than this process. */
const liveOwner = (pid: number | undefined): pid is number =>
  pid !== undefined && Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid);

/** The pid in a lock file; NaN for garbage; "gone" when there is no such file. */
function readPid(file: string): number | "gone" {
  try {
    return Number.parseInt(fs.readFileSync(file, "utf8"), 10);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return "gone";
    throw err;
  }
}

/** The live process other than this one that holds `dir`'s lock, if any. */
export function lockHolder(dir: string): number | undefined {
  const pid = readPid(path.join(dir, "zizq.lock"));
  return pid !== "gone" && liveOwner(pid) ? pid : undefined;
}

/** Create `file` holding our pid, atomically and only if absent; false if it exists. */
function createExclusive(file: string): boolean {
  const tmp = `${file}.${process.pid}-${randomBytes(4).toString("hex")}.tmp`;
  fs.writeFileSync(tmp, `${process.pid}\n`);
  try {
    fs.linkSync(tmp, file);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return false;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP") throw err;
    // A file system without hard links: an exclusive create (a reader may see it empty).
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: "wx" });
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
    const pid = readPid(file);
    if (pid === "gone") continue; // released or cleared meanwhile: try again
    if (liveOwner(pid)) {
      throw new StorageError("locked", `data dir ${dir} is in use by another zizq server (pid ${pid}); stop it first`);
    }
    // Stale: its owner is gone. Remove it under the breaker, judged again under it.
    if (createExclusive(breaker)) {
      try {
        const again = readPid(file);
        if (again !== "gone" && !liveOwner(again)) unlinkQuietly(file);
      } finally {
        unlinkQuietly(breaker);
      }
      continue;
    }
    // Another starter is clearing it; or one died holding the breaker: clear that too.
    const breakerPid = readPid(breaker);
    if (breakerPid !== "gone" && !liveOwner(breakerPid)) unlinkQuietly(breaker);
    if (Date.now() > deadline) throw new StorageError("locked", `could not lock data dir ${dir}`);
    pause(1);
  }
}
