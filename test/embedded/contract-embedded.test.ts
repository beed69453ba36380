// The shared client contract suite against the embedded queue (open() on a temp dir).

import { after } from "node:test";
import { open } from "../../lib/embedded/open.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";
import { contractSuite } from "./_contract.ts";

after(cleanupTmp);

contractSuite("embedded", async () => {
  const queue = await open({ dir: tmpDir(), segmentBytes: 4 * 1024 * 1024, reaperCheckIntervalMs: 0 });
  return { client: queue, close: () => queue.close() };
});
