// Shared plumbing for `npm run reliability` (bench/reliability/): the repo root, the
// server spawned as a user runs it (dist/bin/zizq.mjs when ZIZQ_SPAWN_BUILT=1, which
// run.ts sets; the tests use the tsx entry so they need no build), restart timing,
// listing every job, RSS of a pid, and percentiles. Parts import from here.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type SpawnedServer, spawnServer } from "../../test/helpers/server.ts";
import { type Json, req } from "../../test/http/_client.ts";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export type { Json, SpawnedServer };

export interface Started {
  server: SpawnedServer;
  /** Spawn to the first 200 from /health, in ms: what a restart costs users. */
  recoveryMs: number;
}

/** Start `zizq serve` on `dir` and wait for /health; generous timeout for a busy machine. */
export async function start(dir: string, args: string[]): Promise<Started> {
  const t0 = performance.now();
  const server = await spawnServer(dir, args, 60_000);
  for (;;) {
    const r = await req(server.url, "GET", "/health").catch(() => undefined);
    if (r?.status === 200) break;
  }
  return { server, recoveryMs: performance.now() - t0 };
}

/** Every job on the server (any status), by id, following the page links. */
export async function listAll(url: string, query = ""): Promise<Map<string, Json>> {
  const out = new Map<string, Json>();
  for (let link: string | null = `/jobs?limit=2000${query ? `&${query}` : ""}`; link !== null;) {
    const r = await req(url, "GET", link);
    if (r.status !== 200) throw new Error(`GET ${link}: ${r.status} ${r.text}`);
    for (const j of r.body!.jobs as Json[]) out.set(j.id as string, j);
    link = r.body!.pages.next as string | null;
  }
  return out;
}

/** The segments dir of a server's --dir (the data sits in <dir>/data when that exists). */
export function segmentsDir(dir: string): string {
  const nested = path.join(dir, "data", "segments");
  return fs.existsSync(nested) ? nested : path.join(dir, "segments");
}

/** Resident set size of a process in MiB (Linux /proc). */
export function rssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

/** The q-th percentile (0..100) of `values`, nearest rank; NaN for none. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((q / 100) * sorted.length) - 1))];
}

export const round = (x: number, digits = 1): number => Number(x.toFixed(digits));

/** Pick a random element (undefined for an empty array). */
export const pick = <T>(random: () => number, xs: readonly T[]): T | undefined =>
  xs.length === 0 ? undefined : xs[Math.floor(random() * xs.length)];

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
