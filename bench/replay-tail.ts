// The replay of a log tail after a checkpoint, alone: load the kept dir's checkpoint
// (bench/restart-dir.ts builds it) into a table, then time the replay visitor over
//   - DELETE records of the N oldest ids, 250 a record (what W3's bulk acks write), or
//   - JOB records of N new jobs (what a bulk load leaves after the checkpoint's P).
// No I/O and no other thread in the timed part, so two worktrees compare in turns on
// this noisy VM where whole restarts differ by seconds from run to run:
//   node --import tsx bench/replay-tail.ts [deletes|jobs] [n=300000] [jobs in the dir=10000000]

import { encodeJobRecord } from "../lib/storage/codec.ts";
import { loadCheckpoint } from "../lib/storage/checkpoint.ts";
import { RECORD_DELETE, RECORD_HEADER_BYTES, RECORD_JOB, STATUS_READY } from "../lib/storage/format.ts";
import { nodeFs } from "../lib/storage/fs-port.ts";
import { formatId } from "../lib/storage/id-index.ts";
import { JobTable } from "../lib/storage/job-table.ts";
import { type BlobEntry, createReplayVisitor } from "../lib/storage/replay.ts";
import { keptDataDir } from "./_lib.ts";

const kind = process.argv[2] ?? "deletes";
const n = Number(process.argv[3] ?? 300_000);
process.env.ZIZQ_SPAWN_BUILT = "1"; // a dir built on first use is built as restart-dir.ts builds it
const dir = await keptDataDir("restart", Number(process.argv[4] ?? 10_000_000));

const table = new JobTable();
const blobs = new Map<string, BlobEntry>();
const loadCpu = process.cpuUsage();
const loadStarted = performance.now();
const loaded = await loadCheckpoint(nodeFs, dir, table, blobs);
if (typeof loaded === "string") throw new Error(`no usable checkpoint in ${dir}: ${loaded}`);
const loadUsed = process.cpuUsage(loadCpu);
const loadNote = `checkpoint loaded in ${(performance.now() - loadStarted).toFixed(0)} ms, CPU ${((loadUsed.user + loadUsed.system) / 1000).toFixed(0)} ms; `;

// Records as (type, body start, end) in one buffer, built before the clock starts.
const records: { type: number; start: number; end: number }[] = [];
let buf: Buffer;
if (kind === "deletes") {
  const ids = [...table.orderedSlots()].slice(0, n).map((slot) => table.idOf(slot));
  buf = Buffer.from(ids.join(""), "latin1");
  for (let at = 0; at < buf.length; at += 250 * 25) records.push({ type: RECORD_DELETE, start: at, end: Math.min(buf.length, at + 250 * 25) });
} else {
  const words = new Uint32Array(4);
  let seed = 12345;
  const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
  const frames: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    words.set([0x01000000 + (i >>> 20), next(), next(), next()]);
    const meta = { id: formatId(words, 0), status: STATUS_READY, priority: 32768, attempts: 0, readyAtMs: 1, queue: "Q", type: "t" };
    frames.push(encodeJobRecord(RECORD_JOB, meta, Buffer.from(`{"n":${i}}`)));
  }
  buf = Buffer.concat(frames);
  let at = 0;
  for (const f of frames) {
    records.push({ type: RECORD_JOB, start: at + RECORD_HEADER_BYTES, end: at + f.length });
    at += f.length;
  }
}

const visit = createReplayVisitor(table, blobs);
const before = table.size;
const cpu = process.cpuUsage();
const started = performance.now();
for (const r of records) visit(r.type, buf, r.start, r.end, 1, r.start - RECORD_HEADER_BYTES);
const ms = performance.now() - started;
const used = process.cpuUsage(cpu);
console.log(`${loadNote}${kind}: ${n} (${(buf.length / 1e6).toFixed(1)} MB of bodies) replayed in ${ms.toFixed(0)} ms, CPU ${((used.user + used.system) / 1000).toFixed(0)} ms`
  + ` (${((ms * 1000) / n).toFixed(2)} µs each); table ${before} → ${table.size}`);
