// `zizq serve --warm-up` (opt-in; issue 13, cold start). A freshly started server runs its hot
// path in V8's interpreter until the JIT has seen it: measured, the first second of
// 2,000 enqueues/s kept the process 85–99% busy where a warm one needs ~15%, and the
// enqueue-to-take p99 was 20–40 ms against 2–4 ms a second later (docs/benchmarks.md).
// So the server drives its own hot paths first — POST /jobs over HTTP/1.1 keep-alive and
// over h2c, bulk enqueues, a take stream with bulk acks — against a throwaway queue in
// <dir>/zizq-warm-up, through a second listener on 127.0.0.1:0, then deletes that dir.
// V8 keeps what it compiled: these are the same functions the real listener runs.
// Nothing reaches the real queue, and nothing is written outside --dir. It runs while
// the real store recovers (serve.ts): at 10M jobs recovery waits on reads long enough
// that the warm-up adds little to the time to /health (4.66–4.96 s after it, 4.10–4.34 s
// beside it, 3.86–4.04 s without it). Off by default: after it, take+ack among 10M queued
// jobs measured ~30% slower, cause not found (docs/decisions.md).

import fs from "node:fs";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import path from "node:path";
import { toNodeHandler } from "h3/node";
import { createApp } from "../http/app.ts";
import { type Listener, listen } from "../http/listen.ts";
import { createQueue } from "../queue/queue.ts";
import { lockHolder } from "../storage/lock.ts";
import { openStore } from "../storage/store.ts";

/** The warm-up's own store, inside the data dir (removed before and after each warm-up). */
export const WARM_UP_DIR = "zizq-warm-up";
/** What a store writes in its dir: a leftover holding anything else is not ours to delete. */
const STORE_FILES = /^(meta\.json|segments|checkpoint(\..*)?|zizq\.lock(\..*)?)$/;
/**
 * Jobs per kind of request, measured on the cold W4 (2,000 single enqueues/s; three runs
 * each): 500 single HTTP/1.1 enqueues left its p99 at 5.1–6.8 ms, 1,000 at 4.2–6.2, 2,000
 * at 3.4–3.9 ms. The h2c and bulk paths warm with fewer (they share most of the code).
 */
const H1_JOBS = 2000;
const H2_JOBS = 250;
const BULK_JOBS = 500;
/** Every job a warm-up enqueues (and takes, and acks). */
export const WARM_UP_JOBS = H1_JOBS + H2_JOBS + BULK_JOBS;
/** A warm-up that has not finished by then is abandoned: the server starts cold instead. */
const DEADLINE_MS = 10_000;

const body = (n: number) => `{"type":"warm-up","queue":"warm-up","payload":{"n":${n},"pad":"${"x".repeat(64)}"}}`;
const JSON_HEADERS = { "content-type": "application/json", accept: "application/json" };

/**
 * Runs the warm-up in `dataDir`/zizq-warm-up; resolves with how long it took and how many
 * jobs went through. Rejects if it fails or misses its deadline (the caller starts cold),
 * or if a live process holds that dir (a second server started on the same data dir).
 */
export async function warmUp(dataDir: string): Promise<{ ms: number; jobs: number }> {
  const started = performance.now();
  const dir = path.join(dataDir, WARM_UP_DIR);
  clearLeftover(dir);
  const store = await openStore({ dir, checkpoint: false });
  const queue = createQueue(store);
  const app = createApp(queue, { logError: () => {} });
  let deadline: NodeJS.Timeout | undefined;
  let session: http2.ClientHttp2Session | undefined;
  let listener: Listener | undefined;
  let taken = 0;
  try {
    listener = await listen(toNodeHandler(app.app), { host: "127.0.0.1", port: 0, name: "warm-up" });
    const { port, url } = listener;
    session = http2.connect(url);
    session.on("error", () => {});
    const h2 = session;
    const run = async () => {
      // Bulk acks alternate between HTTP/1.1 and h2c (the official clients ack over h2).
      let chunk = 0;
      const ack = (ids: string[]) => {
        const body = JSON.stringify({ ids });
        return chunk++ % 2 ? h2Request(h2, "/jobs/success", body) : pipelined(port, 1, () => post("/jobs/success", body));
      };
      const allTaken = takeAndAck(port, WARM_UP_JOBS, ack, () => taken++);
      // HTTP/1.1 single enqueues on 4 connections, h2c enqueues 16 at a time (the official
      // clients' RPC transport), one bulk enqueue; the take stream acks all of them.
      await Promise.all(Array.from({ length: 4 }, (_, k) =>
        pipelined(port, H1_JOBS / 4, (n) => post("/jobs", body(k * H1_JOBS + n)))));
      await inFlight(16, H2_JOBS, (n) => h2Request(h2, "/jobs", body(n)));
      await pipelined(port, 1, () => post("/jobs/bulk", `{"jobs":[${Array.from({ length: BULK_JOBS }, (_, i) => body(i)).join(",")}]}`));
      await allTaken;
    };
    const running = run();
    running.catch(() => {}); // after a missed deadline it fails as the finally below closes all
    await Promise.race([running, new Promise((_, reject) => {
      deadline = setTimeout(() => reject(new Error(`warm-up did not finish within ${DEADLINE_MS} ms`)), DEADLINE_MS);
    })]);
  } finally {
    clearTimeout(deadline);
    session?.destroy();
    app.closeStreams();
    await listener?.close(0);
    queue.stop();
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { ms: performance.now() - started, jobs: taken };
}

/** Deletes a warm-up store left by a crash, refusing one in use or one with files not ours. */
function clearLeftover(dir: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  const holder = lockHolder(dir);
  if (holder !== undefined) throw new Error(`${dir} is in use by process ${holder}`);
  const stranger = names.find((name) => !STORE_FILES.test(name));
  if (stranger !== undefined) throw new Error(`${dir} holds ${stranger}, which no warm-up wrote; leaving it alone`);
  fs.rmSync(dir, { recursive: true, force: true });
}

/** `total` calls of `send`, `width` at a time. */
async function inFlight(width: number, total: number, send: (n: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < total) await send(next++);
  }));
}

/** An HTTP/1.1 request's bytes (keep-alive). */
const post = (path: string, body: string): string =>
  `POST ${path} HTTP/1.1\r\nhost: warm-up\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

/** A warm-up request the server refused: the warm-up would be warming an error path. */
const refused = (what: string, status: string) => new Error(`warm-up ${what} answered ${status}`);

const STATUS_LINE = "HTTP/1.1 ";

/**
 * `total` requests on one raw socket, written 32 at a time (pipelined), each batch after
 * the previous one's responses; rejects on a status other than 2xx. Why raw: a node:http
 * client is as cold as the server, and it doubled the warm-up's time without warming
 * anything the server runs.
 */
function pipelined(port: number, total: number, request: (n: number) => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let sent = 0;
    let answered = 0;
    let tail = "";
    const sendBatch = () => {
      const batch: string[] = [];
      for (; batch.length < 32 && sent < total; sent++) batch.push(request(sent));
      socket.write(batch.join(""));
    };
    socket.setEncoding("latin1").on("data", (chunk: string) => {
      // Count status lines (a job's JSON never holds one); a line cut after "HTTP/1.1 " is
      // counted when its status digit arrives, from the tail kept for the next chunk.
      const text = tail + chunk;
      let from = 0;
      for (let i = text.indexOf(STATUS_LINE); i !== -1 && i + STATUS_LINE.length < text.length; i = text.indexOf(STATUS_LINE, from)) {
        const status = text.slice(i + STATUS_LINE.length, i + STATUS_LINE.length + 3);
        if (status[0] !== "2") {
          socket.destroy();
          reject(refused(request(answered).split(" ", 2).join(" "), status));
          return;
        }
        answered++;
        from = i + STATUS_LINE.length + 1;
      }
      tail = text.slice(Math.max(from, text.length - STATUS_LINE.length));
      if (answered === total) {
        socket.end();
        resolve();
      } else if (answered === sent) sendBatch();
    }).on("error", reject).on("connect", sendBatch);
  });
}

/** One NDJSON take stream; acks in bulk what each chunk brought; resolves after `total` jobs. */
function takeAndAck(port: number, total: number, ack: (ids: string[]) => Promise<unknown>, onJob: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let count = 0;
    let acks: Promise<unknown> = Promise.resolve();
    const req = http.get({ host: "127.0.0.1", port, path: "/jobs/take?prefetch=1000", headers: { accept: "application/x-ndjson" } }, (res) => {
      let rest = "";
      res.setEncoding("utf8").on("data", (chunk: string) => {
        const lines = (rest + chunk).split("\n");
        rest = lines.pop()!;
        const ids: string[] = [];
        for (const line of lines) {
          if (!line) continue;
          ids.push((JSON.parse(line) as { id: string }).id);
          onJob();
        }
        count += ids.length;
        if (ids.length) {
          acks = acks.then(() => ack(ids));
          acks.catch(reject); // a refused ack fails the warm-up now, never as an unhandled rejection
        }
        // The stream stays open until the last ack is answered: closing it puts its
        // unacked jobs back to ready, and their acks would be refused (422).
        if (count >= total) {
          acks.then(() => {
            req.destroy();
            resolve();
          }, reject);
        }
      });
      res.on("error", () => {});
    });
    req.on("error", (err) => { if (count < total) reject(err); });
  });
}

/** One h2c POST; rejects on a status other than 2xx. */
function h2Request(session: http2.ClientHttp2Session, path: string, body: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":method": "POST", ":path": path, ...JSON_HEADERS });
    let status = 0;
    stream.on("response", (headers) => (status = Number(headers[":status"])));
    stream.on("data", () => {}).on("error", reject).on("end", () => {
      if (status >= 200 && status < 300) resolve();
      else reject(refused(`POST ${path}`, String(status)));
    });
    stream.end(body);
  });
}
