// The record codec (docs/format.md): every body round-trips, and a framed record with
// one flipped byte, or cut short at any offset, is rejected with the reason the rules give.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type JobMeta, checkFrame, decodeBlobBody, decodeErrorHead, decodeErrorRecord, decodeIds, decodeJobBody,
  encodeBlobBody, encodeErrorBody, encodeIds, encodeJobBody, encodeJobGroup, encodeJobRecord, frameRecord, sealRecord,
} from "../../lib/storage/codec.ts";
import {
  MAX_RECORD_TYPE, RECORD_BLOB, RECORD_BLOB_DELETE, RECORD_DELETE, RECORD_ERROR, RECORD_HEADER_BYTES, RECORD_JOB,
  RECORD_META, RECORD_PAD, RECORD_RESET, RECORD_TXN, SEGMENT_HEADER_BYTES,
} from "../../lib/storage/format.ts";
import { padRecord } from "../../lib/storage/log-writer.ts";
import { checkSegmentHeader, encodeSegmentHeader } from "../../lib/storage/segment-set.ts";
import { makeId } from "../helpers/storage.ts";

const minimal: JobMeta = { id: makeId(1), status: 1, priority: 0, attempts: 0, readyAtMs: 0, queue: "", type: "" };
const full: JobMeta = {
  id: "0abcdefghijklmnopqrstuvwx", status: 4, priority: 65535, attempts: 4294967295, readyAtMs: 2 ** 53 - 1,
  dequeuedAtMs: 1_700_000_000_001, failedAtMs: 1_700_000_000_002, completedAtMs: 1_700_000_000_003, purgeAtMs: 0,
  queue: "köln-队列-🚀", type: "émail.send/ünïcode",
  options: {
    retry_limit: 7, backoff: { exponent: 2.5, base_ms: 1000, jitter_ms: 250 }, retention: { completed_ms: 86_400_000 },
    unique_key: "ключ:1", unique_while: "active", batch: { key: "b-1", size: 3 },
  },
};

function roundTrip(meta: JobMeta, payload?: Buffer): { meta: JobMeta; payload: Buffer } {
  const body = encodeJobBody(meta, payload);
  const framed = frameRecord(RECORD_JOB, body);
  const frame = checkFrame(framed, 0, framed.length);
  assert.ok(frame.ok);
  const decoded = decodeJobBody(framed, frame.bodyStart, frame.end);
  return { meta: decoded.meta, payload: framed.subarray(decoded.payloadStart, frame.end) };
}

describe("job meta", () => {
  it("round-trips the minimal meta with no optional field set", () => {
    const out = roundTrip(minimal);
    assert.deepEqual(out.meta, minimal);
    assert.equal(out.payload.length, 0);
  });

  it("round-trips every optional field, unicode names, options and extreme numbers", () => {
    const payload = Buffer.from(JSON.stringify({ text: "héllo ✓", list: [1, 2, 3] }));
    const out = roundTrip(full, payload);
    assert.deepEqual(out.meta, full);
    assert.deepEqual(out.payload, payload);
  });

  it("keeps a timestamp of 0 apart from an unset one (the flags, not the value)", () => {
    const out = roundTrip({ ...minimal, dequeuedAtMs: 0 });
    assert.equal(out.meta.dequeuedAtMs, 0);
    assert.equal(roundTrip(minimal).meta.dequeuedAtMs, undefined);
  });

  it("encodes a record in place byte for byte as framing an encoded body does", () => {
    const payload = Buffer.from(JSON.stringify({ n: 1, s: "ü" }));
    for (const [type, meta, body] of [[RECORD_JOB, full, payload], [RECORD_META, full, undefined], [RECORD_JOB, minimal, Buffer.alloc(0)]] as const) {
      assert.deepEqual(encodeJobRecord(type, meta, body), frameRecord(type, encodeJobBody(meta, body)));
    }
    const ids = Buffer.from(makeId(7) + makeId(8), "latin1");
    const inPlace = Buffer.alloc(RECORD_HEADER_BYTES + ids.length);
    ids.copy(inPlace, RECORD_HEADER_BYTES);
    assert.deepEqual(sealRecord(inPlace, RECORD_DELETE), frameRecord(RECORD_DELETE, ids));
  });

  it("refuses values its fixed fields cannot hold, rather than write others", () => {
    for (const bad of [{ priority: 65536 }, { priority: -1 }, { priority: 1.5 }, { attempts: 2 ** 32 }, { attempts: -1 }, { queue: "q".repeat(65536) }, { type: "é".repeat(32768) }]) {
      assert.throws(() => encodeJobRecord(RECORD_JOB, { ...minimal, ...bad }, Buffer.alloc(0)), RangeError, JSON.stringify(bad).slice(0, 40));
    }
    assert.doesNotThrow(() => encodeJobRecord(RECORD_JOB, { ...minimal, priority: 65535, attempts: 2 ** 32 - 1, queue: "q".repeat(65535) }, Buffer.alloc(0)));
  });

  it("treats empty options as none", () => {
    assert.equal(roundTrip({ ...minimal, options: {} }).meta.options, undefined);
  });

  it("refuses a body whose name lengths overrun it", () => {
    const body = encodeJobBody(full);
    assert.throws(() => decodeJobBody(body, 0, 90), RangeError);
    assert.throws(() => decodeJobBody(body, 0, 50), RangeError);
  });
});

describe("record bodies", () => {
  it("DELETE: a list of ids", () => {
    const ids = [makeId(1), makeId(99), "zzzzzzzzzzzzzzzzzzzzzzzzz"];
    const framed = frameRecord(RECORD_DELETE, encodeIds(ids));
    const frame = checkFrame(framed, 0, framed.length);
    assert.ok(frame.ok && frame.type === RECORD_DELETE);
    assert.deepEqual(decodeIds(framed, frame.bodyStart, frame.end), ids);
    assert.throws(() => decodeIds(framed, frame.bodyStart, frame.end - 1), RangeError);
  });

  it("ERROR: id, attempt and a MessagePack error record", () => {
    const record = { message: "boom ✗", backtrace: ["a", "b"], attempt: 3, at: 1_700_000_000_123, details: null };
    const framed = frameRecord(RECORD_ERROR, encodeErrorBody(makeId(5), 3, record));
    const frame = checkFrame(framed, 0, framed.length);
    assert.ok(frame.ok && frame.type === RECORD_ERROR);
    assert.deepEqual(decodeErrorHead(framed, frame.bodyStart), { id: makeId(5), attempt: 3 });
    assert.deepEqual(decodeErrorRecord(framed, frame.bodyStart, frame.end), record);
  });

  it("BLOB and BLOB_DELETE: namespace, unicode key, value", () => {
    const value = Buffer.from([0, 1, 2, 255]);
    for (const [type, v] of [[RECORD_BLOB, value], [RECORD_BLOB_DELETE, undefined]] as const) {
      const framed = frameRecord(type, encodeBlobBody(1, "cron/日次", v));
      const frame = checkFrame(framed, 0, framed.length);
      assert.ok(frame.ok && frame.type === type);
      const blob = decodeBlobBody(framed, frame.bodyStart, frame.end);
      assert.equal(blob.namespace, 1);
      assert.equal(blob.key, "cron/日次");
      assert.deepEqual(framed.subarray(blob.valueStart, frame.end), v ?? Buffer.alloc(0));
    }
  });

  it("RESET: an empty body", () => {
    const framed = frameRecord(RECORD_RESET, Buffer.alloc(0));
    assert.equal(framed.length, RECORD_HEADER_BYTES);
    assert.deepEqual(checkFrame(framed, 0, framed.length), { ok: true, type: RECORD_RESET, bodyStart: 9, end: 9 });
  });

  it("TXN: framed records back to back, each checkable inside the outer body", () => {
    const inner = [
      frameRecord(RECORD_JOB, encodeJobBody(full, Buffer.from("{}"))),
      frameRecord(RECORD_META, encodeJobBody(minimal)),
      frameRecord(RECORD_DELETE, encodeIds([makeId(3)])),
    ];
    const framed = frameRecord(RECORD_TXN, Buffer.concat(inner));
    const outer = checkFrame(framed, 0, framed.length);
    assert.ok(outer.ok && outer.type === RECORD_TXN);
    const types: number[] = [];
    for (let pos = outer.bodyStart; pos < outer.end;) {
      const f = checkFrame(framed, pos, outer.end);
      assert.ok(f.ok);
      types.push(f.type);
      pos = f.end;
    }
    assert.deepEqual(types, [RECORD_JOB, RECORD_META, RECORD_DELETE]);
  });

  it("PAD: exactly the requested length, valid, zero body", () => {
    for (const length of [RECORD_HEADER_BYTES, 10, 4096]) {
      const pad = padRecord(length);
      assert.equal(pad.length, length);
      assert.deepEqual(checkFrame(pad, 0, length), { ok: true, type: RECORD_PAD, bodyStart: 9, end: length });
    }
  });

  it("segment header: round-trips, and any flipped byte is refused", () => {
    const header = encodeSegmentHeader(42, 1_700_000_000_000);
    assert.equal(header.length, SEGMENT_HEADER_BYTES);
    assert.equal(checkSegmentHeader(header), 42);
    for (let i = 0; i < header.length; i++) {
      const bad = Buffer.from(header);
      bad[i] ^= 0x01;
      assert.equal(checkSegmentHeader(bad), undefined, `flip at ${i}`);
    }
    assert.equal(checkSegmentHeader(Buffer.alloc(SEGMENT_HEADER_BYTES)), undefined);
  });
});

describe("framing", () => {
  const record = frameRecord(RECORD_META, encodeJobBody({ ...minimal, queue: "q", type: "t" }));
  const bodyLength = record.length - RECORD_HEADER_BYTES;

  /** The reason docs/format.md's checks give for a frame whose byte `i` became `value`. */
  function expectedReason(i: number, value: number, limit: number): string {
    if (i < 4) {
      const length = Buffer.from(record).fill(value, i, i + 1).readUInt32LE(0);
      return RECORD_HEADER_BYTES + length > limit ? "bad_length" : "bad_checksum";
    }
    if (i === 4) return value === 0 || value > MAX_RECORD_TYPE ? "bad_type" : "bad_checksum";
    return "bad_checksum";
  }

  it("accepts the record and reports where its body starts and ends", () => {
    assert.deepEqual(checkFrame(record, 0, record.length), { ok: true, type: RECORD_META, bodyStart: 9, end: record.length });
    const shifted = Buffer.concat([Buffer.alloc(7, 0xaa), record]);
    assert.deepEqual(checkFrame(shifted, 7, shifted.length), { ok: true, type: RECORD_META, bodyStart: 16, end: shifted.length });
  });

  for (const mask of [0x01, 0x80, 0xff]) {
    it(`rejects a byte flipped (xor 0x${mask.toString(16)}) at every offset, with the right reason`, () => {
      for (const limit of [record.length, record.length + 1000]) {
        const buf = Buffer.concat([record, Buffer.alloc(limit - record.length)]);
        for (let i = 0; i < record.length; i++) {
          const bad = Buffer.from(buf);
          bad[i] ^= mask;
          const check = checkFrame(bad, 0, limit);
          assert.equal(check.ok, false, `flip at ${i} accepted`);
          assert.equal(!check.ok && check.reason, expectedReason(i, bad[i], limit), `flip at ${i}, limit ${limit}`);
        }
      }
    });
  }

  it("rejects the record cut short at every offset: `short` inside the header, `bad_length` after", () => {
    for (let cut = 0; cut < record.length; cut++) {
      const check = checkFrame(record, 0, cut);
      assert.equal(check.ok, false);
      assert.equal(!check.ok && check.reason, cut < RECORD_HEADER_BYTES ? "short" : "bad_length", `cut at ${cut}`);
    }
    assert.equal(bodyLength > 0, true);
  });

  it("reads zero-filled space as `unused`, and type 0 with a length as `bad_type`", () => {
    assert.deepEqual(checkFrame(Buffer.alloc(64), 0, 64), { ok: false, reason: "unused" });
    const typeZero = Buffer.alloc(64);
    typeZero.writeUInt32LE(5, 0);
    assert.deepEqual(checkFrame(typeZero, 0, 64), { ok: false, reason: "bad_type" });
  });

  it("covers the type byte with the checksum: a record relabelled as another valid type fails", () => {
    const relabelled = Buffer.from(record);
    relabelled[4] = RECORD_JOB;
    assert.deepEqual(checkFrame(relabelled, 0, relabelled.length), { ok: false, reason: "bad_checksum" });
  });
});

describe("a bulk insert's group", () => {
  it("encodeJobGroup gives the bytes of each job framed alone, grouped in a TXN (options, unicode names, empty payload)", () => {
    const jobs = [
      { meta: { id: makeId(1), status: 1, priority: 5, attempts: 0, readyAtMs: 1_700_000_000_123, queue: "q", type: "t" }, payload: Buffer.from('{"a":1}') },
      { meta: { id: makeId(2), status: 2, priority: 65535, attempts: 3, readyAtMs: 2e12, dequeuedAtMs: 7, queue: "ünï", type: "émail", options: { retry_limit: 4, unique_key: "k" } }, payload: Buffer.alloc(0) },
      { meta: { id: makeId(3), status: 1, priority: 0, attempts: 0, readyAtMs: 0, queue: "q", type: "t", options: {} }, payload: Buffer.from("[1,2,3]") },
    ];
    const frames = jobs.map((j) => encodeJobRecord(RECORD_JOB, j.meta, j.payload));
    const grouped = frameRecord(RECORD_TXN, Buffer.concat(frames));
    const starts = new Uint32Array(jobs.length + 1);
    const txn = encodeJobGroup(jobs, starts);
    assert.deepEqual(txn, grouped);
    let at = RECORD_HEADER_BYTES;
    frames.forEach((f, i) => {
      assert.equal(starts[i], at, `job ${i} starts where its frame does`);
      at += f.length;
    });
    assert.equal(starts[jobs.length], txn.length);
  });
});
