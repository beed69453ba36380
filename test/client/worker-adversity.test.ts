// The client under adversity (a black-box fuzz of 2026-12-07 found each of these): odd
// things thrown by handlers, a job delivered again while its handler runs, take streams
// with a bad or cut-off MessagePack frame, a stream closed before it was read, and a
// server whose take streams end at once. None may end the process, hang or run a job twice.

import assert from "node:assert/strict";
import http from "node:http";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { open } from "../../lib/embedded/open.ts";
import { errors as undiciErrors } from "undici";
import { Client, Worker } from "../../lib/client/index.ts";
import { eventually, startServer, type TestServer } from "../helpers/server.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";
import { memoryLogger, uniq } from "./_setup.ts";

const FAST_RETRY = { initialDelay: 20, maxDelay: 200 };

/** A plain HTTP server whose /jobs/take answers with `answer`; counts take requests. */
async function fakeTake(answer: (res: http.ServerResponse) => void): Promise<{ url: string; takes: () => number; closed: () => number; close: () => Promise<void> }> {
  let takes = 0;
  let closed = 0;
  const server = http.createServer((req, res) => {
    takes++;
    req.socket.once("close", () => closed++);
    answer(res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    takes: () => takes,
    closed: () => closed,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

const MSGPACK_STREAM = { "content-type": "application/vnd.zizq.msgpack-stream" };

describe("a Worker and what handlers throw", () => {
  let s: TestServer;
  let c: Client;
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown) => unhandled.push(err);
  before(async () => {
    s = await startServer();
    c = new Client({ url: s.url });
    process.on("unhandledRejection", onUnhandled);
  });
  after(async () => {
    process.off("unhandledRejection", onUnhandled);
    await c.close();
    await s.close();
    cleanupTmp();
  });

  it("odd values thrown are reported as failures (a string message), and never end the process", async () => {
    const queue = uniq();
    const noCtor = new Error("no constructor");
    Object.defineProperty(noCtor, "constructor", { value: undefined });
    const objectMessage = new Error("x");
    Object.defineProperty(objectMessage, "message", { value: { a: 1 } });
    const throws: Record<number, () => unknown> = {
      0: () => Object.create(null),
      1: () => ({ toString() { throw new Error("no text"); } }),
      2: () => noCtor,
      3: () => objectMessage,
    };
    const ids: string[] = [];
    for (const n of Object.keys(throws)) ids.push((await c.enqueue({ type: "t", queue, payload: Number(n) })).id);
    const logger = memoryLogger();
    const worker = new Worker({ client: c, queues: [queue], concurrency: 4, logger, requestRetry: FAST_RETRY, handler: (job) => { throw throws[job.payload as number](); } });
    const running = worker.run();
    try {
      await eventually(async () => {
        const jobs = await Promise.all(ids.map((id) => c.getJob(id)));
        return jobs.every((j) => j.attempts === 1);
      }, 30_000, "every job failed once");
    } finally {
      worker.stop();
      await running;
    }
    const messages = await Promise.all(ids.map(async (id) => (await c.getError(id, 1)).message));
    assert.equal(messages[0], "[object Object]");
    assert.equal(messages[1], "[object Object]");
    assert.equal(messages[2], "no constructor");
    assert.equal(messages[3], "[object Object]");
    assert.deepEqual(unhandled, []);
    assert.ok(!logger.lines.some((l) => l.includes("rejected")), logger.lines.join("\n"));
  });
});

describe("a job delivered again while its handler runs", () => {
  after(cleanupTmp);

  it("is not handled a second time: the running handler's ack answers both deliveries", async () => {
    const first = await startServer();
    const port = Number(new URL(first.url).port);
    const client = new Client({ url: first.url });
    const queue = uniq();
    const started: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const logger = memoryLogger();
    const worker = new Worker({
      client, queues: [queue], concurrency: 8, logger, requestRetry: FAST_RETRY,
      handler: async (job) => { started.push(job.id); await gate; },
    });
    const running = worker.run();
    let server: TestServer = first;
    try {
      const ids = [];
      for (let i = 0; i < 3; i++) ids.push((await client.enqueue({ type: "t", queue, payload: i })).id);
      await eventually(() => started.length === 3, 30_000, "three handlers running");
      // A graceful stop gives in-flight jobs back to ready; the restarted server delivers
      // them again on the Worker's new stream while the first handlers still run.
      await first.close();
      server = await startServer({ dir: first.dir, port });
      await eventually(() => logger.lines.filter((l) => l.includes("delivered again")).length === 3, 30_000, "the three deliveries seen");
      release();
      await eventually(async () => (await client.countJobs({ queue })) === 0, 30_000, "all acked");
      assert.equal(started.length, 3, `handlers started: ${started.join(", ")}`);
    } finally {
      release();
      worker.stop();
      await running;
      await client.close();
      await server.close();
    }
  });
});

describe("take streams that misbehave", () => {
  it("a MessagePack frame longer than any job is an error, not a wait for 4 GiB", async () => {
    const fake = await fakeTake((res) => {
      res.writeHead(200, MSGPACK_STREAM);
      const prefix = Buffer.alloc(4);
      prefix.writeUInt32BE(0xfffffff0);
      res.write(prefix);
      const beat = setInterval(() => res.write(Buffer.alloc(4)), 20); // heartbeats keep it alive
      res.once("close", () => clearInterval(beat));
    });
    const client = new Client({ url: fake.url, format: "msgpack" });
    try {
      const jobs = await client.take();
      await assert.rejects(jobs.next(), /^Error: take stream: a frame of 4294967280 bytes/);
    } finally {
      await client.destroy();
      await fake.close();
    }
  });

  it("a stream cut inside a frame is an error, not a clean end", async () => {
    const fake = await fakeTake((res) => {
      res.writeHead(200, MSGPACK_STREAM);
      res.end(Buffer.from([0, 0, 0, 10, 0x81, 0xa1]));
    });
    const client = new Client({ url: fake.url, format: "msgpack" });
    try {
      const jobs = await client.take();
      await assert.rejects(jobs.next(), /ended inside a frame \(6 bytes left\)/);
    } finally {
      await client.destroy();
      await fake.close();
    }
  });

  it("return() on a stream never read closes it (Client), and gives its jobs back (embedded)", async () => {
    const fake = await fakeTake((res) => {
      res.writeHead(200, { "content-type": "application/x-ndjson" });
      res.write("\n");
    });
    const client = new Client({ url: fake.url });
    try {
      const jobs = await client.take();
      await jobs.return(undefined);
      await eventually(() => fake.closed() === 1, 10_000, "the server sees the stream closed");
    } finally {
      await client.destroy();
      await fake.close();
    }

    const q = await open({ dir: tmpDir() });
    try {
      await q.enqueue({ type: "t", queue: "r", payload: 1 });
      const jobs = await q.take({ prefetch: 1 });
      await eventually(async () => (await q.countJobs({ status: ["in_flight"] })) === 1, 10_000, "the job is held by the stream");
      await jobs.return(undefined);
      assert.equal(await q.countJobs({ status: ["in_flight"] }), 0);
      assert.equal(await q.countJobs({ status: ["ready"] }), 1);
    } finally {
      await q.close();
    }
  });

  it("streams that end at once with nothing in them: the Worker backs off, growing", async () => {
    const fake = await fakeTake((res) => {
      res.writeHead(200, { "content-type": "application/x-ndjson" });
      res.end();
    });
    const client = new Client({ url: fake.url });
    const logger = memoryLogger();
    const worker = new Worker({ client, logger, requestRetry: { initialDelay: 10, maxDelay: 1000, multiplier: 2 }, handler: () => {} });
    const running = worker.run();
    try {
      await eventually(() => logger.lines.some((l) => l.includes("ended at once 4 times")), 30_000, "four empty ends");
    } finally {
      worker.stop();
      await running;
      await client.destroy();
      await fake.close();
    }
    const backoffs = logger.lines.filter((l) => l.includes("ended at once"));
    const delays = backoffs.map((l) => Number(/reconnecting in (\d+)ms/.exec(l)![1]));
    assert.deepEqual(delays.slice(0, 3), [10, 20, 40]);
    // Every take after the first two waited its backoff (one more may be on its way at the
    // stop): thousands a second before, however long the test ran.
    assert.ok(fake.takes() <= backoffs.length + 2, `${fake.takes()} take requests, ${backoffs.length} backoffs`);
  });
});

describe("an RPC whose connection dies", () => {
  /** An h2c server that answers every request with `answer`; `kill` drops every connection. */
  async function fakeH2(answer: (res: http2.Http2ServerResponse, kill: () => void) => void) {
    const sockets = new Set<import("node:net").Socket>();
    const server = http2.createServer((_req, res) => answer(res, () => { for (const socket of sockets) socket.destroy(); }));
    server.on("connection", (socket: import("node:net").Socket) => { sockets.add(socket); socket.once("close", () => sockets.delete(socket)); });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => new Promise<void>((resolve) => { for (const socket of sockets) socket.destroy(); server.close(() => resolve()); }),
    };
  }

  const cases: [string, (res: http2.Http2ServerResponse, kill: () => void) => void, (err: unknown) => boolean][] = [
    ["before the answer: a ConnectionError", (_res, kill) => kill(),
      (err) => (err as Error).name === "ConnectionError" && /closed before a response/.test((err as Error).message)],
    ["mid-body: the transport error, raw (never half a body decoded)", (res, kill) => {
      res.setHeader("content-type", "application/json");
      // Dropped once the headers and half a body are written out, not after a sleep.
      res.write('{"status":"o', () => kill());
    }, (err) => err instanceof undiciErrors.SocketError && (err as { code?: string }).code === "UND_ERR_SOCKET"],
    ["a body that stalls: the body timeout, not the headers one", (res) => {
      res.setHeader("content-type", "application/json");
      res.write('{"status":');
    }, (err) => err instanceof undiciErrors.BodyTimeoutError && (err as Error).name === "BodyTimeoutError"],
    ["no answer at all: the headers timeout, as undici words it", () => {},
      (err) => (err as Error).name === "ConnectionError" && /^Headers Timeout Error \(/.test((err as Error).message)],
  ];
  for (const [name, answer, check] of cases) {
    it(name, async () => {
      const fake = await fakeH2(answer);
      const client = new Client({ url: fake.url, readTimeout: 500 });
      try {
        await assert.rejects(client.health(), check);
        await assert.rejects(client.reportSuccess("x"), check);
      } finally {
        await client.destroy();
        await fake.close();
      }
    });
  }
});
