// Production controls (issue 10) against their cost:
// - W3-lease: W3 (buffered, JSON) with `lease=30s` on the take streams vs without,
//   interleaved rounds (host noise is large), medians; target within 10%.
// - W1-auth: single POST /jobs from 16 keep-alive Node connections against a server
//   with --auth-tokens (sending a Bearer token) vs one without, interleaved rounds,
//   medians of ops/s and server CPU per request; plus the check itself in-process
//   (TokenAuth.check, 3 tokens), which does not depend on the machine's load.

import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { TokenAuth } from "../lib/http/auth.ts";
import { type BenchOptions, type Row, cpuMicros, jobBody, median, percentile, request, startZizq } from "./_lib.ts";
import { w3 } from "./w3.ts";

export async function w3Lease(opts: BenchOptions): Promise<Row[]> {
  const rounds = opts.quick ? 1 : 3;
  const plain: Row[] = [];
  const leased: Row[] = [];
  for (let i = 0; i < rounds; i++) {
    plain.push(await w3(opts, "buffered", "json"));
    leased.push(await w3(opts, "buffered", "json", "30s"));
  }
  const p = median(plain.map((r) => r.opsPerSec!));
  const l = median(leased.map((r) => r.opsPerSec!));
  const note = (rows: Row[]) => `median of ${rows.length}: ${rows.map((r) => Math.round(r.opsPerSec!)).join(", ")} ops/s`;
  return [
    { ...plain[0], workload: "W3 take+ack (no lease)", opsPerSec: p, target: "reference", pass: undefined, measured: note(plain) },
    {
      ...leased[0], workload: "W3 take+ack lease=30s", opsPerSec: l, target: "≥ 90% of no lease",
      pass: l >= 0.9 * p, measured: `${((l / p) * 100).toFixed(0)}% of no lease; ${note(leased)}`,
    },
  ];
}

/** Closed loop: `connections` workers POSTing /jobs for `seconds`. */
async function postLoop(url: string, seconds: number, headers: Record<string, string>, connections = 16) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const latencies: number[] = [];
  let n = 0;
  let failures = 0;
  const until = performance.now() + seconds * 1000;
  await Promise.all(Array.from({ length: connections }, async () => {
    while (performance.now() < until) {
      const r = await request(agent, `${url}/jobs`, "POST", jobBody("w1", n++), { "content-type": "application/json", ...headers });
      if (r.status !== 201) failures++;
      latencies.push(r.ms);
    }
  }));
  agent.destroy();
  return { opsPerSec: latencies.length / seconds, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), failures };
}

export async function w1Auth(opts: BenchOptions): Promise<Row[]> {
  const token = "bench-admin-token-0123456789abcdef";
  const tokens = `read bench-read-token-0123456789abcd\nwrite bench-write-token-0123456789abc\nadmin ${token}\n`;
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "zizq-bench-tokens-")), "tokens");
  fs.writeFileSync(file, tokens);
  // The check alone: digest + 3 constant-time compares + scope lookup.
  const auth = new TokenAuth(tokens);
  const headers = { authorization: `Bearer ${token}` };
  for (let i = 0; i < 20_000; i++) auth.check(headers, "POST", "/jobs", "primary");
  const checks = 200_000;
  const t0 = performance.now();
  for (let i = 0; i < checks; i++) auth.check(headers, "POST", "/jobs", "primary");
  const checkUs = ((performance.now() - t0) * 1000) / checks;

  const rounds = opts.quick ? 1 : 3;
  const seconds = opts.quick ? 3 : 5;
  const open = await startZizq("w1-noauth", opts);
  const guarded = await startZizq("w1-auth", opts, ["--auth-tokens", file]);
  const runs = { open: [] as Awaited<ReturnType<typeof postLoop>>[], guarded: [] as Awaited<ReturnType<typeof postLoop>>[] };
  const cpu = { open: [] as number[], guarded: [] as number[] };
  const measure = async (kind: "open" | "guarded", url: string, pid: number, h: Record<string, string>) => {
    const before = cpuMicros(pid);
    const r = await postLoop(url, seconds, h);
    runs[kind].push(r);
    cpu[kind].push((cpuMicros(pid) - before) / (r.opsPerSec * seconds));
  };
  try {
    await postLoop(open.url, 1, {});
    await postLoop(guarded.url, 1, headers);
    for (let i = 0; i < rounds; i++) {
      await measure("open", open.url, open.pid, {});
      await measure("guarded", guarded.url, guarded.pid, headers);
    }
  } finally {
    await open.stop();
    await guarded.stop();
  }
  const row = (kind: "open" | "guarded") => ({
    opsPerSec: median(runs[kind].map((r) => r.opsPerSec)),
    p50Ms: median(runs[kind].map((r) => r.p50Ms)),
    p99Ms: median(runs[kind].map((r) => r.p99Ms)),
  });
  const o = row("open");
  const g = row("guarded");
  const failures = runs.guarded.reduce((s, r) => s + r.failures, 0) + runs.open.reduce((s, r) => s + r.failures, 0);
  return [
    { workload: "W1 POST /jobs (Node client)", mode: "buffered", ...o, target: "reference", measured: `${rounds}×${seconds}s, 16 conns; server CPU ${median(cpu.open).toFixed(1)} µs/req` },
    {
      workload: "W1 POST /jobs + Bearer token", mode: "buffered", ...g, target: "overhead reported",
      pass: failures === 0 ? undefined : false,
      measured: `${((g.opsPerSec / o.opsPerSec) * 100).toFixed(0)}% of no tokens; server CPU ${median(cpu.guarded).toFixed(1)} µs/req; the check alone ${checkUs.toFixed(2)} µs${failures ? `; ${failures} failed` : ""}`,
    },
  ];
}
