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
      return { release: () => { try { fs.unlinkSync(file); } catch { /* already gone */ } } };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const pid = Number.parseInt(fs.readFileSync(file, "utf8"), 10);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
      throw new StorageError("locked", `data dir ${dir} is in use by another zizq server (pid ${pid}); stop it first`);
    }
    // Stale: its owner is gone. Remove and retry the exclusive create.
    try { fs.unlinkSync(file); } catch { /* raced with another starter */ }
  }
  throw new StorageError("locked", `could not lock data dir ${dir}`);
}
