// Part "fsync-eio": fdatasync fails with EIO (through the fs port, test/helpers/faulty-fs.ts,
// so this part runs the server in-process: the same store, queue and HTTP app `zizq
// serve` wires, over a real socket). In fsync mode, under concurrent enqueues and acks,
// every segment fsync starts failing; then the fault clears. Counted: writes answered
// 2xx while fsync was failing (must be 0), acknowledged enqueues missing after a reopen
// (must be 0), and failed enqueues that came back anyway.

import { toNodeHandler } from "h3/node";
import { createApp } from "../../lib/http/app.ts";
import { listen } from "../../lib/http/listen.ts";
import { createQueue } from "../../lib/queue/queue.ts";
import { openStore } from "../../lib/storage/store.ts";
import { FaultyFs } from "../../test/helpers/faulty-fs.ts";
import { prng } from "../../test/helpers/random.ts";
import { tmpDir } from "../../test/helpers/tmp.ts";
import { type Json, openTake, req } from "../../test/http/_client.ts";

export interface FsyncEioOptions {
  seed: number;
  /** Acknowledged enqueues before the fault, during it (attempted), after it. @default 2000 */
  requestsPerPhase?: number;
  log?: (line: string) => void;
}

export interface FsyncEioResult {
  before: { enqueuesAcked: number; acksAcked: number };
  during: { attempted: number; acknowledged: number; statuses: Record<string, number> };
  after: { enqueuesAcked: number; firstStatus?: number };
  lostAfterReopen: number;
  failedButPresent: number;
  inFlightAtArm: number;
}

export async function runFsyncEio(options: FsyncEioOptions): Promise<FsyncEioResult> {
  const random = prng(options.seed);
  const perPhase = options.requestsPerPhase ?? 2000;
  const dir = tmpDir("zizq-rel-eio-");
  const faulty = new FaultyFs();
  const store = await openStore({ dir, segmentBytes: 1024 * 1024, fs: faulty, syncDirs: true });
  const queue = createQueue(store, { enqueueSync: true, writeSync: true, reaperIntervalMs: 0, globalInFlightLimit: 0 });
  const app = createApp(queue, { logError: () => {} });
  const listener = await listen(toNodeHandler(app.app), { host: "127.0.0.1", port: 0 });
  const url = listener.url;
  const result: FsyncEioResult = {
    before: { enqueuesAcked: 0, acksAcked: 0 }, during: { attempted: 0, acknowledged: 0, statuses: {} },
    after: { enqueuesAcked: 0 }, lostAfterReopen: 0, failedButPresent: 0, inFlightAtArm: 0,
  };
  /** Payload n → outcome. */
  const acked = new Map<number, string>();
  const failed = new Set<number>();
  let n = 0;
  let phase: "before" | "during" | "after" = "before";
  let inFlight = 0;

  const enqueueOne = async (): Promise<void> => {
    const mine = n++;
    const startedIn = phase;
    inFlight++;
    const r = await req(url, "POST", "/jobs", { type: "eio", queue: "q", payload: { n: mine, r: random() } }).catch(() => undefined);
    inFlight--;
    const status = r?.status ?? 0;
    if (startedIn === "during" && phase === "during") {
      result.during.attempted++;
      result.during.statuses[status] = (result.during.statuses[status] ?? 0) + 1;
      if (status < 300) result.during.acknowledged++;
    }
    if (status === 201) acked.set(mine, r!.body!.id as string);
    else failed.add(mine);
    if (status === 201 && startedIn === "before") result.before.enqueuesAcked++;
    if (status === 201 && startedIn === "after") {
      result.after.enqueuesAcked++;
    }
    if (startedIn === "after" && result.after.firstStatus === undefined) result.after.firstStatus = status;
  };
  const load = async (until: () => boolean) => {
    await Promise.all(Array.from({ length: 8 }, async () => { while (!until()) await enqueueOne(); }));
  };

  // Before: enqueues, and acks through a stream.
  const stream = await openTake(url, "queue=q&prefetch=50");
  await load(() => acked.size >= perPhase);
  const completed = new Set<string>();
  for (const j of (await stream.waitJobs(50, 60_000)).slice(0, 50) as Json[]) {
    if ((await req(url, "POST", `/jobs/${j.id}/success`)).status === 204) {
      result.before.acksAcked++;
      completed.add(j.id as string);
    }
  }

  // During: every fsync of a segment fails with EIO.
  const during = load(() => result.during.attempted >= perPhase);
  result.inFlightAtArm = inFlight;
  faulty.failSync({ kind: "eio", persistent: true });
  phase = "during";
  await during;
  // Acks while fsync fails must fail too (nothing of theirs is durable).
  const held = stream.jobs.filter((j) => !completed.has(j.id as string)).slice(0, 50);
  for (const j of held as Json[]) {
    const status = (await req(url, "POST", `/jobs/${j.id}/success`)).status;
    result.during.statuses[`ack ${status}`] = (result.during.statuses[`ack ${status}`] ?? 0) + 1;
    if (status < 300) result.during.acknowledged++;
  }
  faulty.clear();
  phase = "after";
  const target = result.after.enqueuesAcked + 200;
  await load(() => result.after.enqueuesAcked >= target || result.after.firstStatus !== undefined && failed.size > 10 * perPhase);
  await stream.close();
  app.closeStreams();
  await listener.close(500);
  queue.stop();
  await store.close();

  const reopened = await openStore({ dir });
  try {
    const byN = new Map<number, string>();
    for (const slot of reopened.table.slotById.values()) {
      byN.set((JSON.parse(reopened.payload(slot).toString()) as { n: number }).n, reopened.table.meta(slot).id);
    }
    for (const [k, id] of acked) if (byN.get(k) !== id && !completed.has(id)) result.lostAfterReopen++;
    for (const k of failed) if (byN.has(k)) result.failedButPresent++;
  } finally {
    await reopened.close();
  }
  options.log?.(`fsync-eio: ${JSON.stringify(result)}`);
  return result;
}
