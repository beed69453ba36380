// Body codec benchmark: msgpackr vs @msgpack/msgpack on job-shaped values, plus our JSON
// encoder vs JSON.stringify. Each library runs with the work it needs to be correct for us
// (RawJson payloads, uint64 timestamps, input validation), so the numbers are comparable.
// Run: node --import tsx bench/msgpack.ts   (deterministic inputs; median of 5 rounds)

import os from "node:os";
import { Decoder, Encoder } from "@msgpack/msgpack";
import { isNativeAccelerationEnabled } from "msgpackr";
import { checkMsgpack } from "../lib/http/_msgpack-walk.ts";
import { decodeBody, encodeJson, encodeMsgpack, RawJson } from "../lib/http/codec.ts";
import { frameJob } from "../lib/http/stream.ts";

const payload = (i: number) => ({
  user_id: 100_000 + i,
  template: "welcome",
  vars: { name: "Ada Lovelace", plan: "pro", tags: ["a", "b", "c"] },
  score: 0.75,
  sent_at: 1_735_689_600_000 + i,
});
// A take-stream / list job: API.md §2.1 field order, payload kept as stored JSON text.
const job = (i: number) => ({
  id: `03fr1jkpcsipbsckqj0y6p${String(i).padStart(3, "0")}`,
  type: "send_email",
  queue: "emails",
  priority: 32768,
  status: "in_flight",
  payload: new RawJson(JSON.stringify(payload(i))),
  ready_at: 1_735_689_600_000 + i,
  attempts: 0,
  backoff: { exponent: 2.5, base_ms: 1000, jitter_ms: 250 },
  dequeued_at: 1_735_689_601_234 + i,
});
const parsed = (j: ReturnType<typeof job>) => ({ ...j, payload: JSON.parse(j.payload.text) });
const oneJob = job(1);
const page = { jobs: Array.from({ length: 2000 }, (_, i) => job(i)), pages: { self: "/jobs", next: null, prev: null } };
const pageParsed = { ...page, jobs: page.jobs.map(parsed) };
// Request bodies: an enqueue, and a bulk enqueue of 2000.
const enqueue = { type: "send_email", queue: "emails", payload: payload(1), priority: 10, ready_at: 1_735_689_600_000 };
const bulk = { jobs: Array.from({ length: 2000 }, (_, i) => ({ ...enqueue, payload: payload(i) })) };

// @msgpack/msgpack path: RawJson must be resolved first (its extension hook can only emit ext
// types); it already writes safe integers > 2^32 as uint64.
const mmEncoder = new Encoder({ ignoreUndefined: true });
const mmDecoder = new Decoder();
function resolveRaw(value: unknown): unknown {
  if (value instanceof RawJson) return JSON.parse(value.text);
  if (Array.isArray(value)) return value.map(resolveRaw);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key in value) out[key] = resolveRaw((value as Record<string, unknown>)[key]);
    return out;
  }
  return value;
}
const mmEncode = (v: unknown) => mmEncoder.encode(resolveRaw(v));
const mmFrame = (v: unknown) => {
  const body = mmEncode(v);
  const frame = new Uint8Array(4 + body.length);
  new DataView(frame.buffer).setUint32(0, body.length);
  frame.set(body, 4);
  return frame;
};
const mmDecode = (bytes: Uint8Array) => (checkMsgpack(bytes), mmDecoder.decode(bytes));

function measure(fn: () => unknown, opsPerRound: number): number {
  for (let i = 0; i < opsPerRound / 5; i++) fn(); // warm up
  const rounds: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < opsPerRound; i++) fn();
    rounds.push(Number(process.hrtime.bigint() - t0) / 1e3 / opsPerRound);
  }
  return rounds.sort((a, b) => a - b)[2]; // µs per op
}

const enqueueBytes = encodeMsgpack(enqueue).slice();
const bulkBytes = encodeMsgpack(bulk).slice();
const enqueueJson = Buffer.from(JSON.stringify(enqueue));
const bulkJson = Buffer.from(JSON.stringify(bulk));

type Row = [string, string, () => unknown, string, () => unknown, number];
const rows: Row[] = [
  ["msgpack encode job", "msgpackr", () => encodeMsgpack(oneJob), "@msgpack", () => mmEncode(oneJob), 100_000],
  ["msgpack encode page 2000", "msgpackr", () => encodeMsgpack(page), "@msgpack", () => mmEncode(page), 100],
  ["msgpack stream frame", "msgpackr", () => frameJob(oneJob, "msgpack"), "@msgpack", () => mmFrame(oneJob), 100_000],
  ["msgpack decode enqueue", "msgpackr", () => decodeBody(enqueueBytes, "msgpack"), "@msgpack", () => mmDecode(enqueueBytes), 100_000],
  ["msgpack decode bulk 2000", "msgpackr", () => decodeBody(bulkBytes, "msgpack"), "@msgpack", () => mmDecode(bulkBytes), 100],
  ["json encode job", "encodeJson", () => encodeJson(oneJob), "stringify*", () => JSON.stringify(parsed(oneJob)), 100_000],
  ["json encode page 2000", "encodeJson", () => encodeJson(page), "stringify*", () => JSON.stringify(pageParsed), 100],
  ["json stream frame", "frameJob", () => frameJob(oneJob, "ndjson"), "stringify*", () => JSON.stringify(parsed(oneJob)) + "\n", 100_000],
  ["json decode enqueue", "decodeBody", () => decodeBody(enqueueJson, "json"), "JSON.parse", () => JSON.parse(enqueueJson.toString()), 100_000],
  ["json decode bulk 2000", "decodeBody", () => decodeBody(bulkJson, "json"), "JSON.parse", () => JSON.parse(bulkJson.toString()), 100],
];

console.log(`node ${process.version}, ${os.cpus()[0]?.model ?? "?"}, ${os.cpus().length} cpus, msgpackr native: ${isNativeAccelerationEnabled}`);
console.log("µs/op, median of 5 rounds (lower is better); ratio = B/A (>1: A faster)");
console.log("stringify* = JSON.stringify of the same value with payloads already parsed (parse cost not counted)\n");
console.log(`${"case".padEnd(26)} ${"A".padEnd(11)} ${"µs".padStart(9)}   ${"B".padEnd(11)} ${"µs".padStart(9)}   ratio`);
for (const [name, aName, a, bName, b, ops] of rows) {
  const ta = measure(a, ops);
  const tb = measure(b, ops);
  console.log(
    `${name.padEnd(26)} ${aName.padEnd(11)} ${ta.toFixed(2).padStart(9)}   ${bName.padEnd(11)} ${tb.toFixed(2).padStart(9)}   ${(tb / ta).toFixed(2)}`,
  );
}
