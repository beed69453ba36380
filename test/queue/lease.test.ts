// LeaseBook (lib/queue/lease.ts) with a manual clock: leases of several lengths expire in
// deadline order, a heartbeat moves a deadline, a dropped lease never expires, and the
// expiry message formats the length in its largest whole unit.

import assert from "node:assert/strict";
import { it } from "node:test";
import { ManualClock } from "../../lib/queue/clock.ts";
import { LeaseBook, formatLease } from "../../lib/queue/lease.ts";
import { eventually } from "../helpers/server.ts";

it("expires due leases only, across lease lengths, honouring heartbeats and drops", async () => {
  const clock = new ManualClock(1_000_000);
  const expired: string[] = [];
  const book = new LeaseBook(clock, (id, leaseMs) => expired.push(`${id}/${leaseMs}`));
  book.grant("a", 30, clock.now());
  book.grant("b", 10, clock.now());
  book.grant("c", 30, clock.now());
  book.grant("d", 10, clock.now());
  assert.equal(book.size, 4);
  clock.advance(8);
  assert.equal(book.extend("b", clock.now()), true); // b now due at +18
  assert.equal(book.extend("zz", clock.now()), false);
  book.drop("c");
  clock.advance(4); // +12: only d is due
  await eventually(() => expired.length >= 1, 5000, "d to expire");
  assert.deepEqual(expired, ["d/10"]);
  clock.advance(100); // everything left is due
  await eventually(() => expired.length >= 3, 5000, "a and b to expire");
  assert.deepEqual(expired.slice(1).sort(), ["a/30", "b/10"]);
  assert.equal(book.size, 0);
  book.stop();
});

it("a re-grant replaces the old lease", async () => {
  const clock = new ManualClock();
  const expired: string[] = [];
  const book = new LeaseBook(clock, (id, leaseMs) => expired.push(`${id}/${leaseMs}`));
  book.grant("a", 5, clock.now());
  book.grant("a", 1000, clock.now());
  assert.equal(book.size, 1);
  clock.advance(10);
  book.grant("probe", 1, clock.now() - 1); // due now: fires once the timer runs
  await eventually(() => expired.length >= 1, 5000, "the probe");
  assert.deepEqual(expired, ["probe/1"]);
  book.stop();
});

it("formats lease lengths", () => {
  assert.equal(formatLease(30_000), "30s");
  assert.equal(formatLease(90_000), "90s");
  assert.equal(formatLease(120_000), "2m");
  assert.equal(formatLease(7_200_000), "2h");
  assert.equal(formatLease(1500), "1500ms");
  assert.equal(formatLease(1), "1ms");
});
