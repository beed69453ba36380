// External load generators for W1: wrk (HTTP/1.1) and h2load (h2c), both C programs
// that stay far below one core at the rates measured here, plus a Node http2 client
// used when h2load is missing. Each returns ops/s and p50/p99 latency in ms.

import { execFile, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import http2 from "node:http2";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { jobBody, percentile } from "./_lib.ts";

const run = promisify(execFile);
const HERE = path.dirname(fileURLToPath(import.meta.url));

export interface LoadResult {
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Responses that were not 2xx, plus socket errors. */
  failures: number;
}

export const WRK_HINT = "wrk not installed: apt-get update && apt-get install -y wrk";
export const H2LOAD_HINT = "h2load not installed (apt-get install -y nghttp2-client); used the Node http2 client";

/** `wrk -t1 -c<connections>` POSTing bench payloads to `url` for `seconds`. */
export async function wrkPost(url: string, seconds: number, connections = 16): Promise<LoadResult> {
  const { stdout } = await run("wrk", [
    "-t1", `-c${connections}`, `-d${seconds}s`, "--latency", "-s", path.join(HERE, "post-job.lua"), url, "--", "1",
  ], { maxBuffer: 1 << 20 });
  const line = /ZIZQ_WRK (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)/.exec(stdout);
  if (!line) throw new Error(`unexpected wrk output:\n${stdout}`);
  const [requests, durationUs, p50Us, p99Us, non2xx, errors] = line.slice(1).map(Number);
  return { opsPerSec: requests / (durationUs / 1e6), p50Ms: p50Us / 1000, p99Ms: p99Us / 1000, failures: non2xx + errors };
}

/**
 * `h2load -c1 -m<streams> -n<requests>`: one h2c session (prior knowledge), POST /jobs.
 * h2load sends one body file for every request, so all jobs carry n = 0 here.
 */
export async function h2loadPost(url: string, requests: number, streams = 64): Promise<LoadResult> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "zizq-h2load-"));
  try {
    const bodyFile = path.join(tmp, "body.json");
    const logFile = path.join(tmp, "requests.log");
    fs.writeFileSync(bodyFile, jobBody("w1", 0));
    const { stdout } = await run("h2load", [
      "-c1", `-m${streams}`, `-n${requests}`, "-d", bodyFile, "-H", "content-type: application/json",
      `--log-file=${logFile}`, url,
    ], { maxBuffer: 1 << 20 });
    const rate = /finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(stdout);
    const ok = /status codes: (\d+) 2xx/.exec(stdout);
    if (!rate || !ok) throw new Error(`unexpected h2load output:\n${stdout}`);
    // Log lines: start time (us since epoch) \t status \t microseconds until the response ended.
    const latencies = fs.readFileSync(logFile, "utf8").trim().split("\n").map((l) => Number(l.split("\t")[2]) / 1000);
    return {
      opsPerSec: Number(rate[1]),
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      failures: requests - Number(ok[1]),
    };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** The same load from Node: one http2 session, `streams` concurrent POST /jobs loops. */
export async function nodeH2Post(url: string, requests: number, streams = 64): Promise<LoadResult> {
  const session = http2.connect(url);
  await new Promise<void>((resolve, reject) => session.once("connect", () => resolve()).once("error", reject));
  const latencies: number[] = [];
  let sent = 0;
  let failures = 0;
  const one = (n: number) => new Promise<void>((resolve, reject) => {
    const started = performance.now();
    const stream = session.request({ ":method": "POST", ":path": "/jobs", "content-type": "application/json" });
    stream.on("response", (headers) => {
      if (headers[":status"] !== 201) failures++;
    });
    stream.on("data", () => {});
    stream.on("end", () => {
      latencies.push(performance.now() - started);
      resolve();
    });
    stream.on("error", reject);
    stream.end(jobBody("w1", n));
  });
  const started = performance.now();
  const lane = async () => {
    while (sent < requests) await one(sent++);
  };
  await Promise.all(Array.from({ length: streams }, lane));
  const seconds = (performance.now() - started) / 1000;
  session.close();
  return { opsPerSec: requests / seconds, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), failures };
}

export interface BareServer {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** bench/bare-http.ts as a child process (its own core, like the Zizq server). */
export async function startBare(h2 = false): Promise<BareServer> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(HERE, "bare-http.ts"), ...(h2 ? ["--h2"] : [])], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once("exit", (code) => reject(new Error(`bare server exited with ${code}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    stop: () => new Promise((resolve) => {
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
    }),
  };
}
