// Two or more servers starting at once on a dir whose lock is stale (its owner died):
// exactly one may take it over. Children (test/helpers/lock-child.ts) wait for one "go"
// sent to all of them, then race lockDir(); the winners are counted per round.

import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, it } from "node:test";
import { fileURLToPath } from "node:url";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const CHILD = path.join(ROOT, "test/helpers/lock-child.ts");
const ROUNDS = Number(process.env.ZIZQ_LOCK_ROUNDS ?? 10);
const CHILDREN = 6;
const alive = new Set<ChildProcess>();
after(() => {
  for (const c of alive) c.kill("SIGKILL");
  cleanupTmp();
});

interface Racer { child: ChildProcess; lines: string[]; wait(line: RegExp): Promise<string> }

function racer(dir: string): Racer {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD, dir], { cwd: ROOT, stdio: ["pipe", "pipe", "inherit"] });
  alive.add(child);
  child.on("exit", () => alive.delete(child));
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  let buffered = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    buffered += chunk;
    for (let nl = buffered.indexOf("\n"); nl !== -1; nl = buffered.indexOf("\n")) {
      lines.push(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
    }
    for (const w of waiters.splice(0)) w();
  });
  const wait = (line: RegExp) => new Promise<string>((resolve, reject) => {
    const check = () => {
      const found = lines.find((l) => line.test(l));
      if (found) resolve(found);
      else if (child.exitCode !== null) reject(new Error(`child exited: ${lines.join(" | ")}`));
      else waiters.push(check);
    };
    check();
  });
  return { child, lines, wait };
}

/** A pid no process has: a child that already exited. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" }).stdout);
}

it(`exactly one of ${CHILDREN} starters takes over a stale lock (${ROUNDS} rounds)`, async (t) => {
  const stale = deadPid();
  const outcomes: Record<string, number> = {};
  for (let round = 0; round < ROUNDS; round++) {
    const dir = tmpDir("zizq-lock-race-");
    fs.writeFileSync(path.join(dir, "zizq.lock"), `${stale}\n`);
    const racers = Array.from({ length: CHILDREN }, () => racer(dir));
    await Promise.all(racers.map((r) => r.wait(/^ready$/)));
    for (const r of racers) r.child.stdin!.write("go\n");
    const results = await Promise.all(racers.map((r) => r.wait(/^(won|locked|error)/)));
    for (const r of results) outcomes[r] = (outcomes[r] ?? 0) + 1;
    const winners = results.filter((r) => r === "won").length;
    for (const r of racers) r.child.stdin!.end();
    await Promise.all(racers.map((r) => new Promise((resolve) => (r.child.exitCode !== null ? resolve(0) : r.child.once("exit", resolve)))));
    assert.equal(winners, 1, `round ${round}: ${JSON.stringify(results)}`);
  }
  t.diagnostic(JSON.stringify(outcomes));
});
