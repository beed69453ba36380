// Child for test/storage/lock-race.test.ts: waits for "go" on stdin (so all children
// start together), tries lockDir(<dir>) many times in a row if asked, prints "won" or
// "locked", and holds a won lock until stdin closes.
//
//   node --import tsx lock-child.ts <dir>

import { lockDir } from "../../lib/storage/lock.ts";

const dir = process.argv[2];
process.stdin.setEncoding("utf8");
let started = false;
process.stdin.on("data", () => {
  if (started) return;
  started = true;
  try {
    lockDir(dir);
    process.stdout.write("won\n");
  } catch (err) {
    process.stdout.write(`${(err as { kind?: string }).kind === "locked" ? "locked" : `error ${(err as Error).message}`}\n`);
  }
});
process.stdin.on("end", () => process.exit(0));
process.stdout.write("ready\n");
