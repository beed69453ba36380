// FirstTouch (lib/storage/first-touch.ts) writes zeros into a job table while a checkpoint
// load fills it. Its one rule, checked here: once upTo(k) has resolved, no zero ever
// lands on slots below k, and once stop() has resolved, none lands anywhere. The load is
// simulated as a writer that fills slots in order right after each upTo.

import assert from "node:assert/strict";
import fs from "node:fs";
import { describe, it } from "node:test";
import { FirstTouch } from "../../lib/storage/first-touch.ts";

const SLOTS = 300_000; // several bands of 65,536 slots

/**
 * Zeros that land 64 turns of the loop after they were asked for: the loader below writes
 * a chunk a turn, two bands' worth in that time, so a loader let through too early is
 * always caught writing where zeros are still to come.
 */
const lateZeros = async (bytes: Uint8Array, offset: number, length: number): Promise<void> => {
  for (let turn = 0; turn < 64; turn++) await new Promise<void>((resolve) => setImmediate(resolve));
  bytes.fill(0, offset, offset + length);
};

function columns(zero?: typeof lateZeros): { narrow: Uint8Array; wide: Float64Array; touch: FirstTouch } {
  const buffer = new ArrayBuffer(SLOTS * 9);
  const wide = new Float64Array(buffer, 0, SLOTS);
  const narrow = new Uint8Array(buffer, SLOTS * 8, SLOTS);
  const touch = new FirstTouch([
    { bytes: new Uint8Array(buffer, 0, SLOTS * 8), width: 8 },
    { bytes: narrow, width: 1 },
  ], SLOTS, zero);
  return { narrow, wide, touch };
}

describe("FirstTouch", () => {
  for (const [how, zero] of [["/dev/zero", undefined], ["zeros that land late", lateZeros]] as const) {
    it(`never writes a zero below a slot the load was let through to, nor after stop() (${how})`, async () => {
      await loadWhileTouching(columns(zero));
    });
  }

  async function loadWhileTouching({ narrow, wide, touch }: ReturnType<typeof columns>): Promise<void> {
    // Chunks of a checkpoint: 2,048 slots each, written right after upTo resolves, with a
    // turn of the loop between chunks as the load's reads give (so the toucher runs too).
    for (let base = 0; base < SLOTS; base += 2048) {
      const end = Math.min(SLOTS, base + 2048);
      await new Promise<void>((resolve) => setImmediate(resolve));
      await touch.upTo(end);
      for (let s = base; s < end; s++) {
        wide[s] = s + 1;
        narrow[s] = (s % 255) + 1;
      }
    }
    await touch.stop();
    for (let s = 0; s < SLOTS; s++) {
      if (wide[s] !== s + 1 || narrow[s] !== (s % 255) + 1) assert.fail(`slot ${s} was zeroed after it was written`);
    }
  }

  it("stopped half-way (the table grew, or the load failed), it leaves no read behind", async () => {
    const { narrow, touch } = columns();
    await touch.upTo(70_000);
    await touch.stop();
    narrow.fill(7);
    // stop() resolved after the reads in flight landed: nothing can zero these now, and a
    // later upTo() does not wait for bands that will never come. (A few round trips
    // through the thread pool, where a read still in flight would land first.)
    await touch.upTo(SLOTS);
    for (let i = 0; i < 8; i++) await fs.promises.readFile("/dev/null");
    assert.ok(narrow.every((b) => b === 7));
  });
});
