// A batched enqueue racing a take of its open batch (API.md §4.4: "taking the job closes
// the batch"). The fold is evaluated asynchronously (jq engine); if the batch job is
// taken meanwhile, the item must go to a new batch, never into the payload of a job a
// worker already holds (where it would be acked away unseen). Stress, not timing: each
// round shifts the take a little against the enqueue; every acknowledged item must
// reach a worker.

import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { startServer, type TestServer } from "../helpers/server.ts";
import { cleanupTmp } from "../helpers/tmp.ts";
import { ack, enqueue, openTake, req, uniq, type Json } from "./_client.ts";

let s: TestServer;
before(async () => {
  s = await startServer();
});
after(async () => {
  await s.close();
  cleanupTmp();
});

it("every acknowledged batched item reaches a worker, however the take interleaves", async () => {
  const WHEN = "(($existing | .items) + ($new | .items)) | length <= 100";
  const FOLD = "$existing | .items += ($new | .items)";
  for (let round = 0; round < 60; round++) {
    const q = uniq();
    const batch = { key: uniq("b"), when: WHEN, fold: FOLD };
    // The stream is kept full by a blocker, so the open batch stays ready until the ack.
    const blocker = await enqueue(s.url, { queue: q, priority: 0, payload: { items: [] } });
    const t = await openTake(s.url, `queue=${q}&prefetch=1`);
    try {
      await t.job(0);
      await enqueue(s.url, { queue: q, payload: { items: ["a"] }, batch });
      const delayMs = (round % 12) * 0.5;
      const [, second] = await Promise.all([
        new Promise((r) => setTimeout(r, delayMs)).then(() => ack(s.url, blocker.id)),
        req(s.url, "POST", "/jobs", { type: "t", queue: q, payload: { items: ["b"] }, batch }),
      ]);
      assert.ok(second.status === 200 || second.status === 201, second.text);
      // Work the queue: ack what arrives until both items were delivered.
      const delivered: string[] = [];
      for (let i = 1; !(delivered.includes("a") && delivered.includes("b")); i++) {
        let job: Json;
        try {
          job = await t.job(i, 2000);
        } catch {
          assert.fail(`round ${round}: delivered ${JSON.stringify(delivered)}; the enqueue of "b" answered ` +
            `${second.status} folded=${second.body!.folded} into a job with status ${second.body!.status}`);
        }
        delivered.push(...(job.payload.items as string[]));
        assert.equal(await ack(s.url, job.id), 204);
      }
      assert.deepEqual(delivered.sort(), ["a", "b"]);
    } finally {
      await t.close();
    }
  }
});
