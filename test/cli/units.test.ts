// Human units: every duration and size unit, combinations, and the error messages for
// values the CLI must refuse.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseBytes, parseDurationMs } from "../../lib/cli/units.ts";

describe("parseDurationMs", () => {
  const cases: [string, number][] = [
    ["0", 0],
    ["250", 250],
    ["500ms", 500],
    ["15s", 15_000],
    ["5m", 300_000],
    ["2h", 7_200_000],
    ["7d", 604_800_000],
    ["3w", 1_814_400_000],
    ["1y", 31_557_600_000],
    ["1h30m", 5_400_000],
    ["1h 30m", 5_400_000],
    ["1d2h3m4s5ms", 93_784_005],
    ["1.5s", 1_500],
    ["1.1s", 1_100],
    ["15S", 15_000],
    ["10 seconds", 10_000],
    ["2 minutes", 120_000],
    ["1hour", 3_600_000],
    ["3days", 259_200_000],
    ["  30s  ", 30_000],
  ];
  for (const [input, expected] of cases) {
    it(`reads ${JSON.stringify(input)} as ${expected} ms`, () => {
      assert.equal(parseDurationMs(input), expected);
    });
  }

  const bad = ["", "  ", "abc", "-5s", "5x", "s5", "1h-30m", "1.2.3s", "5 s x", "99999999999999999999"];
  for (const input of bad) {
    it(`rejects ${JSON.stringify(input)} with a message naming it`, () => {
      assert.throws(() => parseDurationMs(input), (error: Error) => {
        assert.match(error.message, /^invalid duration /);
        assert.ok(error.message.includes(JSON.stringify(input)), error.message);
        return true;
      });
    });
  }

  it("names the unknown unit", () => {
    assert.throws(() => parseDurationMs("5fortnights"), /unknown unit "fortnights"/);
  });
});

describe("parseBytes", () => {
  const cases: [string, number][] = [
    ["0", 0],
    ["4096", 4096],
    ["10B", 10],
    ["512KB", 512_000],
    ["100MB", 100_000_000],
    ["2GB", 2_000_000_000],
    ["1TB", 1e12],
    ["1KiB", 1024],
    ["64MiB", 64 * 2 ** 20],
    ["1GiB", 2 ** 30],
    ["1TiB", 2 ** 40],
    ["64mib", 64 * 2 ** 20],
    ["100mb", 100_000_000],
    ["1k", 1000],
    ["1M", 1_000_000],
    ["1.5GiB", 1.5 * 2 ** 30],
    ["64 MiB", 64 * 2 ** 20],
  ];
  for (const [input, expected] of cases) {
    it(`reads ${JSON.stringify(input)} as ${expected} bytes`, () => {
      assert.equal(parseBytes(input), expected);
    });
  }

  for (const input of ["", "MB", "-1MB", "12XB", "1 2MB", "1MB2", "1e3", "9999999PB"]) {
    it(`rejects ${JSON.stringify(input)} with a message naming it`, () => {
      assert.throws(() => parseBytes(input), (error: Error) => {
        assert.match(error.message, /^invalid size /);
        assert.ok(error.message.includes(JSON.stringify(input)), error.message);
        return true;
      });
    });
  }

  it("names the unknown unit", () => {
    assert.throws(() => parseBytes("12XB"), /unknown unit "XB"/);
  });
});
