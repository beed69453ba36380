// Cron rules with a fixed `now` (API.md §3.19, §4.5): next occurrence strictly after now
// truncated to seconds, timezones, no future occurrence, entry validation, and the
// replace/merge and pause-stamping semantics of PUT.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  advancePaused, mergeEntry, nextOccurrence, parseEntryRequest, parseGroupRequest, stampPause, toEnqueueInput,
} from "../../lib/queue/cron.ts";
import { QueueError } from "../../lib/queue/types.ts";

const at = (iso: string): number => Date.parse(iso);
const NOW = at("2026-03-10T12:34:56.789Z"); // a Tuesday

const entry = (over: Record<string, unknown> = {}) =>
  parseEntryRequest({ name: "e", expression: "0 * * * *", job: { type: "t", queue: "q", payload: null }, ...over });

function rejects400(fn: () => unknown, message: string | RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof QueueError, String(err));
    assert.equal(err.code, "invalid_argument");
    if (typeof message === "string") assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

describe("nextOccurrence", () => {
  it("is strictly after now truncated to whole seconds", () => {
    assert.equal(nextOccurrence("* * * * * *", "UTC", NOW), at("2026-03-10T12:34:57Z"));
    assert.equal(nextOccurrence("* * * * * *", "UTC", at("2026-03-10T12:34:56Z")), at("2026-03-10T12:34:57Z"));
    assert.equal(nextOccurrence("* * * * *", "UTC", NOW), at("2026-03-10T12:35:00Z"));
    assert.equal(nextOccurrence("30 0 * * * *", "UTC", NOW), at("2026-03-10T13:00:30Z"));
  });

  it("applies the IANA timezone", () => {
    assert.equal(nextOccurrence("0 9 * * *", "UTC", NOW), at("2026-03-11T09:00:00Z"));
    // New York is UTC−4 after the 2026-03-08 DST switch.
    assert.equal(nextOccurrence("0 9 * * *", "America/New_York", NOW), at("2026-03-10T13:00:00Z"));
  });

  it("supports names, L, W, # and the Vixie OR rule", () => {
    assert.equal(nextOccurrence("0 0 L * ?", "UTC", NOW), at("2026-03-31T00:00:00Z"));
    assert.equal(nextOccurrence("0 0 ? * MON#2", "UTC", NOW), at("2026-04-13T00:00:00Z"));
    assert.equal(nextOccurrence("0 0 15W * *", "UTC", NOW), at("2026-03-16T00:00:00Z")); // 15th is a Sunday
    assert.equal(nextOccurrence("0 0 * JAN-FEB *", "UTC", NOW), at("2027-01-01T00:00:00Z"));
    // dom 1 OR Friday: Friday the 13th comes first.
    assert.equal(nextOccurrence("0 0 1 * FRI", "UTC", NOW), at("2026-03-13T00:00:00Z"));
  });

  it("is undefined when there is no future occurrence", () => {
    assert.equal(nextOccurrence("0 0 30 2 *", "UTC", NOW), undefined);
  });
});

describe("entry validation", () => {
  it("rejects bad expressions, timezones, names and ready_at with 400", () => {
    rejects400(() => entry({ expression: "61 * * * *" }), /^invalid cron expression: /);
    rejects400(() => entry({ expression: "* * * * * * *" }), /^invalid cron expression: /);
    rejects400(() => entry({ timezone: "Mars/Olympus" }), 'invalid timezone: "Mars/Olympus"');
    rejects400(() => entry({ name: "a,b" }), "cron entry name must not contain ','");
    rejects400(() => entry({ job: { type: "", queue: "q", payload: 1 } }), "type must not be empty");
    rejects400(() => entry({ job: { type: "t", queue: "q", payload: 1, ready_at: 5 } }), "ready_at is not supported for cron entries");
    rejects400(() => entry({ job: { type: "t", queue: "q", payload: 1, unique_key: "k", batch: { key: "b", when: "true", fold: "$new" } } }),
      "unique_key and batch cannot be combined");
    rejects400(() => entry({ job: { type: "t", queue: "q", payload: 1, unique_while: "x" } }), /^invalid unique_while: "x"/);
    rejects400(() => parseGroupRequest({ entries: [entry(), entry()].map((e) => ({ ...e, job: { type: "t", queue: "q", payload: null } })) }),
      'duplicate cron entry name: "e"');
  });

  it("keeps unique_while without unique_key, and it has no effect at fire time", () => {
    const e = entry({ job: { type: "t", queue: "q", payload: null, unique_while: "active" } });
    assert.equal(e.job.unique_while, "active");
    const input = toEnqueueInput(e.job, NOW);
    assert.equal(input.options.unique_key, undefined);
    assert.equal(input.options.unique_while, undefined);
    assert.equal(input.readyAtMs, NOW);
  });
});

describe("replace/merge", () => {
  const old = mergeEntry(undefined, entry(), "e", NOW);

  it("a new entry starts at the next occurrence, unpaused, without stamps", () => {
    assert.deepEqual(old, {
      name: "e", expression: "0 * * * *", paused: false, job: entry().job, next_enqueue_at: nextOccurrence("0 * * * *", undefined, NOW),
    });
  });

  it("same expression and zone keeps next/last; a changed one recomputes next and keeps last", () => {
    const fired = { ...old, next_enqueue_at: 111_000, last_enqueue_at: 100_000 };
    const same = mergeEntry(fired, entry(), "e", NOW);
    assert.equal(same.next_enqueue_at, 111_000);
    assert.equal(same.last_enqueue_at, 100_000);
    // 0.7: the effective zone counts too (own zone, else the group's).
    const zoned = mergeEntry(fired, entry({ timezone: "UTC" }), "e", NOW);
    assert.equal(zoned.timezone, "UTC");
    assert.equal(zoned.next_enqueue_at, nextOccurrence("0 * * * *", "UTC", NOW));
    const inherited = mergeEntry({ ...fired, timezone: "Asia/Tokyo" }, entry(), "e", NOW, { before: "UTC", after: "Asia/Tokyo" });
    assert.equal(inherited.next_enqueue_at, 111_000);
    const groupMoved = mergeEntry(fired, entry(), "e", NOW, { before: undefined, after: "Asia/Kolkata" });
    assert.equal(groupMoved.next_enqueue_at, nextOccurrence("0 * * * *", "Asia/Kolkata", NOW));
    const changed = mergeEntry(fired, entry({ expression: "* * * * * *" }), "e", NOW);
    assert.equal(changed.next_enqueue_at, at("2026-03-10T12:34:57Z"));
    assert.equal(changed.last_enqueue_at, 100_000);
  });

  it("pause stamping: omitted keeps, changes stamp, older stamp kept, no-op when unchanged", () => {
    const paused = mergeEntry(old, entry({ paused: true }), "e", NOW);
    assert.equal(paused.paused, true);
    assert.equal(paused.paused_at, NOW);
    assert.equal(mergeEntry(paused, entry(), "e", NOW + 5).paused, true);
    const resumed = mergeEntry(paused, entry({ paused: false }), "e", NOW + 7);
    assert.deepEqual([resumed.paused, resumed.paused_at, resumed.resumed_at], [false, NOW, NOW + 7]);
    const target = { paused: false };
    stampPause(target, false, NOW);
    assert.deepEqual(target, { paused: false });
    assert.equal(mergeEntry(undefined, entry({ paused: true }), "e", NOW).paused_at, undefined);
  });

  it("paused schedules keep advancing without catching up", () => {
    const group = { name: "g", paused: true, entries: [{ ...old, timezone: "UTC", next_enqueue_at: NOW - 60_000 }] };
    assert.equal(advancePaused(group, NOW), true);
    assert.equal(group.entries[0].next_enqueue_at, at("2026-03-10T13:00:00Z"));
    assert.equal(advancePaused(group, NOW), false);
  });
});
