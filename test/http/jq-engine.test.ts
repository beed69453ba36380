// Issue 12 §3 over HTTP: a jq filter that blows up the engine (memory bomb, @base64d
// chains over stored payloads) leaves the engine as it was for everyone after it, on list,
// count, delete and patch. (That cheap filters are not stuck behind CPU-heavy ones is
// test/queue/jq-pool.test.ts's, where it does not depend on timing.)

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { configureJq } from "../../lib/queue/jq.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { cleanupTmp } from "../helpers/tmp.ts";
import { enqueueBulk, req, uniq } from "./_client.ts";

const BOMBS = [
  "@base64d | @base64d | @base64d",
  '.name | @base64d | @base64d | @base64d',
  'reduce range(40) as $i ("xx"; . + .) | length > 0',
];
/** Each bomb goes through one of these (time-boxed bombs are slow; jq-timebox.test.ts has more). */
const ENDPOINTS = [["GET", "/jobs/count"], ["GET", "/jobs"], ["DELETE", "/jobs"], ["PATCH", "/jobs"]];

describe("the jq engine after a bomb", () => {
  let s: TestServer;
  let queue: string;
  before(async () => {
    configureJq({ deadlineMs: 1000 });
    s = await startServer();
    queue = uniq("jq");
    await enqueueBulk(s.url, Array.from({ length: 50 }, (_, i) => ({ queue, payload: { name: `job${i}`, n: i, tags: ["a", "b"] } })));
  });
  after(async () => {
    await s.close();
    cleanupTmp();
  });

  const filter = (program: string) => `queue=${queue}&filter=${encodeURIComponent(program)}`;
  /**
   * GET `path`, asked again while the answer is the engine's 1 s deadline (this suite's
   * setting, for the bombs): at load 12 a normal filter can pass it too, which is the
   * deadline working. Any other answer is final, so a wrong one still fails the test.
   */
  async function answered(path: string): Promise<Awaited<ReturnType<typeof req>>> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const r = await req(s.url, "GET", path);
      if (!(r.status === 400 && /timed out/.test(r.text)) || Date.now() > deadline) return r;
    }
  }
  /** A filter the fast path cannot take, so it runs on the engine. */
  const NORMAL = '(.tags | map(ascii_upcase) | index("B") != null) and (.n | tostring | test("^1"))';

  for (const [k, bomb] of BOMBS.entries()) {
    it(`${bomb}: a 2xx or 4xx, then normal filters answer right`, async () => {
      for (const [method, path] of [ENDPOINTS[k % 4], ENDPOINTS[(k + 2) % 4]]) {
        const r = await req(s.url, method, `${path}?${filter(bomb)}`, method === "PATCH" ? { priority: 7 } : undefined);
        assert.ok(r.status < 500, `${method} ${path}: ${r.status} ${r.text}`);
        assert.ok(r.body && (r.status < 300 || typeof r.body.error === "string"), r.text);
      }
      for (let i = 0; i < 2; i++) {
        const count = await answered(`/jobs/count?${filter(NORMAL)}`);
        assert.equal(count.status, 200, count.text);
        assert.equal(count.body!.count, 11); // n = 1, 10..19
        const list = await answered(`/jobs?limit=100&${filter(NORMAL)}`);
        assert.equal(list.status, 200, list.text);
        assert.equal(list.body!.jobs.length, 11);
      }
      assert.equal((await req(s.url, "GET", `/jobs/count?queue=${queue}`)).body!.count, 50);
    });
  }
});
