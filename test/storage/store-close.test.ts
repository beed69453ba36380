// What meets a closing store. Found by the queue power-loss harness, both:
// - A read while the store closes (a batched enqueue's fold reading its open batch job, a
//   take's payload) must fail cleanly, never read through a closed fd: the process may
//   already have given that fd number to another file or a socket. SegmentSet.close now
//   takes each segment out of the set before it closes its fd, as retire() does.
// - A checkpoint asked for while another runs, then overtaken by close(), is given up:
//   close() writes the last one, and two at once would write the same checkpoint.tmp.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, it } from "node:test";
import { type FsPort, nodeFs } from "../../lib/storage/fs-port.ts";
import { openStore } from "../../lib/storage/store.ts";
import { gate } from "../helpers/faulty-fs.ts";
import { newJob, slotOf } from "../helpers/storage.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";

after(cleanupTmp);

it("a payload read during close never reads another file through a reused fd", async () => {
  const dir = tmpDir("zizq-close-read-");
  const other = path.join(tmpDir("zizq-close-read-other-"), "other");
  fs.writeFileSync(other, "X".repeat(64 * 1024));
  const closedOne = gate();
  const goOn = gate();
  let otherFd = -1;
  // Closing segment 1: the fd is really closed, then its number is taken by another file
  // (as an accepted socket or any open could), and the close waits there.
  const port: FsPort = {
    ...nodeFs,
    close: async (fd: number) => {
      const isSegmentOne = fs.readlinkSync(`/proc/self/fd/${fd}`).endsWith("00000001.seg");
      await nodeFs.close(fd);
      if (!isSegmentOne) return;
      otherFd = fs.openSync(other, "r");
      closedOne.open();
      await goOn.promise;
    },
  };
  const store = await openStore({ dir, fs: port, checkpoint: false });
  const job = newJob(1, {}, 100);
  await store.insert([job], false);
  const slot = slotOf(store, job.meta.id);
  const closing = store.close();
  await closedOne.promise;
  try {
    store.forgetSegment(1); // no cached block: the read goes to the file
    let read: Buffer | undefined;
    let error: unknown;
    try {
      read = store.payload(slot);
    } catch (err) {
      error = err;
    }
    assert.ok(read === undefined || !read.toString().includes("X"), `read another file's bytes: ${read?.toString().slice(0, 40)}`);
    assert.match(String(error), /not open/);
  } finally {
    goOn.open();
    await closing;
    if (otherFd >= 0) fs.closeSync(otherFd);
  }
});

it("a checkpoint waiting for another is given up when the store closes meanwhile", async () => {
  let tmpOpens = 0;
  const port: FsPort = {
    ...nodeFs,
    open: (file: string, flags: string) => {
      if (file.endsWith("checkpoint.tmp")) tmpOpens++;
      return nodeFs.open(file, flags);
    },
  };
  const store = await openStore({ dir: tmpDir("zizq-close-checkpoint-"), fs: port });
  await store.insert([newJob(1)], false);
  const first = store.checkpoint();
  const second = store.checkpoint(); // waits for the first
  const closing = store.close();
  assert.equal(await second, false);
  await first;
  await closing;
  // The first and close's last: the second would have opened (truncated) the file that
  // close's checkpoint was writing.
  assert.equal(tmpOpens, 2);
});
