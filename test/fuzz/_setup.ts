// A server for one fuzz file: real app on an ephemeral port, a "keep" queue of jobs (with
// payloads that stress fidelity) and one cron group that no fuzz input may touch, and a
// check that every one of them is still there, unchanged, after the fuzzing.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before } from "node:test";
import { startServer, type TestServer } from "../helpers/server.ts";
import { jobsOf, send } from "../helpers/fuzz.ts";
import { cleanupTmp } from "../helpers/tmp.ts";

export interface FuzzServer {
  s: TestServer;
  /** Name of the protected queue (and cron group): no generator produces it. */
  keep: string;
  /** Fails unless the keep jobs and cron group are exactly as they were. */
  assertKept(): Promise<void>;
}

export async function startFuzzServer(): Promise<FuzzServer> {
  const s = await startServer({ maxBodyBytes: 256 * 1024 });
  const keep = `keep-${randomBytes(6).toString("hex")}`;
  const payloads = ['{"a":1}', "1.0", '"é\\u0000"', "12345678901234567890", '{"__proto__":{"x":[]}}', "null", '[{"b":{"c":[1e2,-0]}}]'];
  for (const [i, p] of payloads.entries()) {
    const r = await send(s.url, "POST", "/jobs", { "content-type": "application/json" },
      `{"type":"t${i}","queue":"${keep}","payload":${p},"priority":${i * 1000},"retention":{"completed_ms":60000}}`);
    assert.equal(r.status, 201, r.body.toString());
  }
  const cron = { entries: [{ name: "e", expression: "0 0 1 1 *", job: { type: "t", queue: keep, payload: { k: 1 } } }] };
  assert.equal((await send(s.url, "PUT", `/crons/${keep}`, { "content-type": "application/json" }, JSON.stringify(cron))).status, 200);
  const jobs = await jobsOf(s.url, keep);
  const group = (await send(s.url, "GET", `/crons/${keep}`)).body.toString();
  return {
    s,
    keep,
    assertKept: async () => {
      assert.equal((await send(s.url, "GET", "/health")).status, 200, "the server answers");
      assert.equal(await jobsOf(s.url, keep), jobs, "the kept jobs are unchanged");
      assert.equal((await send(s.url, "GET", `/crons/${keep}`)).body.toString(), group, "the kept cron group is unchanged");
    },
  };
}

/**
 * The fuzz server of the enclosing suite: started in its `before` (after `setup`, which
 * may configure the process first), closed in its `after`. Read its fields inside tests.
 */
export function useFuzzServer(setup?: () => void): FuzzServer {
  let live: FuzzServer | undefined;
  before(async () => {
    setup?.();
    live = await startFuzzServer();
  });
  after(async () => {
    await live?.s.close();
    cleanupTmp();
  });
  const get = (): FuzzServer => {
    if (!live) throw new Error("useFuzzServer() read outside a test");
    return live;
  };
  return {
    get s() { return get().s; },
    get keep() { return get().keep; },
    assertKept: () => get().assertKept(),
  };
}
