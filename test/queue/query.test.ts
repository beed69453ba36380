// Query-string parsing and page links (API.md §1.10, §2.3): every range shape and error,
// comma sets, unknown params, canonical link forms, and the parse(build(req)) round trip.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  errorPagesFor,
  jobsLink,
  pagesFor,
  parseErrorListQuery,
  parseFilterQuery,
  parseListQuery,
  parseTakeQuery,
} from "../../lib/queue/query.ts";
import { QueueError, STATUS_ORDER, type ListRequest } from "../../lib/queue/types.ts";

const ID1 = "03fr1jkpcsipbsckqj0y6pgr7";
const ID2 = "03fr1jkpcsipbsckqj0y6pgr8";

function rejects(fn: () => unknown, message: string | RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof QueueError, `expected QueueError, got ${String(err)}`);
    assert.equal(err.code, "invalid_argument");
    if (typeof message === "string") assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

describe("ranges", () => {
  const priority = (v: string) => parseFilterQuery(`priority=${v}`).priority;
  it("accepts N, A..B, ..B, A.., .. and empty", () => {
    assert.deepEqual(priority("7"), { lo: 7, hi: 7 });
    assert.deepEqual(priority("1..9"), { lo: 1, hi: 9 });
    assert.deepEqual(priority("..9"), { lo: 0, hi: 9 });
    assert.deepEqual(priority("3.."), { lo: 3, hi: 65535 });
    assert.deepEqual(priority(".."), { lo: 0, hi: 65535 });
    assert.equal(priority(""), undefined);
    assert.deepEqual(priority("0..65535"), { lo: 0, hi: 65535 });
    assert.deepEqual(priority("007"), { lo: 7, hi: 7 });
  });
  it("applies the type bounds: u16 priority, u32 attempts, u64 ready_at", () => {
    rejects(() => priority("65536"), 'invalid query parameters: invalid priority range "65536": 65536 exceeds the maximum 65535');
    assert.deepEqual(parseFilterQuery("attempts=..4294967295").attempts, { lo: 0, hi: 4294967295 });
    rejects(() => parseFilterQuery("attempts=4294967296"), /exceeds the maximum 4294967295/);
    assert.deepEqual(parseFilterQuery("ready_at=1735689600000..").readyAt, { lo: 1735689600000, hi: Number.MAX_SAFE_INTEGER });
    // Above 2^53-1 a u64 saturates; above u64::MAX it overflows.
    assert.deepEqual(parseFilterQuery("ready_at=..18446744073709551615").readyAt, { lo: 0, hi: Number.MAX_SAFE_INTEGER });
    rejects(() => parseFilterQuery("ready_at=18446744073709551616"), /exceeds the maximum 18446744073709551615/);
  });
  it("rejects non-numeric, negative, signed, fractional and reversed ranges", () => {
    for (const bad of ["abc", "-1", "1.5", "%2B1", "+1", "1...2", "a..", "..b", "1..2..3", "1e3", " 1"]) {
      rejects(() => priority(bad), /^invalid query parameters: invalid priority range /);
    }
    rejects(() => priority("5..1"), 'invalid query parameters: invalid priority range "5..1": start 5 is greater than end 1');
  });
});

describe("sets", () => {
  it("splits on commas, drops empty segments, sorts by byte order, dedupes", () => {
    assert.deepEqual(parseFilterQuery("queue=b,a,,b,").queues, ["a", "b"]);
    assert.deepEqual(parseFilterQuery("type=%F0%9F%98%80,%EF%BF%BD").types, ["\uFFFD", "😀"]);
    assert.equal(parseFilterQuery("queue=").queues, undefined);
    assert.equal(parseFilterQuery("queue=,,").queues, undefined);
  });
  it("decodes form encoding: + is a space, %2C is a comma", () => {
    assert.deepEqual(parseFilterQuery("queue=a+b%2Cc%2Bd").queues, ["a b", "c+d"]);
  });
  it("orders statuses by lifecycle and rejects unknown ones", () => {
    assert.deepEqual(parseFilterQuery("status=dead,ready,scheduled,ready").statuses, ["scheduled", "ready", "dead"]);
    rejects(() => parseFilterQuery("status=ready,banana"), /^invalid query parameters: unknown status `banana`/);
  });
  it("names a too-long name's own parameter", () => {
    for (const field of ["queue", "type", "budgets.key"]) {
      rejects(() => parseFilterQuery(`${field}=${"n".repeat(256)}`), `invalid query parameters: ${field}: a name must be at most 255 bytes (UTF-8)`);
    }
  });
  it("validates job ids", () => {
    assert.deepEqual(parseFilterQuery(`id=${ID2},${ID1}`).ids, [ID1, ID2]);
    rejects(() => parseFilterQuery(`id=${ID1},nope`), 'invalid job ID: "nope"');
    rejects(() => parseFilterQuery(`id=${ID1.toUpperCase()}`), `invalid job ID: "${ID1.toUpperCase()}"`);
    rejects(() => parseFilterQuery(`id=${ID1}0`), `invalid job ID: "${ID1}0"`);
  });
});

describe("parsers per endpoint", () => {
  it("list: defaults, order, limit bounds, from, filter", () => {
    assert.deepEqual(parseListQuery(""), { filter: {}, order: "asc", limit: 50 });
    assert.deepEqual(parseListQuery("?order=desc&limit=2000&from=x"), { filter: {}, order: "desc", limit: 2000, from: "x" });
    assert.deepEqual(parseListQuery("from="), { filter: {}, order: "asc", limit: 50 });
    assert.equal(parseListQuery("filter=.a+%3D%3D+1").filter.jq, ".a == 1");
    assert.equal(parseListQuery("filter=").filter.jq, undefined);
    for (const limit of ["0", "2001", "99999999999999999999"]) {
      rejects(() => parseListQuery(`limit=${limit}`), "limit must be between 1 and 2000");
    }
    rejects(() => parseListQuery("limit=ten"), /^invalid query parameters: limit: /);
    rejects(() => parseListQuery("limit=-1"), /^invalid query parameters: limit: /);
    rejects(() => parseListQuery("order=sideways"), /^invalid query parameters: unknown order `sideways`/);
  });
  it("unknown and repeated params are rejected on every family", () => {
    rejects(() => parseListQuery("foo=1"), /^invalid query parameters: unknown field `foo`, expected one of `from`/);
    rejects(() => parseFilterQuery("limit=5"), /^invalid query parameters: unknown field `limit`/);
    rejects(() => parseFilterQuery("order=asc"), /unknown field `order`/);
    rejects(() => parseErrorListQuery("status=ready"), /unknown field `status`/);
    rejects(() => parseTakeQuery("limit=1"), /unknown field `limit`/);
    rejects(() => parseListQuery("queue=a&queue=b"), "invalid query parameters: duplicate field `queue`");
  });
  it("error list: from is a u32 attempt", () => {
    assert.deepEqual(parseErrorListQuery("from=3&order=desc&limit=5"), { from: 3, order: "desc", limit: 5 });
    assert.deepEqual(parseErrorListQuery(""), { order: "asc", limit: 50 });
    rejects(() => parseErrorListQuery("from=x"), /^invalid query parameters: from: /);
    rejects(() => parseErrorListQuery("from=4294967296"), /^invalid query parameters: from: /);
  });
  it("take: queue set and prefetch", () => {
    assert.deepEqual(parseTakeQuery(""), { prefetch: 1 });
    assert.deepEqual(parseTakeQuery("prefetch=0&queue=b%2Ca"), { queues: ["a", "b"], prefetch: 0 });
    rejects(() => parseTakeQuery("prefetch=-1"), /^invalid query parameters: prefetch: /);
    rejects(() => parseTakeQuery("prefetch=1.5"), /^invalid query parameters: prefetch: /);
  });
});

describe("links", () => {
  it("writes the canonical form in the fixed parameter order", () => {
    const req = parseListQuery(
      "filter=.a+%3D%3D+%22x+y%22&attempts=0&ready_at=5..&priority=..&id=" + `${ID2},${ID1}` +
        "&type=t&queue=b,a&status=dead,ready&limit=10&order=desc&from=" + ID1,
    );
    assert.equal(
      jobsLink(req),
      `/jobs?from=${ID1}&order=desc&limit=10&status=ready,dead&queue=a,b&type=t&id=${ID1},${ID2}` +
        "&priority=..65535&ready_at=5..&attempts=0&filter=.a%20%3D%3D%20%22x%20y%22",
    );
  });
  it("canonicalises ranges per type", () => {
    const link = (q: string) => jobsLink(parseListQuery(q)).replace("/jobs?order=asc&limit=50&", "");
    assert.equal(link("priority=3..3"), "priority=3");
    assert.equal(link("priority=0..9"), "priority=..9");
    assert.equal(link("priority=9..65535"), "priority=9..");
    assert.equal(link("priority=2..9"), "priority=2..9");
    assert.equal(link("attempts=.."), "attempts=..4294967295");
    assert.equal(link("ready_at=.."), "ready_at=..18446744073709551615");
    assert.equal(link("ready_at=0"), "ready_at=0");
    assert.equal(jobsLink(parseListQuery("")), "/jobs?order=asc&limit=50");
  });
  it("encodes names only where they would break the URL", () => {
    const req = parseListQuery("queue=Mailer%3A%3ASend,a%26b%23c,x%25y+z%2Bw,caf%C3%A9,a/b");
    assert.equal(
      jobsLink(req),
      "/jobs?order=asc&limit=50&queue=Mailer::Send,a%26b%23c,a/b,caf%C3%A9,x%25y%20z%2Bw",
    );
  });
  it("pages: next only with more rows, prev only with a cursor and a non-empty page", () => {
    const req = parseListQuery("limit=2&queue=q");
    assert.deepEqual(pagesFor(req, [ID1, ID2], true), {
      self: "/jobs?order=asc&limit=2&queue=q",
      next: `/jobs?from=${ID2}&order=asc&limit=2&queue=q`,
      prev: null,
    });
    const withFrom = parseListQuery(`limit=2&order=desc&from=${ID2}`);
    assert.deepEqual(pagesFor(withFrom, [ID1], false), {
      self: `/jobs?from=${ID2}&order=desc&limit=2`,
      next: null,
      prev: `/jobs?from=${ID1}&order=asc&limit=2`,
    });
    assert.deepEqual(pagesFor(withFrom, [], false), { self: `/jobs?from=${ID2}&order=desc&limit=2`, next: null, prev: null });
  });
  it("error pages follow the same rules", () => {
    assert.deepEqual(errorPagesFor(ID1, parseErrorListQuery("limit=2"), [1, 2], true), {
      self: `/jobs/${ID1}/errors?order=asc&limit=2`,
      next: `/jobs/${ID1}/errors?from=2&order=asc&limit=2`,
      prev: null,
    });
    assert.deepEqual(errorPagesFor(ID1, parseErrorListQuery("from=5&order=desc"), [4, 3], false), {
      self: `/jobs/${ID1}/errors?from=5&order=desc&limit=50`,
      next: null,
      prev: `/jobs/${ID1}/errors?from=4&order=asc&limit=50`,
    });
  });
});

describe("round trip: parse(jobsLink(req)) yields req", () => {
  // Deterministic PRNG so a failure is reproducible from the printed seed.
  function rng(seed: number): () => number {
    return () => ((seed = (Math.imul(seed ^ (seed >>> 15), 2246822507) + 0x6d2b79f5) >>> 0) / 2 ** 32);
  }
  const ALPHABET = ["a", "Z", "0", "-", "_", ".", "~", ":", "/", "@", "&", "#", "%", "+", "=", " ", "?", "é", "😀", "\"", "'", "(", ")"];
  it("holds for 2000 random canonical requests, and the link is a fixpoint", () => {
    const seed = 12345;
    const r = rng(seed);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
    const word = () => Array.from({ length: 1 + Math.floor(r() * 6) }, () => pick(ALPHABET)).join("");
    const range = (max: number) => {
      const a = Math.floor(r() * 3) === 0 ? 0 : Math.floor(r() * max);
      const b = Math.floor(r() * 3) === 0 ? max : a + Math.floor(r() * (max - a));
      return { lo: a, hi: b };
    };
    for (let i = 0; i < 2000; i++) {
      const query = new URLSearchParams();
      if (r() < 0.5) query.set("from", word());
      query.set("order", pick(["asc", "desc"]));
      query.set("limit", String(1 + Math.floor(r() * 2000)));
      if (r() < 0.5) query.set("status", STATUS_ORDER.filter(() => r() < 0.5).join(","));
      if (r() < 0.5) query.set("queue", [word(), word(), word()].join(","));
      if (r() < 0.5) query.set("type", [word(), word()].join(","));
      if (r() < 0.3) query.set("id", [ID1, ID2].filter(() => r() < 0.7).join(","));
      for (const [name, max] of [["priority", 65535], ["ready_at", Number.MAX_SAFE_INTEGER], ["attempts", 4294967295]] as const) {
        if (r() < 0.5) {
          const { lo, hi } = range(max);
          query.set(name, `${lo}..${hi}`);
        }
      }
      if (r() < 0.5) query.set("filter", `.x == ${JSON.stringify(word())} and (. | contains({"a": [1, 2]}))`);
      const req: ListRequest = parseListQuery(query);
      const link = jobsLink(req);
      assert.ok(link.startsWith("/jobs?"), link);
      assert.deepEqual(parseListQuery(link.slice("/jobs".length)), req, `seed ${seed} case ${i}: ${link}`);
      assert.equal(jobsLink(parseListQuery(link.slice("/jobs".length))), link);
      assert.doesNotMatch(link, /[\s#+]|%(?![0-9A-F]{2})/, "a link never carries raw space, #, + or a stray %");
    }
  });
});
