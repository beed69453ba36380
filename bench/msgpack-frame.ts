// The cost of one MessagePack take frame, written straight from the job (WireJob.msgpackInto)
// against msgpackr packing its object form, and the JSON frame for reference, in-process
// and in turns (the per-job part of a
// MessagePack take stream that the direct writer replaced; docs/benchmarks.md):
//
//   node --import tsx bench/msgpack-frame.ts [frames=200000] [rounds=5]

import { encodeJson, encodeMsgpack } from "../lib/http/codec.ts";
import { wireJob } from "../lib/http/job-wire.ts";
import type { JobView } from "../lib/queue/types.ts";

const frames = Number(process.argv[2] ?? 200_000);
const rounds = Number(process.argv[3] ?? 5);
const view: JobView = {
  id: "0a1b2c3d4e5f6g7h8i9j0k1l2", type: "bench", queue: "w3", priority: 32768, status: "in_flight",
  ready_at: 1_765_000_000_000, attempts: 0, dequeued_at: 1_765_000_000_123,
};
const payload = `{"n":12345,"pad":"${"x".repeat(100)}"}`;

type Path = "direct" | "packed" | "json";

function run(path: Path): number {
  const started = process.cpuUsage();
  let bytes = 0;
  for (let i = 0; i < frames; i++) {
    const job = wireJob(view, payload);
    // The JSON frame as a take stream makes it (stream.ts textFrame), for reference.
    if (path === "json") bytes += Buffer.from(encodeJson(job) + "\n").length;
    else bytes += encodeMsgpack(path === "direct" ? job : job.toJSON(), true).length;
  }
  const used = process.cpuUsage(started);
  if (bytes === 0) throw new Error("nothing encoded");
  return ((used.user + used.system) * 1000) / frames; // ns a frame
}

for (const path of ["direct", "packed", "json"] as const) run(path); // compiled before the count
for (let r = 0; r < rounds; r++) {
  const ns = (path: Path) => run(path).toFixed(0);
  console.log(`round ${r + 1}: MessagePack direct ${ns("direct")} ns a frame, object form packed ${ns("packed")} ns; JSON ${ns("json")} ns`);
}
