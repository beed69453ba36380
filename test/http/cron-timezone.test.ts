// Zizq 0.7 cron changes over HTTP (API-budgets.md §1 #11, #12): a group-level timezone
// on PUT/PATCH /crons/{group} that entries without their own zone inherit, `paused`
// optional on the group PATCH, and next_enqueue_at kept only when the expression and
// the effective zone are both unchanged.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Json, assertError, req, sharedServer, uniq } from "./_client.ts";

const { s } = sharedServer();
const DAY = 86_400_000;
const HOUR = 3_600_000;
const entry = (name: string, extra: Json = {}): Json => ({ name, expression: "0 0 * * *", job: { type: "t", queue: "tz", payload: null }, ...extra });

async function ok(r: Promise<Awaited<ReturnType<typeof req>>>, status = 200): Promise<Json> {
  const res = await r;
  assert.equal(res.status, status, res.text);
  return res.body!;
}
/** Hour of day (UTC) of a midnight in the given zone: Tokyo 15, Kolkata 18.5, UTC 0. */
const utcHour = (ms: number): number => (ms % DAY) / HOUR;

describe("group timezone", () => {
  it("PUT: entries inherit the group zone (not copied onto them); their own zone wins; omitted clears", async () => {
    const g = uniq("g");
    const group = await ok(req(s.url, "PUT", `/crons/${g}`, {
      timezone: "Asia/Tokyo", paused: true, entries: [entry("inherits"), entry("own", { timezone: "UTC" })],
    }));
    assert.deepEqual(Object.keys(group), ["name", "paused", "timezone", "paused_at", "entries"]);
    assert.equal(group.timezone, "Asia/Tokyo");
    const [inherits, own] = group.entries as Json[];
    assert.equal("timezone" in inherits, false);
    assert.equal(utcHour(inherits.next_enqueue_at), 15);
    assert.equal(utcHour(own.next_enqueue_at), 0);
    const cleared = await ok(req(s.url, "PUT", `/crons/${g}`, { entries: [entry("inherits")] }));
    assert.equal("timezone" in cleared, false);
    assert.notEqual(cleared.entries[0].next_enqueue_at, inherits.next_enqueue_at, "the effective zone changed: recomputed");
    assertError(await req(s.url, "PUT", `/crons/${g}`, { timezone: "Mars/Base", entries: [] }), 400, 'invalid timezone: "Mars/Base"');
  });

  it("PATCH: timezone sets (recomputing inheriting entries only), null clears, absent keeps; paused optional", async () => {
    const g = uniq("g");
    await ok(req(s.url, "PUT", `/crons/${g}`, { timezone: "UTC", entries: [entry("a"), entry("b", { timezone: "UTC" })] }));
    const tokyo = await ok(req(s.url, "PATCH", `/crons/${g}`, { timezone: "Asia/Tokyo" }));
    assert.equal(tokyo.timezone, "Asia/Tokyo");
    assert.equal(tokyo.paused, false);
    const byName = (grp: Json, n: string) => (grp.entries as Json[]).find((e) => e.name === n)!;
    assert.equal(utcHour(byName(tokyo, "a").next_enqueue_at), 15);
    assert.equal(utcHour(byName(tokyo, "b").next_enqueue_at), 0);
    const paused = await ok(req(s.url, "PATCH", `/crons/${g}`, { paused: true }));
    assert.deepEqual([paused.paused, paused.timezone], [true, "Asia/Tokyo"]);
    const kolkata = await ok(req(s.url, "PATCH", `/crons/${g}`, { timezone: "Asia/Kolkata", paused: false }));
    assert.equal(utcHour(byName(kolkata, "a").next_enqueue_at), 18.5);
    const cleared = await ok(req(s.url, "PATCH", `/crons/${g}`, { timezone: null }));
    assert.equal("timezone" in cleared, false);
    assertError(await req(s.url, "PATCH", `/crons/${g}`, { timezone: "Nowhere/Land" }), 400, 'invalid timezone: "Nowhere/Land"');
    assertError(await req(s.url, "PATCH", `/crons/${uniq("none")}`, {}), 404, /^cron group '.*' not found$/);
  });

  it("PUT keeps next_enqueue_at only when expression and effective zone are unchanged", async () => {
    const g = uniq("g");
    const first = await ok(req(s.url, "PUT", `/crons/${g}`, { timezone: "Asia/Tokyo", entries: [entry("a")] }));
    const next = first.entries[0].next_enqueue_at;
    const same = await ok(req(s.url, "PUT", `/crons/${g}`, { timezone: "Asia/Tokyo", entries: [entry("a")] }));
    assert.equal(same.entries[0].next_enqueue_at, next);
    const entryPut = await ok(req(s.url, "PUT", `/crons/${g}/entries/a`, entry("a")));
    assert.equal(entryPut.next_enqueue_at, next, "PUT of one entry: the group's zone is still the effective one");
    const ownSame = await ok(req(s.url, "PUT", `/crons/${g}/entries/a`, entry("a", { timezone: "Asia/Tokyo" })));
    assert.equal(ownSame.next_enqueue_at, next, "own zone equal to the inherited one: same effective zone");
    const moved = await ok(req(s.url, "PUT", `/crons/${g}/entries/a`, entry("a", { timezone: "UTC" })));
    assert.equal(utcHour(moved.next_enqueue_at), 0);
  });
});
