// The shared client contract suite against the embedded queue (open() on a temp dir),
// and the check that it has every public method the Client has.

import assert from "node:assert/strict";
import { after, test } from "node:test";
import { Client } from "../../lib/client/index.ts";
import { EmbeddedQueue } from "../../lib/embedded/embedded-queue.ts";
import { open } from "../../lib/embedded/open.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";
import { contractSuite } from "./_contract.ts";

after(cleanupTmp);

test("the embedded queue has every public method of the Client", () => {
  // buildDispatchers is the Client's transport hook (undici agents); there is no transport here.
  const own = new Set(Object.getOwnPropertyNames(EmbeddedQueue.prototype));
  const missing = Object.getOwnPropertyNames(Client.prototype).filter((n) => n !== "buildDispatchers" && !own.has(n));
  assert.deepEqual(missing, []);
});

contractSuite("embedded", async () => {
  const queue = await open({ dir: tmpDir(), segmentBytes: 4 * 1024 * 1024, reaperCheckIntervalMs: 0 });
  return { client: queue, close: () => queue.close(), goAway: () => queue.close() };
});
