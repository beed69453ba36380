// kill -9 of a process using the embedded queue: every enqueue that resolved before the
// kill is there after reopening the dir, the job it held in flight is ready again, and
// the dead process's dir lock does not block the reopen.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { after, test } from "node:test";
import { open } from "../../lib/embedded/open.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";

after(cleanupTmp);

test("acknowledged enqueues survive kill -9; the in-flight job comes back ready", { timeout: 120_000 }, async () => {
  const dir = tmpDir();
  const child = spawn(process.execPath, ["--import", "tsx", path.join(import.meta.dirname, "_crash-child.ts"), dir], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  let out = "";
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString("utf8");
      if ((out.match(/^acked /gm) ?? []).length >= 300) resolve();
    });
    child.once("exit", (code) => reject(new Error(`child exited (${code}) early:\n${out}`)));
  });
  child.kill("SIGKILL");
  await exited;
  // Only complete lines count: a line cut by the kill was never fully acknowledged to us.
  const lines = out.slice(0, out.lastIndexOf("\n")).split("\n");
  const acked = lines.filter((l) => l.startsWith("acked ")).map((l) => l.slice(6));
  const [, heldId] = lines.find((l) => l.startsWith("taken "))!.split(" ");

  const queue = await open({ dir });
  try {
    for (const id of acked) assert.equal((await queue.getJob(id)).queue, "q", `job ${id} survived`);
    const held = await queue.getJob(heldId);
    assert.equal(held.status, "ready");
    assert.deepEqual(held.payload, { held: true });
    assert.ok((await queue.countJobs({ queue: "q" })) >= acked.length);
  } finally {
    await queue.close();
  }
});
