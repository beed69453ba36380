// Part "disk-full": a real full disk. The server runs on a small tmpfs (root can mount
// one here; see canMountTmpfs), another file fills the rest, enqueues are pushed until
// they get 507, then acks, nacks and deletes must keep working (their records were
// reserved in advance), and once the filler is removed an enqueue must succeed within
// 5 s. Without mount rights the part reports itself as skipped: the same rules are
// pinned through the fs port by test/storage/faults.test.ts ("a full disk").

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { type Json, openTake, req } from "../../test/http/_client.ts";
import { tmpDir } from "../../test/helpers/tmp.ts";
import { round, start } from "./_harness.ts";

export interface DiskFullOptions {
  /** tmpfs size in MiB. @default 48 */
  sizeMb?: number;
  log?: (line: string) => void;
}

export interface DiskFullResult {
  skipped?: string;
  fs?: string;
  enqueuedBeforeFull?: number;
  fullStatus?: number;
  fullBody?: string;
  acks?: { ok: number; failed: number };
  nacks?: { ok: number; failed: number };
  deletes?: { ok: number; failed: number };
  /** Filler removed → first enqueue answered 201. */
  recoveredMs?: number;
  healthWhileFull?: number;
  /** The server's `storage_refused` log lines for the full disk (one per 10 s at most). */
  refusalLines?: number;
}

export function canMountTmpfs(): boolean {
  const probe = tmpDir("zizq-rel-probe-");
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", probe], { stdio: "ignore" });
    execFileSync("umount", [probe], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

export async function runDiskFull(options: DiskFullOptions = {}): Promise<DiskFullResult> {
  const log = options.log ?? (() => {});
  if (!canMountTmpfs()) return { skipped: "cannot mount a tmpfs here (not root?)" };
  const mount = tmpDir("zizq-rel-full-");
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${options.sizeMb ?? 48}m`, "tmpfs", mount]);
  const result: DiskFullResult = { fs: `tmpfs ${options.sizeMb ?? 48} MiB, 1 MiB segments` };
  let stopServer: (() => Promise<void>) | undefined;
  try {
    const { server } = await start(path.join(mount, "root"), ["--segment-size", "1MiB", "--global-in-flight-limit", "0"]);
    stopServer = server.kill9;
    const pad = "f".repeat(1000);
    const bulk = (n: number) => ({ jobs: Array.from({ length: 50 }, (_, i) => ({ type: "full", queue: "q", payload: { n: n + i, pad } })) });
    const seeded: Json[] = [];
    for (let n = 0; n < 600; n += 50) seeded.push(...((await req(server.url, "POST", "/jobs/bulk", bulk(n))).body!.jobs as Json[]));
    const stream = await openTake(server.url, "queue=q&prefetch=200");
    const taken = await stream.waitJobs(200, 60_000);

    // Fill what is left with another file (the way a neighbour fills a shared disk).
    const filler = path.join(mount, "filler");
    const fd = fs.openSync(filler, "w");
    const chunk = Buffer.alloc(256 * 1024, 1);
    try { for (;;) fs.writeSync(fd, chunk); } catch { /* ENOSPC: full */ }
    try { for (;;) fs.writeSync(fd, chunk, 0, 4096); } catch { /* the last pages */ }
    fs.closeSync(fd);

    let enqueued = 0;
    for (let n = 1_000_000; ; n += 50) {
      const r = await req(server.url, "POST", "/jobs/bulk", bulk(n));
      if (r.status === 201) { enqueued += 50; continue; }
      result.fullStatus = r.status;
      result.fullBody = r.text;
      break;
    }
    result.enqueuedBeforeFull = enqueued;
    log(`disk-full: ${enqueued} jobs accepted after the filler, then ${result.fullStatus} ${result.fullBody}`);
    result.healthWhileFull = (await req(server.url, "GET", "/health")).status;

    const tally = async (ids: string[], send: (id: string) => Promise<number>, ok: number) => {
      const t = { ok: 0, failed: 0 };
      for (const id of ids) (await send(id)) === ok ? t.ok++ : t.failed++;
      return t;
    };
    result.acks = await tally(taken.slice(0, 100).map((j) => j.id as string), async (id) => (await req(server.url, "POST", `/jobs/${id}/success`)).status, 204);
    result.nacks = await tally(taken.slice(100, 150).map((j) => j.id as string),
      async (id) => (await req(server.url, "POST", `/jobs/${id}/failure`, { message: "full", retry_at: Date.now() + 3_600_000 })).status, 200);
    const untouched = seeded.filter((j) => !taken.some((t) => t.id === j.id)).slice(0, 100);
    result.deletes = await tally(untouched.map((j) => j.id as string), async (id) => (await req(server.url, "DELETE", `/jobs/${id}`)).status, 204);
    await stream.close();

    fs.rmSync(filler);
    const t0 = performance.now();
    for (let n = 2_000_000; ; n++) {
      const r = await req(server.url, "POST", "/jobs", { type: "full", queue: "q", payload: { n } });
      if (r.status === 201) break;
      if (performance.now() - t0 > 60_000) throw new Error(`still ${r.status} a minute after space came back: ${r.text}`);
    }
    result.recoveredMs = round(performance.now() - t0);
    result.refusalLines = server.logs().split("\n").filter((l) => l.includes('"storage_refused"') && l.includes('"code":"full"')).length;
    await server.stop();
    stopServer = undefined;
  } finally {
    await stopServer?.();
    execFileSync("umount", ["-l", mount]);
  }
  return result;
}
