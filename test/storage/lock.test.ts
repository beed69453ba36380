// The data dir lock (lib/storage/lock.ts): one store per dir at a time, and a lock left
// behind by a dead process is taken over at once.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { StorageError } from "../../lib/storage/errors.ts";
import { startTimeOf } from "../../lib/storage/lock.ts";
import { type Store, openStore } from "../../lib/storage/store.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";

const opened: Store[] = [];
after(async () => {
  for (const s of opened) await s.close();
  cleanupTmp();
});

async function open(dir: string): Promise<Store> {
  const store = await openStore({ dir, segmentBytes: 64 * 1024 });
  opened.push(store);
  return store;
}

const isLocked = (err: unknown): boolean => err instanceof StorageError && err.kind === "locked";

/** A pid that surely belongs to no live process: a child that has already exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  return Number(child.stdout);
}

describe("data dir lock", () => {
  it("refuses a second store on the same dir with kind `locked`, in this process", async () => {
    const dir = tmpDir();
    const first = await open(dir);
    await assert.rejects(openStore({ dir }), isLocked);
    await first.close();
    const again = await open(dir);
    assert.equal(again.table.size, 0);
  });

  it("refuses a dir whose lock belongs to another live process", async () => {
    const dir = tmpDir();
    fs.mkdirSync(path.join(dir, "segments"), { recursive: true });
    fs.writeFileSync(path.join(dir, "zizq.lock"), `${process.ppid}\n`);
    await assert.rejects(openStore({ dir }), (err) => isLocked(err) && /in use/.test((err as Error).message));
    assert.equal(fs.readFileSync(path.join(dir, "zizq.lock"), "utf8"), `${process.ppid}\n`, "a refused open leaves the lock alone");
  });

  it("takes over a stale lock whose pid is dead, and releases it on close", async () => {
    const dir = tmpDir();
    fs.mkdirSync(path.join(dir, "segments"), { recursive: true });
    fs.writeFileSync(path.join(dir, "zizq.lock"), `${deadPid()}\n`);
    const store = await open(dir);
    assert.equal(fs.readFileSync(path.join(dir, "zizq.lock"), "utf8"), `${process.pid} ${startTimeOf(process.pid)}\n`);
    await store.close();
    assert.equal(fs.existsSync(path.join(dir, "zizq.lock")), false);
  });

  it("a live pid that started at another time is a reused pid: its lock is stale", async () => {
    const dir = tmpDir();
    fs.mkdirSync(path.join(dir, "segments"), { recursive: true });
    const parentStart = startTimeOf(process.ppid);
    assert.ok(parentStart, "this test needs /proc");
    // The lock's owner died (kill -9) and its pid now belongs to another process.
    fs.writeFileSync(path.join(dir, "zizq.lock"), `${process.ppid} ${Number(parentStart) + 1}\n`);
    const store = await open(dir);
    await store.close();
    // The same pid with its real start time is the live owner.
    fs.writeFileSync(path.join(dir, "zizq.lock"), `${process.ppid} ${parentStart}\n`);
    await assert.rejects(openStore({ dir }), (err) => isLocked(err) && /in use/.test((err as Error).message));
  });

  it("takes over a lock file with garbage in it", async () => {
    const dir = tmpDir();
    fs.mkdirSync(path.join(dir, "segments"), { recursive: true });
    fs.writeFileSync(path.join(dir, "zizq.lock"), "not a pid");
    const store = await open(dir);
    assert.equal(store.table.size, 0);
  });
});
