// Worker against a real server: ack on resolve (in bulk), nack with message, type and
// stack on throw, kill through job.fail({kill}), graceful stop (drain, flush, then close),
// the shutdownTimeout extension, kill(), reconnect after a server restart on the same
// dir and port, and run() rejecting on a 4xx from take.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Client, NotFoundError, Router, UnknownJobTypeError, Worker, type Job } from "../../lib/client/index.ts";
import { eventually, settlesWithin, spawnServer, startServer, type TestServer } from "../helpers/server.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";
import { memoryLogger, uniq } from "./_setup.ts";

/** A Client that records the ack requests the Worker sends. */
class CountingClient extends Client {
  ackCalls: string[][] = [];
  override async reportSuccessBulk(ids: string[]): Promise<void> {
    this.ackCalls.push([...ids]);
    return super.reportSuccessBulk(ids);
  }
}

const FAST_RETRY = { initialDelay: 20, maxDelay: 200 };
const open = (c: Client, queue: string) => c.countJobs({ queue, status: ["ready", "in_flight", "scheduled"] });

let s: TestServer;
let c: CountingClient;
before(async () => {
  s = await startServer();
  c = new CountingClient({ url: s.url });
});
after(async () => {
  await c.close();
  await s.close();
  cleanupTmp();
});

describe("Worker", () => {
  it("acks every resolved job, in fewer bulk requests than jobs", async () => {
    const queue = uniq();
    const total = 300;
    await c.enqueueBulk(Array.from({ length: total }, (_, n) => ({ type: "t", queue, payload: n })));
    const seen = new Set<number>();
    c.ackCalls = [];
    const worker = new Worker({
      client: c, queues: [queue], concurrency: 16, logger: memoryLogger(),
      handler: async (job) => { seen.add(job.payload as number); await new Promise((r) => setImmediate(r)); },
    });
    const running = worker.run();
    await eventually(async () => (await open(c, queue)) === 0, 30_000, "all jobs acked");
    worker.stop();
    await running;
    assert.equal(seen.size, total);
    const acked = c.ackCalls.flat();
    assert.equal(new Set(acked).size, total);
    assert.ok(c.ackCalls.length < total, `${c.ackCalls.length} ack requests for ${total} jobs`);
    assert.ok(c.ackCalls.some((ids) => ids.length > 1), "at least one ack carried several ids");
  });

  it("a throw is one failure report with message, error type and stack; non-Errors are stringified", async () => {
    const queue = uniq();
    const [a, b] = await c.enqueueBulk([
      { type: "err", queue, payload: 1, retryLimit: 0 },
      { type: "str", queue, payload: 2, retryLimit: 0 },
    ]);
    const worker = new Worker({
      client: c, queues: [queue], logger: memoryLogger(),
      handler: (job) => {
        if (job.type === "err") throw new TypeError("bad input");
        throw "plain string"; // eslint-disable-line no-throw-literal
      },
    });
    const running = worker.run();
    await eventually(async () => (await c.countJobs({ queue, status: "dead" })) === 2, 30_000, "both dead");
    worker.stop();
    await running;
    const errA = await c.getError(a.id, 1);
    assert.deepEqual([errA.message, errA.errorType], ["bad input", "TypeError"]);
    assert.match(errA.backtrace!, /TypeError: bad input\n\s+at /);
    const errB = await c.getError(b.id, 1);
    assert.deepEqual([errB.message, errB.errorType, errB.backtrace], ["plain string", undefined, undefined]);
  });

  it("a job failed with kill inside the handler is dead at once; the later ack is not an error", async () => {
    const queue = uniq();
    const job = await c.enqueue({ type: "t", queue, payload: 1, retryLimit: 10 });
    const logger = memoryLogger();
    const worker = new Worker({
      client: c, queues: [queue], logger,
      handler: async (j) => { await j.fail({ message: "give up", kill: true }); },
    });
    const running = worker.run();
    await eventually(async () => (await c.getJob(job.id)).status === "dead", 30_000, "job dead");
    worker.stop();
    await running;
    assert.equal((await c.getJob(job.id)).attempts, 1);
    assert.deepEqual(logger.lines.filter((l) => l.startsWith("error")), []);
  });

  it("a Router without a route fails the job with UnknownJobTypeError", async () => {
    const queue = uniq();
    const job = await c.enqueue({ type: "nobody", queue, payload: 1, retryLimit: 0 });
    const handled: string[] = [];
    const worker = new Worker({
      client: c, queues: [queue], logger: memoryLogger(),
      handler: new Router().route("known", (p) => { handled.push(String(p)); }).build(),
    });
    const running = worker.run();
    await eventually(async () => (await c.getJob(job.id)).status === "dead", 30_000, "job dead");
    worker.stop();
    await running;
    const err = await c.getError(job.id, 1);
    assert.deepEqual([err.errorType, err.message], ["UnknownJobTypeError", new UnknownJobTypeError("nobody").message]);
  });

  it("stop() lets running handlers finish and acks them; jobs not started go back to ready", async () => {
    const queue = uniq();
    await c.enqueueBulk(Array.from({ length: 6 }, (_, n) => ({ type: "t", queue, payload: n })));
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const started: Job[] = [];
    const worker = new Worker({
      client: c, queues: [queue], concurrency: 3, prefetch: 6, logger: memoryLogger(),
      handler: async (job) => { started.push(job); await gate; },
    });
    const running = worker.run();
    await eventually(() => started.length === 3, 30_000, "three handlers running");
    let stopped = false;
    void running.then(() => { stopped = true; });
    worker.stop();
    worker.stop(); // idempotent
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(stopped, false, "run() waits for the running handlers");
    release();
    await running;
    assert.equal(started.length, 3, "no new job started after stop()");
    for (const job of started) {
      const status = await c.getJob(job.id).then((j) => j.status, (err) => (err instanceof NotFoundError ? "purged" : String(err)));
      assert.ok(["completed", "purged"].includes(status), `a drained job is acked, not ${status}`);
    }
    await eventually(async () => (await c.countJobs({ queue, status: "ready" })) === 3, 30_000, "the rest requeued");
  });

  it("shutdownTimeout: handlers still running after the deadline are released to the server", async () => {
    const queue = uniq();
    await c.enqueueBulk([{ type: "slow", queue, payload: 1 }, { type: "fast", queue, payload: 2 }]);
    let fastDone = false;
    const worker = new Worker({
      client: c, queues: [queue], concurrency: 2, logger: memoryLogger(), shutdownTimeout: 100,
      handler: async (job) => {
        if (job.type === "slow") await new Promise(() => {});
        fastDone = true;
      },
    });
    const running = worker.run();
    await eventually(() => fastDone, 30_000, "fast job handled");
    worker.stop();
    await running;
    await eventually(async () => (await c.countJobs({ queue, status: "ready" })) === 1, 30_000, "slow job requeued");
    assert.equal(await c.countJobs({ queue }), 1, "the fast job was acked before the stream closed");
  });

  it("kill() returns at once, without waiting for handlers", async () => {
    const queue = uniq();
    await c.enqueue({ type: "t", queue, payload: 1 });
    let started = false;
    const worker = new Worker({
      client: c, queues: [queue], logger: memoryLogger(),
      handler: async () => { started = true; await new Promise(() => {}); },
    });
    const running = worker.run();
    await eventually(() => started, 30_000, "handler running");
    worker.stop();
    worker.kill();
    await running;
    await eventually(async () => (await c.countJobs({ queue, status: "ready" })) === 1, 30_000, "job requeued");
  });

  it("run() rejects with a ClientError when take answers 4xx", async () => {
    const worker = new Worker({ client: c, queues: ["q".repeat(300)], logger: memoryLogger(), handler: () => {} });
    await assert.rejects(worker.run(), (err: unknown) => (err as Error).name === "ClientError" && (err as { status: number }).status === 400);
  });

  it("bad options are refused at construction, naming the option", () => {
    const handler = () => {};
    for (const [options, message] of [
      [{ concurrency: Number.NaN }, /^Worker: concurrency must be an integer from 1 up \(got NaN\)$/],
      [{ concurrency: 2.5 }, /concurrency must be an integer/],
      [{ prefetch: -1 }, /^Worker: prefetch must be an integer from 0 up \(got -1\)$/],
      [{ shutdownTimeout: -5 }, /shutdownTimeout \(ms\) must be an integer from 0 to 2147483647/],
    ] as const) {
      assert.throws(() => new Worker({ client: c, handler, ...options }), { name: "TypeError", message });
    }
    for (const [options, message] of [
      [{ url: undefined }, /^Client: url must be a string like/],
      [{ url: "http://127.0.0.1:1", format: "xml" }, /^Client: format must be "json" or "msgpack" \(got "xml"\)$/],
      [{ url: "http://127.0.0.1:1", readTimeout: -1 }, /^Client: readTimeout \(ms\) must be an integer from 0 to 2147483647 \(got -1\)$/],
      [{ url: "http://127.0.0.1:1", connectTimeout: "abc" }, /connectTimeout \(ms\) must be an integer/],
      [{ url: "http://127.0.0.1:1", streamIdleTimeout: Number.NaN }, /streamIdleTimeout/],
    ] as const) {
      assert.throws(() => new Client(options as never), { name: "TypeError", message });
    }
  });

  it("stop() or kill() before run() has no effect: the run connects once, with no error", async () => {
    for (const early of ["stop", "kill"] as const) {
      const queue = uniq();
      const log = memoryLogger();
      const seen: string[] = [];
      const worker = new Worker({ client: c, queues: [queue], logger: log, handler: (job) => { seen.push(job.id); } });
      worker[early]();
      const run = worker.run();
      const job = await c.enqueue({ type: "t", queue, payload: 1 });
      await eventually(() => seen.includes(job.id), 10_000, "the job handled");
      worker.stop();
      await run;
      // A shutdown begun before run() used to abort the run's first take stream.
      assert.deepEqual(log.lines.filter((l) => l.startsWith("error")), [], `${early}: ${log.lines.join(" | ")}`);
      assert.equal(log.lines.filter((l) => l.includes("connected to")).length, 1, log.lines.join(" | "));
    }
  });

  it("run() while it runs is refused; the first run is unharmed", async () => {
    const queue = uniq();
    const seen: string[] = [];
    const worker = new Worker({ client: c, queues: [queue], logger: memoryLogger(), handler: (job) => { seen.push(job.id); } });
    const first = worker.run();
    await assert.rejects(worker.run(), { message: "Worker.run(): this worker is already running" });
    const job = await c.enqueue({ type: "t", queue, payload: 1 });
    await eventually(() => seen.includes(job.id), 10_000, "the first run handles the job");
    worker.stop();
    await first;
    assert.equal((await c.getJob(job.id).catch(() => undefined)), undefined, "acked and gone");
  });
});

describe("Worker reconnects", () => {
  it("after the server restarts on the same dir and port, with backoff, and keeps working", async () => {
    const first = await startServer();
    const port = Number(new URL(first.url).port);
    const client = new Client({ url: first.url });
    const logger = memoryLogger();
    const queue = uniq();
    const done: number[] = [];
    const worker = new Worker({
      client, queues: [queue], logger, requestRetry: FAST_RETRY,
      handler: (job) => { done.push(job.payload as number); },
    });
    const running = worker.run();
    let server: TestServer = first;
    try {
      await client.enqueue({ type: "t", queue, payload: 1 });
      await eventually(() => done.includes(1), 30_000, "first job");
      await first.close();
      await eventually(() => logger.lines.some((l) => l.includes("disconnected from")), 30_000, "disconnect logged");
      server = await startServer({ dir: first.dir, port });
      await client.enqueue({ type: "t", queue, payload: 2 });
      await eventually(() => done.includes(2), 30_000, "job after restart");
      assert.ok(logger.lines.some((l) => l.startsWith("info [zizq] reconnected to")), logger.lines.join("\n"));
      assert.match(logger.lines.find((l) => l.includes("disconnected"))!, /attempt 1, reconnecting in 20ms/);
      worker.stop();
      await running;
      await eventually(async () => (await open(client, queue)) === 0, 30_000, "all acked");
    } finally {
      worker.kill();
      await client.destroy();
      await server.close();
    }
  });
});

describe("Worker and a silent stream", () => {
  it("streamIdleTimeout ends a stream with no heartbeat; the Worker reconnects and still works", async () => {
    const quiet = await startServer({ heartbeatMs: 60_000 });
    const client = new Client({ url: quiet.url, streamIdleTimeout: 300 });
    const logger = memoryLogger();
    const queue = uniq();
    const done: number[] = [];
    const worker = new Worker({ client, queues: [queue], logger, requestRetry: FAST_RETRY, handler: (job) => { done.push(job.payload as number); } });
    const running = worker.run();
    try {
      await eventually(() => logger.lines.some((l) => l.startsWith("info [zizq] reconnected")), 30_000, "a reconnect after the idle timeout");
      assert.match(logger.lines.find((l) => l.includes("disconnected"))!, /timeout/i);
      await client.enqueue({ type: "t", queue, payload: 7 });
      await eventually(() => done.includes(7), 30_000, "job after the reconnect");
      worker.stop();
      await running;
    } finally {
      worker.kill();
      await client.destroy();
      await quiet.close();
    }
  });
});

describe("Worker survives kill -9 of the server", () => {
  it("the job in flight at the kill comes back after the restart and is done; new jobs flow", async () => {
    const dir = tmpDir();
    let server = await spawnServer(dir);
    const port = new URL(server.url).port;
    const client = new Client({ url: server.url });
    const logger = memoryLogger();
    const queue = uniq();
    const seen: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const worker = new Worker({
      client, queues: [queue], logger, requestRetry: FAST_RETRY,
      handler: async (job) => {
        seen.push(job.payload as number);
        if (seen.length === 1) await gate; // the first delivery is still running at the kill
      },
    });
    const running = worker.run();
    try {
      const first = await client.enqueue({ type: "t", queue, payload: 1 });
      await eventually(() => seen.length === 1, 30_000, "first job running");
      await server.kill9();
      release(); // its ack now fails and is retried; the restarted server requeued the job
      server = await spawnServer(dir, ["--port", port]);
      await eventually(() => seen.filter((n) => n === 1).length === 2, 30_000, "job 1 redelivered after recovery");
      await client.enqueue({ type: "t", queue, payload: 2 });
      await eventually(async () => seen.includes(2) && (await open(client, queue)) === 0, 30_000, "everything acked");
      assert.equal((await client.countJobs({ id: first.id, status: ["ready", "in_flight"] })), 0);
      assert.ok(logger.lines.some((l) => l.startsWith("info [zizq] reconnected to")), logger.lines.join("\n"));
      worker.stop();
      await running;
    } finally {
      worker.kill();
      await client.destroy();
      await server.kill9();
    }
  });
});

describe("Worker and a Client closed under it", () => {
  // The app destroyed (or closed) its Client before stopping the Worker: every ack and
  // every reconnect fails with undici's own "destroyed"/"closed" error, which never heals.
  // The Worker retried them for ever and run() never settled; now it stops, as it does
  // when an embedded queue is closed under it (test/embedded/open.test.ts).
  for (const how of ["destroy", "close"] as const) {
    it(`client.${how}() while handlers run: the Worker logs once, stops, and run() resolves; the server requeues the jobs`, async () => {
      const server = await startServer();
      const client = new Client({ url: server.url });
      const logger = memoryLogger();
      const queue = uniq();
      const ready = async () => ((await (await fetch(`${server.url}/jobs/count?queue=${queue}&status=ready`)).json()) as { count: number }).count;
      let release!: () => void;
      const gate = new Promise<void>((resolve) => { release = resolve; });
      let started = 0;
      const worker = new Worker({
        client, queues: [queue], concurrency: 2, logger, requestRetry: FAST_RETRY,
        handler: async () => {
          started++;
          await gate;
        },
      });
      try {
        await client.enqueueBulk([1, 2].map((n) => ({ type: "t", queue, payload: n })));
        const running = worker.run();
        await eventually(() => started === 2, 30_000, "two handlers running");
        // close() resolves once the open take stream ends (CLIENT-API §4.8): only start it.
        const closing = how === "destroy" ? client.destroy() : client.close();
        release();
        assert.ok(await settlesWithin(running, 20_000), `run() had not settled; log: ${logger.lines.slice(-4).join(" | ")}`);
        await running;
        await closing;
        assert.equal(logger.lines.filter((l) => l.includes("stopping the worker")).length, 1, logger.lines.join("\n"));
        assert.ok(!logger.lines.some((l) => l.includes("retrying in")), logger.lines.join("\n"));
        // Its two jobs were never acked: the server gives them back when the stream goes.
        await eventually(async () => (await ready()) === 2, 30_000, "requeued");
      } finally {
        worker.kill();
        await client.destroy();
        await server.close();
      }
    });
  }
});
