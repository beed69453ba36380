// Issue 12 §4 and §8: input that used to be a 500 or was silently changed. Names longer than
// NAME_MAX_BYTES or with lone surrogates are 400s (422 on PATCH, as §1.8 says) wherever a
// name enters, over HTTP/1.1 and h2c; jq programs nested too deep are 400s on list, count,
// delete and patch; a program that starts with `-` is a program, not a jq option.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { encode } from "@msgpack/msgpack";
import { NAME_MAX_BYTES } from "../../lib/queue/validate.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { cleanupTmp } from "../helpers/tmp.ts";
import { assertError, enqueue, openTake, req, sharedServer, uniq } from "./_client.ts";
import { h2Connect, h2Request } from "./_transport.ts";

const LONG = "n".repeat(65_536);
const JUST_OVER = "é".repeat(128); // 256 bytes, 128 characters

describe("name limits", () => {
  let s: TestServer;
  let id: string;
  before(async () => {
    s = await startServer();
    id = (await enqueue(s.url, { queue: "keep" })).id as string;
  });
  after(async () => {
    await s.close();
    cleanupTmp();
  });

  const tooLong = (field: string) => new RegExp(`${field} must be at most ${NAME_MAX_BYTES} bytes`);

  it(`names up to ${NAME_MAX_BYTES} bytes are accepted; one more is a 400`, async () => {
    const ok = await req(s.url, "POST", "/jobs", { type: "t".repeat(NAME_MAX_BYTES), queue: "é".repeat(127) + "q", payload: null });
    assert.equal(ok.status, 201, ok.text);
    for (const [type, queue, field] of [[LONG, "q", "type"], ["t", LONG, "queue"], ["t", JUST_OVER, "queue"]]) {
      assertError(await req(s.url, "POST", "/jobs", { type, queue, payload: null }), 400, tooLong(field));
      assertError(await req(s.url, "POST", "/jobs/bulk", { jobs: [{ type: "t", queue: "q", payload: 1 }, { type, queue, payload: null }] }), 400, new RegExp(`^jobs\\[1\\]: ${field} must be at most`));
    }
  });

  it("PATCH one and by filter: 422; filters and take: 400; cron names and templates: 400", async () => {
    assertError(await req(s.url, "PATCH", `/jobs/${id}`, { queue: LONG }), 422, tooLong("queue"));
    assertError(await req(s.url, "PATCH", "/jobs?queue=keep", { queue: LONG }), 422, tooLong("queue"));
    for (const path of [`/jobs?queue=${JUST_OVER}`, `/jobs/count?type=${"t".repeat(NAME_MAX_BYTES + 1)}`]) {
      assertError(await req(s.url, "GET", path), 400, /at most 255 bytes/);
    }
    assertError(await req(s.url, "GET", `/jobs/take?queue=${JUST_OVER}`), 400, /at most 255 bytes/);
    const entry = (job: object, name = "e") => ({ entries: [{ name, expression: "0 0 1 1 *", job: { type: "t", queue: "q", payload: null, ...job } }] });
    assertError(await req(s.url, "PUT", `/crons/${"g".repeat(300)}`, entry({})), 400, tooLong("cron group name"));
    assertError(await req(s.url, "PUT", "/crons/g", entry({}, "e".repeat(300))), 400, tooLong("cron entry name"));
    assertError(await req(s.url, "PUT", "/crons/g", entry({ type: LONG })), 400, tooLong("type"));
    assertError(await req(s.url, "POST", "/crons/g/entries", entry({ queue: LONG }).entries[0]), 400, tooLong("queue"));
    assert.equal((await req(s.url, "GET", `/jobs/${id}`)).body!.queue, "keep");
  });

  it("over h2c too", async () => {
    const session = await h2Connect(s.url);
    try {
      const send = (method: string, path: string, body: object) =>
        h2Request(session, method, path, { "content-type": "application/json" }, JSON.stringify(body));
      for (const [method, path, body, status] of [
        ["POST", "/jobs", { type: LONG, queue: "q", payload: null }, 400],
        ["POST", "/jobs/bulk", { jobs: [{ type: "t", queue: LONG, payload: null }] }, 400],
        ["PATCH", `/jobs/${id}`, { queue: LONG }, 422],
      ] as const) {
        const r = await send(method, path, body);
        assert.equal(r.status, status, `${method} ${path}: ${r.body}`);
        assert.match(JSON.parse(r.body.toString()).error, /at most 255 bytes/);
      }
    } finally {
      session.close();
    }
  });

  it("lone surrogates in names are rejected, in JSON and MessagePack; pairs are fine", async () => {
    for (const body of ['{"type":"t","queue":"q-\\ud800","payload":1}', '{"type":"t-\\udc00","queue":"q","payload":1}']) {
      assertError(await req(s.url, "POST", "/jobs", body), 400, /must be valid Unicode \(no lone surrogates\)/);
    }
    assertError(await req(s.url, "PATCH", `/jobs/${id}`, '{"queue":"q-\\ud800"}'), 422, /no lone surrogates/);
    const mp = await req(s.url, "POST", "/jobs", encode({ type: "t", queue: "q-\ud800", payload: 1 }), { "content-type": "application/msgpack", accept: "application/json" });
    assert.equal(mp.status, 400, mp.text);
    const pair = await req(s.url, "POST", "/jobs", '{"type":"t","queue":"q-\\ud83d\\ude00","payload":1}');
    assert.equal(pair.status, 201, pair.text);
    assert.equal(pair.body!.queue, "q-😀");
    assert.equal((await req(s.url, "GET", `/jobs?queue=${encodeURIComponent("q-😀")}`)).body!.jobs.length, 1);
  });
});

describe("lone surrogates in stored text", () => {
  after(cleanupTmp);

  it("unique and batch keys and batch programs refuse them (400); error text keeps U+FFFD for them, before and after a restart", async () => {
    let s = await startServer();
    try {
      const bodies: [string, string][] = [
        ['{"type":"t","queue":"q","payload":1,"unique_key":"k\\ud800"}', "unique_key"],
        ['{"type":"t","queue":"q","payload":1,"batch":{"key":"b\\udc00","when":"true","fold":"."}}', "batch.key"],
        ['{"type":"t","queue":"q","payload":1,"batch":{"key":"b","when":"\\"\\ud800\\" == .","fold":"."}}', "batch.when"],
      ];
      for (const [body, field] of bodies) {
        assertError(await req(s.url, "POST", "/jobs", body), 400, `${field} must be valid Unicode (no lone surrogates)`);
        assertError(await req(s.url, "POST", "/jobs/bulk", `{"jobs":[${body}]}`), 400, `jobs[0]: ${field} must be valid Unicode (no lone surrogates)`);
      }
      const cron = '{"name":"e","expression":"0 0 1 1 *","job":{"type":"t","queue":"q","payload":1,"unique_key":"k\\ud800"}}';
      assertError(await req(s.url, "PUT", "/crons/g/entries/e", cron), 400, "unique_key must be valid Unicode (no lone surrogates)");
      assert.equal((await req(s.url, "GET", "/jobs/count")).body!.count, 0, "nothing was stored");
      // A pair is a character like any other, and stays one.
      const pair = await req(s.url, "POST", "/jobs", '{"type":"t","queue":"q","payload":1,"unique_key":"k\\ud83d\\ude00"}');
      assert.equal(pair.status, 201, pair.text);
      assert.equal(pair.body!.unique_key, "k😀");

      const id = (await enqueue(s.url, { queue: "fails" })).id as string;
      const stream = await openTake(s.url, "queue=fails");
      await stream.job(0);
      await stream.close();
      const r = await req(s.url, "POST", `/jobs/${id}/failure`, '{"message":"m\\ud800","error_type":"E\\udc00","backtrace":"b\\ud800x","retry_at":9999999999999}');
      assert.equal(r.status, 200, r.text);
      const seen = async () => (await req(s.url, "GET", `/jobs/${id}/errors`)).body!.errors[0];
      const before = await seen();
      assert.deepEqual([before.message, before.error_type, before.backtrace], ["m\uFFFD", "E\uFFFD", "b\uFFFDx"]);
      const dir = s.dir;
      await s.close();
      s = await startServer({ dir });
      assert.deepEqual(await seen(), before, "the same text after a restart");
    } finally {
      await s.close();
    }
  });
});

describe("payload depth and computed times", () => {
  const { s } = sharedServer();

  it("a payload jq could not read is a 400, in JSON and MessagePack, single, bulk and cron; every payload taken is filterable", async () => {
    const arrays = (d: number) => "[".repeat(d) + "1" + "]".repeat(d);
    const objects = (d: number) => '{"a":'.repeat(d) + "1" + "}".repeat(d);
    const deep = /^payload is nested too deeply for jq filters \(at most 256 levels of arrays, or 128 of objects\)$/;
    const q = uniq("deep");
    for (const payload of [arrays(256), objects(128), '[{"a":'.repeat(85) + "1" + "}]".repeat(85)]) {
      const r = await req(s.url, "POST", "/jobs", `{"type":"t","queue":"${q}","payload":${payload}}`);
      assert.equal(r.status, 201, r.text);
    }
    for (const payload of [arrays(257), objects(129), '[{"a":'.repeat(86) + "1" + "}]".repeat(86)]) {
      assertError(await req(s.url, "POST", "/jobs", `{"type":"t","queue":"${q}","payload":${payload}}`), 400, deep);
      assertError(await req(s.url, "POST", "/jobs/bulk", `{"jobs":[{"type":"t","queue":"${q}","payload":${payload}}]}`), 400, /payload is nested too deeply/);
    }
    const cron = `{"name":"e","expression":"0 0 1 1 *","job":{"type":"t","queue":"${q}","payload":${objects(129)}}}`;
    assertError(await req(s.url, "PUT", "/crons/g/entries/e", cron), 400, deep);
    // MessagePack: the same rule for a payload, and a body too deep for the decoder is
    // a plain 400 (it used to read "Maximum call stack size exceeded").
    let nested: unknown = 1;
    for (let i = 0; i < 257; i++) nested = [nested];
    const mp = { "content-type": "application/msgpack", accept: "application/json" };
    assertError(await req(s.url, "POST", "/jobs", encode({ type: "t", queue: q, payload: nested }, { maxDepth: 1000 }), mp), 400, deep);
    const tooDeep = Buffer.concat([Buffer.alloc(10_000, 0x91), Buffer.from([0x01])]);
    assertError(await req(s.url, "POST", "/jobs", tooDeep, mp), 400, /^invalid MessagePack: nested deeper than 512 levels/);
    // A JSON body nested past 512 levels anywhere (an ignored field too) is refused before
    // it is parsed: JSON.parse of 7.9M levels held the server ~5 s.
    const deepJson = /^invalid JSON: nested deeper than 512 levels \(byte \d+\)$/;
    const job = (extra: string) => `{"type":"t","queue":"${q}","payload":1${extra}}`;
    assertError(await req(s.url, "POST", "/jobs", job(`,"x":${arrays(600)}`)), 400, deepJson);
    assertError(await req(s.url, "POST", "/jobs", `{"type":"t","queue":"${q}","payload":${arrays(100_000)}}`), 400, deepJson);
    assertError(await req(s.url, "POST", "/jobs/bulk", `{"jobs":[${job(`,"x":${arrays(600)}`)}]}`), 400, deepJson);
    // A bulk body long enough to be parsed job by job is checked by that scan.
    const many = Array.from({ length: 900 }, () => job(`,"pad":"${"p".repeat(100)}"`));
    assertError(await req(s.url, "POST", "/jobs/bulk", `{"jobs":[${[...many, job(`,"x":${arrays(600)}`)].join(",")}]}`), 400, deepJson);
    assert.equal((await req(s.url, "POST", "/jobs", job(`,"x":${arrays(511)}`))).status, 201, "512 levels in all");
    assert.equal((await req(s.url, "GET", `/jobs/count?queue=${q}`)).body!.count, 4);
    assert.equal((await req(s.url, "GET", `/jobs/count?queue=${q}&filter=true`)).body!.count, 4, "jq reads every payload taken");
  });

  it("a backoff exponent too big for any date gives the latest time a request may give (2^53 - 1), an integer every range counts", async () => {
    const ids: string[] = [];
    for (const exponent of [64, 1024]) {
      ids.push((await enqueue(s.url, { queue: "huge", backoff: { exponent, base_ms: 0, jitter_ms: 0 } })).id as string);
    }
    const stream = await openTake(s.url, "queue=huge&prefetch=2");
    try {
      // The first failure waits 1^exponent s; the second 2^exponent s, past any date.
      for (let i = 0; i < 4; i++) {
        const job = await stream.job(i, 30_000);
        const r = await req(s.url, "POST", `/jobs/${job.id}/failure`, { message: "no" });
        assert.equal(r.status, 200, r.text);
        if (job.attempts === 1) assert.equal(r.body!.ready_at, Number.MAX_SAFE_INTEGER, r.text);
      }
    } finally {
      await stream.close();
    }
    for (const id of ids) {
      const job = (await req(s.url, "GET", `/jobs/${id}`)).body!;
      assert.equal(job.ready_at, Number.MAX_SAFE_INTEGER);
      assert.equal(job.status, "scheduled");
    }
    assert.equal((await req(s.url, "GET", "/jobs/count?queue=huge&ready_at=..")).body!.count, 2);
    const text = (await req(s.url, "GET", `/jobs/${ids[1]}`)).text;
    assert.match(text, /"ready_at":9007199254740991[,}]/);
  });
});

describe("jq programs that used to be 500s", () => {
  let s: TestServer;
  let queue: string;
  before(async () => {
    s = await startServer();
    queue = uniq("deep");
    await enqueue(s.url, { queue, payload: { a: 1 } });
    await enqueue(s.url, { queue, payload: { a: -5 } });
  });
  after(async () => {
    await s.close();
    cleanupTmp();
  });

  const deep = [
    "(".repeat(2000) + "." + ")".repeat(2000),
    "[".repeat(2000) + "]".repeat(2000),
    ".a == " + "{a:".repeat(1000) + "1" + "}".repeat(1000),
    '"' + "\\(".repeat(500) + "1" + ")".repeat(500) + '"',
  ];
  for (const program of deep) {
    it(`nested ${program.slice(0, 6)}… is a 400 on list, count, delete and patch`, async () => {
      const q = `queue=${queue}&filter=${encodeURIComponent(program)}`;
      for (const [method, path] of [["GET", "/jobs"], ["GET", "/jobs/count"], ["DELETE", "/jobs"], ["PATCH", "/jobs"]]) {
        const r = await req(s.url, method, `${path}?${q}`, method === "PATCH" ? { priority: 1 } : undefined);
        assertError(r, 400, "invalid filter: nested deeper than 256 levels");
      }
      assert.equal((await req(s.url, "GET", `/jobs/count?queue=${queue}`)).body!.count, 2);
    });
  }

  it("a program starting with `-` is a program, not a jq command-line option", async () => {
    const count = async (program: string) => req(s.url, "GET", `/jobs/count?queue=${queue}&filter=${encodeURIComponent(program)}`);
    assert.deepEqual((await count("-1 < .a")).body, { count: 1 });
    assert.deepEqual((await count("-".repeat(3000) + "1 | . == 1")).body, { count: 2 });
    const slurp = await count("--slurp");
    assert.equal(slurp.status, 400);
    assert.doesNotMatch(slurp.body!.error as string, /Unknown option|_jq-worker/);
  });
});
