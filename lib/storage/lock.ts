// The data dir's exclusive lock: `zizq.lock` holds the owner's pid. A second server
// refuses to start while that pid is alive; after a kill -9 the pid is dead and the
// next server takes over at once (an mtime-based lock would make a restart wait).
// Node has no flock(2) without a native addon; a pid file is the portable choice.

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

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function lockDir(dir: string): DirLock {
  const file = path.join(dir, "zizq.lock");
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: "wx" });
      held.add(file);
      let released = false;
      return {
        release: () => {
          if (released) return;
          released = true;
          held.delete(file);
          try { fs.unlinkSync(file); } catch { /* already gone */ }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    if (held.has(file)) throw new StorageError("locked", `data dir ${dir} is already open in this process`);
    const pid = Number.parseInt(fs.readFileSync(file, "utf8"), 10);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
      throw new StorageError("locked", `data dir ${dir} is in use by another zizq server (pid ${pid}); stop it first`);
    }
    // Stale: its owner is gone. Remove and retry the exclusive create.
    try { fs.unlinkSync(file); } catch { /* raced with another starter */ }
  }
  throw new StorageError("locked", `could not lock data dir ${dir}`);
}
