// Issue 12 §8: values are kept exactly or refused. u64 fields (ready_at, retry_at,
// retention.*_ms of jobs and cron templates, PATCH) above 2^53 − 1 are a 400 (2^64 − 1
// used to be stored as 2^53 − 1, and 2^64 was accepted); 2^53 − 1 round-trips. And a
// `__proto__` key means the same in JSON and MessagePack bodies: ignored as a field, kept
// in a payload, never a prototype.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encode } from "@msgpack/msgpack";
import { assertError, enqueue, openTake, req, sharedServer, uniq } from "./_client.ts";

const TOO_BIG = ["18446744073709551616", "18446744073709551615", "9007199254740993", "9007199254740992"];
const MAX = "9007199254740991";
const { s } = sharedServer();

describe("u64 fields", () => {
  /** JSON text with `field` spliced in as a raw number literal (no JS number in between). */
  const post = (path: string, method: string, body: string) => req(s.url, method, path, body, { "content-type": "application/json" });

  it("enqueue, bulk and cron templates refuse what a JS number cannot hold, and keep 2^53 − 1", async () => {
    const q = uniq();
    for (const n of TOO_BIG) {
      for (const [path, body, prefix] of [
        ["/jobs", `{"type":"t","queue":"${q}","payload":1,"ready_at":${n}}`, "ready_at"],
        ["/jobs", `{"type":"t","queue":"${q}","payload":1,"retention":{"completed_ms":${n}}}`, "retention.completed_ms"],
        ["/jobs/bulk", `{"jobs":[{"type":"t","queue":"${q}","payload":1,"retention":{"dead_ms":${n}}}]}`, "jobs\\[0\\]: retention.dead_ms"],
      ]) {
        assertError(await post(path, "POST", body), 400, new RegExp(`^invalid JSON: ${prefix}: invalid value: integer above ${MAX}`));
      }
      const cron = `{"entries":[{"name":"e","expression":"0 0 1 1 *","job":{"type":"t","queue":"${q}","payload":1,"retention":{"completed_ms":${n}}}}]}`;
      const r = await post("/crons/g", "PUT", cron);
      assert.equal(r.status, 400, r.text);
      assert.match(r.body!.error as string, /retention.completed_ms: invalid value: integer above 9007199254740991/);
    }
    const mp = await req(s.url, "POST", "/jobs", encode({ type: "t", queue: q, payload: 1, ready_at: 18446744073709551615n }, { useBigInt64: true }),
      { "content-type": "application/msgpack", accept: "application/json" });
    assertError(mp, 400, /^invalid MessagePack: ready_at: invalid value/);
    const kept = await post("/jobs", "POST", `{"type":"t","queue":"${q}","payload":1,"ready_at":${MAX},"retention":{"completed_ms":${MAX},"dead_ms":${MAX}}}`);
    assert.equal(kept.status, 201, kept.text);
    assert.match(kept.text, new RegExp(`"ready_at":${MAX}[,}]`));
    const got = await req(s.url, "GET", `/jobs/${kept.body!.id}`);
    assert.match(got.text, new RegExp(`"retention":\\{"completed_ms":${MAX},"dead_ms":${MAX}\\}`));
    assert.equal((await req(s.url, "GET", `/jobs/count?queue=${q}`)).body!.count, 1);
  });

  it("PATCH and failure retry_at too; the job is unchanged after a refusal", async () => {
    const q = uniq();
    const job = await enqueue(s.url, { queue: q, ready_at: 1_000 });
    for (const n of TOO_BIG) {
      for (const body of [`{"ready_at":${n}}`, `{"retention":{"dead_ms":${n}}}`]) {
        const r = await post(`/jobs/${job.id}`, "PATCH", body);
        assert.equal(r.status, 400, `${body}: ${r.text}`);
        assert.match(r.body!.error as string, /invalid value: integer above 9007199254740991/);
      }
      const many = await post(`/jobs?queue=${q}`, "PATCH", `{"ready_at":${n}}`);
      assert.equal(many.status, 400, many.text);
    }
    assert.equal((await req(s.url, "GET", `/jobs/${job.id}`)).body!.ready_at, 1_000);
    const take = await openTake(s.url, `queue=${q}`);
    try {
      const taken = await take.job(0);
      const r = await post(`/jobs/${taken.id}/failure`, "POST", `{"message":"m","retry_at":${TOO_BIG[0]}}`);
      assertError(r, 400, /^invalid JSON: retry_at: invalid value: integer above/);
    } finally {
      await take.close();
    }
  });
});

describe("__proto__ keys", () => {
  it("JSON and MessagePack agree: accepted, ignored as a field, kept in the payload", async () => {
    const q = uniq();
    const body = JSON.parse(`{"type":"t","queue":"${q}","__proto__":{"priority":1},"payload":{"__proto__":{"x":1},"a":2}}`);
    const viaJson = await req(s.url, "POST", "/jobs", JSON.stringify(body));
    const viaMsgpack = await req(s.url, "POST", "/jobs", encode(body), { "content-type": "application/msgpack", accept: "application/json" });
    for (const r of [viaJson, viaMsgpack]) {
      assert.equal(r.status, 201, r.text);
      assert.equal(r.body!.priority, 32768);
      const got = await req(s.url, "GET", `/jobs/${r.body!.id}`);
      assert.match(got.text, /"payload":\{"__proto__":\{"x":1\},"a":2\}/);
    }
    assert.equal(({} as Record<string, unknown>).x, undefined);
  });
});
