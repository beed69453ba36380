// Crash tests for the storage engine: a child process (test/helpers/storage-crash-child.ts)
// works on a store and is killed with SIGKILL mid-write, or mid-compaction; the parent
// reopens the dir and checks it against what the child acknowledged. Every acknowledged
// insert is there (with its payload), every acknowledged delete stays deleted, every
// acknowledged patch holds; operations in flight at the kill may have landed or not.

import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { openStore } from "../../lib/storage/store.ts";
import { dumpStore, idAt, payloadFor, prng, segmentNumbers } from "../helpers/storage.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
// ZIZQ_CRASH_CHILD swaps the child (bench/reliability/crash-loop.ts uses it for a control run).
const CHILD = process.env.ZIZQ_CRASH_CHILD ?? path.join(ROOT, "test/helpers/storage-crash-child.ts");
// ZIZQ_CRASH_KEEP=<dir> keeps a copy of each round's data dir and child output there.
const KEEP = process.env.ZIZQ_CRASH_KEEP;
const SEED = Number(process.env.ZIZQ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const children = new Set<ChildProcess>();
after(() => {
  for (const child of children) child.kill("SIGKILL");
  cleanupTmp();
});

/**
 * Run the child until `killNow` says so, then SIGKILL it; returns every complete line it
 * printed. `killNow` may also pause reading (`hold`), as a loaded parent does.
 */
function runChild(
  dir: string, mode: string, seed: number, idBase: number,
  killNow: (line: string, count: number, kill: () => void, hold: (child: ChildProcess) => void) => boolean,
): Promise<string[]> {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD, dir, mode, String(seed), String(idBase)], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  const lines: string[] = [];
  let buffered = "";
  let stderr = "";
  let killed = false;
  const kill = () => {
    if (killed) return;
    killed = true;
    child.kill("SIGKILL");
  };
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    buffered += chunk;
    for (let nl = buffered.indexOf("\n"); nl !== -1; nl = buffered.indexOf("\n")) {
      lines.push(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
      if (!killed && killNow(lines[lines.length - 1], lines.length, kill, (c) => c.stdout!.pause())) kill();
    }
  });
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => { stderr += chunk; });
  return new Promise((resolve, reject) => {
    child.on("close", (code, signal) => {
      children.delete(child);
      if (signal === "SIGKILL") resolve(lines); // a partial last line (no newline) is dropped
      else reject(new Error(`child exited (code ${code}, signal ${signal}) before the kill:\n${stderr}`));
    });
  });
}

function keep(dir: string, name: string, lines: string[]): void {
  if (!KEEP) return;
  const to = path.join(KEEP, `${SEED}`, name);
  fs.mkdirSync(to, { recursive: true });
  fs.cpSync(dir, path.join(to, "dir"), { recursive: true });
  fs.writeFileSync(path.join(to, "lines.txt"), lines.join("\n") + "\n");
}

/**
 * What the disk must show. `present`: job number → priority, known for sure. `doubt`:
 * jobs whose operation was in flight at the kill, with every outcome allowed
 * (undefined = absent).
 */
class Expectation {
  present = new Map<number, number>();
  doubt = new Map<number, Set<number | undefined>>();
  /** Checks whose open started from a checkpoint. */
  fromCheckpoint = 0;

  apply(line: string): void {
    const [op, ...args] = line.split(" ");
    const ns = args.map(Number);
    if (op === "i") for (const n of ns) this.doubt.set(n, new Set([undefined, n % 7]));
    else if (op === "I") for (const n of ns) this.settle(n, n % 7);
    else if (op === "d") for (const n of ns) this.doubt.set(n, new Set([this.present.get(n), undefined]));
    else if (op === "D") for (const n of ns) this.settle(n, undefined);
    else if (op === "u") this.doubt.set(ns[0], new Set([this.present.get(ns[0]), ns[1]]));
    else if (op === "U") this.settle(ns[0], ns[1]);
  }

  private settle(n: number, priority: number | undefined): void {
    this.doubt.delete(n);
    if (priority === undefined) this.present.delete(n);
    else this.present.set(n, priority);
  }

  /** Check a reopened store, then take what it holds as the truth for the next round. */
  async check(dir: string, context: string): Promise<number> {
    // The same dir rebuilt by a scan of every segment, to compare with the normal open
    // (which starts from the checkpoint when there is a usable one).
    const scanned = tmpDir("zizq-crash-scan-");
    fs.cpSync(dir, scanned, { recursive: true });
    fs.rmSync(path.join(scanned, "zizq.lock"), { force: true });
    const store = await openStore({ dir });
    const byScan = await openStore({ dir: scanned, checkpoint: false });
    try {
      if (store.recovery.from === "checkpoint") this.fromCheckpoint++;
      assert.deepEqual(dumpStore(store), dumpStore(byScan), `${context}: the open from ${store.recovery.from} and a full scan differ`);
      assert.ok(store.damage.every((d) => d.kind === "torn"), `${context}: a kill only tears the tail: ${JSON.stringify(store.damage)}`);
      const found = new Map<number, number>();
      for (const slot of store.table.slotById.values()) {
        const n = Number(idAt(store, slot));
        found.set(n, store.table.priority[slot]);
        assert.deepEqual(store.payload(slot), payloadFor(n, n % 50), `${context}: payload of job ${n}`);
      }
      for (const [n, priority] of this.present) {
        if (this.doubt.has(n)) continue;
        assert.equal(found.get(n), priority, `${context}: acknowledged job ${n} (priority ${priority})`);
      }
      for (const [n, priority] of found) {
        const allowed = this.doubt.get(n) ?? new Set([this.present.get(n)]);
        assert.ok(allowed.has(priority), `${context}: job ${n} has priority ${priority}, allowed ${[...allowed]} (deleted ones must stay deleted)`);
      }
      for (const [n, allowed] of this.doubt) {
        if (!found.has(n)) assert.ok(allowed.has(undefined), `${context}: job ${n} is missing`);
      }
      this.present = found;
      this.doubt.clear();
      return found.size;
    } finally {
      await store.close();
      await byScan.close();
    }
  }
}

describe(`storage crash (seed ${SEED}; replay with ZIZQ_SEED)`, () => {
  it("kill -9 mid-write: everything acknowledged survives, nothing deleted comes back", async () => {
    const random = prng(SEED);
    const dir = tmpDir("zizq-crash-write-");
    const expect = new Expectation();
    for (let round = 0; round < 5; round++) {
      const killAfter = 50 + Math.floor(random() * 400);
      const lines = await runChild(dir, "write", SEED + round, (round + 1) * 1_000_000, (_, count) => count >= killAfter);
      assert.equal(lines[0], "ready");
      for (const line of lines.slice(1)) expect.apply(line);
      keep(dir, `write-${round}`, lines);
      const live = await expect.check(dir, `seed ${SEED} round ${round} (killed after ${lines.length} lines)`);
      assert.ok(live > 0);
    }
    // Each check's close writes one, and the next child's writes come after it.
    assert.ok(expect.fromCheckpoint >= 3, `only ${expect.fromCheckpoint} opens started from a checkpoint`);
  });

  it("a parent that stops reading still hears of every operation before it reaches the disk", async (t) => {
    // Regression (issue 12, seed 728304187): the child printed through process.stdout,
    // which queues in memory once the pipe is full; a kill then lost lines whose
    // operations had happened. Stop reading at line 40 until the child either waits for
    // the pipe (as it must; it says so on stderr) or runs 16 segments ahead of us.
    const dir = tmpDir("zizq-crash-slow-");
    const expect = new Expectation();
    let outcome = "";
    const lines = await runChild(dir, "write", SEED + 200, 1_000_000, (_, count, kill, hold) => {
      if (count !== 40) return false;
      const child = [...children].at(-1)!;
      hold(child);
      let waiting = false;
      child.stderr!.on("data", (chunk: string) => { if (chunk.includes("pipe full")) waiting = true; });
      const start = Math.max(0, ...segmentNumbers(dir));
      const watch = () => {
        if (waiting) outcome = "the child waited for the pipe";
        else if (Math.max(0, ...segmentNumbers(dir)) >= start + 16) outcome = "the child ran 16 segments ahead of the reader";
        if (outcome) {
          kill();
          child.stdout!.resume();
        } else setTimeout(watch, 5);
      };
      watch();
      return false;
    });
    t.diagnostic(`${outcome}; ${lines.length} lines`);
    for (const line of lines.slice(1)) expect.apply(line);
    await expect.check(dir, `seed ${SEED + 200} slow reader`);
  });

  it("kill -9 mid-compaction: nothing lost, nothing resurrected", async (t) => {
    const random = prng(SEED + 1);
    let midCompaction = 0;
    const dir = tmpDir("zizq-crash-compact-");
    const expect = new Expectation();
    for (let round = 0; round < 4; round++) {
      // Kill at the first or second compaction of the round, after 0..7 changes in the
      // segments dir (spares made, segments activated, old ones deleted): an event, not a delay.
      const killAt = 1 + Math.floor(random() * 2);
      const changes = Math.floor(random() * 8);
      let starts = 0;
      let watcher: fs.FSWatcher | undefined;
      const lines = await runChild(dir, "compact", SEED + 100 + round, (round + 1) * 1_000_000, (line, _, kill) => {
        if (line !== "C start" || ++starts < killAt) return false;
        if (changes === 0) return true;
        let seen = 0;
        watcher = fs.watch(path.join(dir, "segments"), () => { if (++seen === changes) kill(); });
        return false;
      });
      watcher?.close();
      for (const line of lines.slice(1)) expect.apply(line);
      keep(dir, `compact-${round}`, lines);
      if (lines.lastIndexOf("C start") > lines.lastIndexOf("C done")) midCompaction++;
      const before = segmentNumbers(dir).length;
      await expect.check(dir, `seed ${SEED} compaction round ${round} (${before} segments at the kill)`);
    }
    t.diagnostic(`${midCompaction} of 4 kills landed before the compaction finished`);
    assert.ok(midCompaction > 0, "no kill landed inside a compaction");
  });
});
