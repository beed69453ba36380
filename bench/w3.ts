// W3: take and ack 100,000 pre-enqueued jobs (--quick 30,000) with a no-op worker: two
// take streams with prefetch 500 each (the default global in-flight cap is 1024) and bulk
// acks of up to 250 ids, at most four ack requests in flight. NDJSON + JSON acks, or the
// msgpack stream + msgpack acks. The clock runs from opening the streams to the last ack;
// p50/p99 are per ack request.

import http from "node:http";
import { Packr, Unpackr } from "msgpackr";
import { type BenchOptions, type Row, expectStatus, percentile, preload, request, startZizq, withCpu } from "./_lib.ts";

const STREAMS = 2;
const PREFETCH = 500;
const ACK_BATCH = 250;
const STALL_MS = 15_000;

export type W3Format = "json" | "msgpack";
const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

/** Splits a take stream into job objects (jobs only; heartbeats are skipped). */
function frameReader(format: W3Format, onJob: (job: { id: string }) => void): (chunk: Buffer) => void {
  if (format === "json") {
    let rest = "";
    return (chunk) => {
      const lines = (rest + chunk.toString("utf8")).split("\n");
      rest = lines.pop()!;
      for (const line of lines) if (line) onJob(JSON.parse(line));
    };
  }
  let buf: Buffer = Buffer.alloc(0);
  return (chunk) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    let at = 0;
    while (buf.length - at >= 4) {
      const len = buf.readUInt32BE(at);
      if (buf.length - at - 4 < len) break;
      if (len > 0) onJob(unpackr.unpack(buf.subarray(at + 4, at + 4 + len)) as { id: string });
      at += 4 + len;
    }
    buf = buf.subarray(at);
  };
}

export interface TakeAndAck {
  /** From opening the streams to the last ack. */
  seconds: number;
  /** Per ack request, ms. */
  latencies: number[];
}

/** Take and ack `total` jobs from the server at `url` (STREAMS streams, bulk acks); closes its streams after. */
export async function takeAndAck(url: string, total: number, format: W3Format, takeQuery = ""): Promise<TakeAndAck> {
  const ackAgent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const takeAgent = new http.Agent({ keepAlive: false });
  const latencies: number[] = [];
  const takes: http.ClientRequest[] = [];
  let acked = 0;
  let received = 0;
  let pending: string[] = [];
  let flushQueued = false;
  const ackHeaders = format === "json" ? { "content-type": "application/json" } : { "content-type": "application/msgpack" };
  const encodeAck = (ids: string[]) => (format === "json" ? JSON.stringify({ ids }) : packr.pack({ ids }));
  try {
    const seconds = await new Promise<number>((resolve, reject) => {
      const started = performance.now();
      let lastProgress = Date.now();
      const watchdog = setInterval(() => {
        if (Date.now() - lastProgress > STALL_MS) reject(new Error(`W3 stalled: ${received} received, ${acked} acked`));
      }, 1000);
      const flush = () => {
        flushQueued = false;
        while (pending.length > 0) {
          const ids = pending.splice(0, ACK_BATCH);
          request(ackAgent, `${url}/jobs/success`, "POST", encodeAck(ids), ackHeaders).then((r) => {
            expectStatus(r, 204);
            latencies.push(r.ms);
            acked += ids.length;
            lastProgress = Date.now();
            if (acked >= total) {
              clearInterval(watchdog);
              resolve((performance.now() - started) / 1000);
            }
          }).catch(reject);
        }
      };
      const onJob = (job: { id: string }) => {
        received++;
        if (received > total) return; // the rest go back when the streams close
        pending.push(job.id);
        if (pending.length >= ACK_BATCH) flush();
        else if (!flushQueued) {
          flushQueued = true;
          setImmediate(flush);
        }
      };
      const accept = format === "json" ? "application/x-ndjson" : "application/vnd.zizq.msgpack-stream";
      for (let i = 0; i < STREAMS; i++) {
        const req = http.get(`${url}/jobs/take?prefetch=${PREFETCH}${takeQuery}`, { agent: takeAgent, headers: { accept } }, (res) => {
          if (res.statusCode !== 200) reject(new Error(`take: HTTP ${res.statusCode}`));
          res.on("data", frameReader(format, onJob));
          res.on("error", () => {});
        });
        req.on("error", () => {});
        takes.push(req);
      }
    });
    return { seconds, latencies };
  } finally {
    for (const t of takes) t.destroy();
    ackAgent.destroy();
  }
}

/**
 * A W3 run with something added: `setup` runs before the preload, `fields` go on every job,
 * `takeQuery` is appended to the take streams' query (e.g. `&lease=30s`, bench/controls.ts),
 * and a `watcher` watches the admin listener during the run (bench/dashboard.ts: an open
 * dashboard, or nothing as its baseline); with a watcher the server runs its admin listener.
 */
export interface W3Variant {
  name: string;
  setup?(url: string): Promise<void>;
  fields?: string;
  takeQuery?: string;
  watcher?: W3Watcher;
}

export interface W3Watcher {
  label: string;
  /** Start watching; `serverPid` lets a watcher tell its own CPU from the server's. Returns close(). */
  open(adminUrl: string, serverPid: number): Promise<() => Promise<void>>;
}

export async function w3(opts: BenchOptions, mode: "buffered" | "fsync", format: W3Format, variant?: W3Variant): Promise<Row> {
  const total = opts.quick ? 30_000 : 100_000;
  const watcher = variant?.watcher;
  const zizq = await startZizq(`w3-${mode}-${format}${variant ? `-${variant.name}` : ""}`, opts, ["--default-commit-mode", mode], {}, watcher !== undefined);
  await variant?.setup?.(zizq.url);
  await preload(zizq.url, "w3", total, 1000, 4, 0, variant?.fields ?? "");
  const closeWatcher = watcher ? await watcher.open(zizq.adminUrl!, zizq.pid) : undefined;
  let run: TakeAndAck;
  let cpuNote: string;
  try {
    ({ value: run, note: cpuNote } = await withCpu(zizq.pid, total, () => takeAndAck(zizq.url, total, format, variant?.takeQuery)));
  } finally {
    await closeWatcher?.();
  }
  const { seconds, latencies } = run;
  const res = await zizq.stop();
  const target = mode === "fsync" ? 30_000 : 80_000;
  const opsPerSec = total / seconds;
  return {
    workload: `W3 take+ack${format === "msgpack" ? " msgpack" : ""}${variant ? ` ${variant.name}` : ""}`, mode, opsPerSec,
    p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), ...res,
    target: format === "msgpack" ? "≥ W3 JSON" : `≥ ${target}`,
    pass: format === "msgpack" ? undefined : opsPerSec >= target, // run.ts compares msgpack to JSON
    measured: `${total} jobs; ${cpuNote}`,
  };
}
