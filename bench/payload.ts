// Payload path benchmark: request body → stored payload bytes (JSON and MessagePack, one
// W1 enqueue and a 1000-job bulk), and stored text → MessagePack (a 2000-job page, take
// frames), with JSON encodes as controls. Deterministic inputs; see the end for how runs
// are repeated and compared.
// Run: node --import tsx bench/payload.ts [--baseline DIR]
//   DIR: an older tree, e.g. `git archive <rev> lib bench | tar -x -C DIR && ln -s $PWD/node_modules DIR/`;
//   this file is copied into DIR/bench and run there first, for a before/after table.

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as codec from "../lib/http/codec.ts";
import { wireJob } from "../lib/http/job-wire.ts";
import { frameJob } from "../lib/http/stream.ts";
import { parseEnqueue } from "../lib/queue/enqueue.ts";
import type { JobView } from "../lib/queue/types.ts";

// Older trees have no PAYLOAD_PATHS: decodeBody then ignores the third argument.
const paths = (codec as { PAYLOAD_PATHS?: { enqueue: unknown; bulkEnqueue: unknown } }).PAYLOAD_PATHS;
const decode = codec.decodeBody as (bytes: Uint8Array, format: "json" | "msgpack", payloads?: unknown) => unknown;

const PAD = "x".repeat(100);
/** The W1 payload (bench/_lib.ts): the typical case the JSON-in path must not slow down. */
const w1Payload = (n: number) => `{"n":${n},"pad":"${PAD}"}`;
/** A payload with more numbers: a float, a ms timestamp, nested values. */
const mixedPayload = (n: number) =>
  `{"user_id":${100_000 + n},"template":"welcome","vars":{"name":"Ada Lovelace","tags":["a","b"]},"score":0.75,"sent_at":${1_735_689_600_000 + n}}`;
const enqueueText = (payload: string) => `{"type":"bench","queue":"w1","payload":${payload}}`;

const jsonW1 = Buffer.from(enqueueText(w1Payload(123)));
const jsonBulk = Buffer.from(`{"jobs":[${Array.from({ length: 1000 }, (_, i) => enqueueText(w1Payload(i))).join(",")}]}`);
const jsonBulkMixed = Buffer.from(`{"jobs":[${Array.from({ length: 1000 }, (_, i) => enqueueText(mixedPayload(i))).join(",")}]}`);
// MessagePack bodies are built with the tree's own encoder from parsed values.
const mpW1 = Buffer.from(codec.encodeMsgpack(JSON.parse(jsonW1.toString())));
const mpBulk = Buffer.from(codec.encodeMsgpack(JSON.parse(jsonBulk.toString())));
const mpBulkMixed = Buffer.from(codec.encodeMsgpack(JSON.parse(jsonBulkMixed.toString())));

function store(body: Uint8Array, format: "json" | "msgpack"): number {
  const value = decode(body, format, paths?.enqueue);
  return Buffer.from(parseEnqueue(value).payloadJson).length;
}
function storeBulk(body: Uint8Array, format: "json" | "msgpack"): number {
  const value = decode(body, format, paths?.bulkEnqueue) as { jobs: unknown[] };
  let bytes = 0;
  for (const job of value.jobs) bytes += Buffer.from(parseEnqueue(job).payloadJson).length;
  return bytes;
}

const view = (i: number): JobView => ({
  id: `03fr1jkpcsipbsckqj0y6p${String(i).padStart(3, "0")}`, type: "send_email", queue: "emails", priority: 32768,
  status: "in_flight", ready_at: 1_735_689_600_000 + i, attempts: 0, dequeued_at: 1_735_689_601_234 + i,
});
const pageOf = (payload: (n: number) => string) =>
  ({ jobs: Array.from({ length: 2000 }, (_, i) => wireJob(view(i), payload(i))), pages: { self: "/jobs", next: null, prev: null } });
const pageW1 = pageOf(w1Payload);
const pageMixed = pageOf(mixedPayload);

function measure(fn: () => unknown, opsPerRound: number): number {
  for (let i = 0; i < opsPerRound / 2; i++) fn(); // warm up
  const rounds: number[] = [];
  for (let r = 0; r < 7; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < opsPerRound; i++) fn();
    rounds.push(Number(process.hrtime.bigint() - t0) / 1e3 / opsPerRound);
  }
  return rounds.sort((a, b) => a - b)[3]; // µs per op
}

const CASES: [string, () => unknown, number][] = [
  ["enqueue W1 body → payload bytes, JSON", () => store(jsonW1, "json"), 20_000],
  ["enqueue W1 body → payload bytes, MessagePack", () => store(mpW1, "msgpack"), 20_000],
  ["bulk 1000 (W1 payloads) → payload bytes, JSON", () => storeBulk(jsonBulk, "json"), 20],
  ["bulk 1000 (W1 payloads) → payload bytes, MessagePack", () => storeBulk(mpBulk, "msgpack"), 20],
  ["bulk 1000 (mixed payloads) → payload bytes, JSON", () => storeBulk(jsonBulkMixed, "json"), 20],
  ["bulk 1000 (mixed payloads) → payload bytes, MessagePack", () => storeBulk(mpBulkMixed, "msgpack"), 20],
  ["page 2000 (W1 payloads) encode, MessagePack", () => codec.encodeMsgpack(pageW1), 10],
  ["page 2000 (mixed payloads) encode, MessagePack", () => codec.encodeMsgpack(pageMixed), 10],
  ["page 2000 (mixed payloads) encode, JSON (control)", () => codec.encodeJson(pageMixed), 10],
  ["take frame (W1 payload), MessagePack stream", () => frameJob(pageW1.jobs[7], "msgpack"), 20_000],
  ["take frame (mixed payload), MessagePack stream", () => frameJob(pageMixed.jobs[7], "msgpack"), 20_000],
  ["take frame (mixed payload), NDJSON (control)", () => frameJob(pageMixed.jobs[7], "ndjson"), 20_000],
];

const args = process.argv.slice(2);
if (args[0] === "--json") {
  process.stdout.write(JSON.stringify(CASES.map(([name, fn, ops]) => [name, measure(fn, ops)])));
} else {
  // Each tree runs in a child process, alternately, REPEATS times; a case keeps its best
  // median. Why: on a shared machine a neighbour's burst inflates whole runs, and taking the
  // minimum over interleaved runs compares both trees at their least-disturbed moments.
  const REPEATS = 5;
  const baselineDir = args[0] === "--baseline" ? path.resolve(args[1]) : undefined;
  const self = fileURLToPath(import.meta.url);
  const run = (file: string, cwd: string) =>
    new Map(JSON.parse(execFileSync(process.execPath, ["--import", "tsx", file, "--json"], { cwd, encoding: "utf8" })) as [string, number][]);
  const best = (runs: Map<string, number>[]) => new Map(CASES.map(([name]) => [name, Math.min(...runs.map((r) => r.get(name) ?? Infinity))]));
  const beforeRuns: Map<string, number>[] = [];
  const afterRuns: Map<string, number>[] = [];
  if (baselineDir) fs.copyFileSync(self, path.join(baselineDir, "bench", "payload.ts"));
  for (let i = 0; i < REPEATS; i++) {
    if (baselineDir) beforeRuns.push(run(path.join(baselineDir, "bench", "payload.ts"), baselineDir));
    afterRuns.push(run(self, process.cwd()));
  }
  const before = best(beforeRuns);
  const after = best(afterRuns);
  console.log(`# bench/payload.ts — node ${process.version}, ${os.cpus()[0]?.model.trim()} × ${os.cpus().length}, load ${os.loadavg()[0].toFixed(1)}`);
  console.log(`# µs/op: best of ${REPEATS} interleaved runs, each the median of 7 rounds`);
  const fmt = (us: number) => (us >= 100 ? us.toFixed(0) : us.toFixed(2)).padStart(10);
  console.log(`${"case".padEnd(56)}${baselineDir ? "    before" : ""}     after${baselineDir ? "   change" : ""}`);
  for (const [name] of CASES) {
    const now = after.get(name)!;
    const was = baselineDir ? before.get(name)! : undefined;
    const change = was === undefined ? "" : `${(((now - was) / was) * 100).toFixed(0).padStart(7)}%`;
    console.log(`${name.padEnd(56)}${was === undefined ? "" : fmt(was)}${fmt(now)}${change}`);
  }
}
