// open(): the dir lock shared with `zizq serve`, close() semantics, and data surviving a
// close and reopen (the same store recovery as the server's).

import assert from "node:assert/strict";
import { after, test } from "node:test";
import { ClientError, ConnectionError, NotFoundError, Worker } from "../../lib/client/index.ts";
import { open } from "../../lib/embedded/open.ts";
import { eventually, settlesWithin, spawnServer, startServer } from "../helpers/server.ts";
import { cleanupTmp, tmpDir } from "../helpers/tmp.ts";

after(cleanupTmp);

test("a second open() on the same dir is refused until the first closes", async () => {
  const dir = tmpDir();
  const first = await open({ dir });
  await assert.rejects(open({ dir }), /already open in this process/);
  await first.close();
  const again = await open({ dir });
  await again.close();
});

test("open() is refused while a server holds the dir, and vice versa", async () => {
  const dir = tmpDir();
  const server = await startServer({ dir });
  await assert.rejects(open({ dir }), /already open in this process/);
  await server.close();
  const queue = await open({ dir });
  await assert.rejects(startServer({ dir }), /already open in this process/);
  await queue.close();
});

test("open() is refused while a `zizq serve` process holds the dir", async () => {
  const dir = tmpDir();
  const server = await spawnServer(dir, ["--no-admin"]);
  try {
    await assert.rejects(open({ dir }), /in use by another zizq server \(pid \d+\)/);
  } finally {
    await server.stop();
  }
  const queue = await open({ dir });
  await queue.close();
});

test("jobs survive close and reopen; in-flight jobs come back ready", async () => {
  const dir = tmpDir();
  const queue = await open({ dir });
  const a = await queue.enqueue({ type: "t", queue: "q", payload: { a: 1 } });
  const b = await queue.enqueue({ type: "t", queue: "q", payload: { b: 2 } });
  const stream = await queue.take({ queues: ["q"] });
  const { value } = await stream.next();
  assert.equal(value.id, a.id);
  await queue.close();
  // close() ended the open stream as a server ending it would.
  assert.deepEqual(await stream.next(), { done: true, value: undefined });
  const reopened = await open({ dir });
  assert.equal((await reopened.getJob(a.id)).status, "ready");
  assert.deepEqual((await reopened.getJob(b.id)).payload, { b: 2 });
  await reopened.close();
});

test("calls after close() reject with ConnectionError; close() is idempotent", async () => {
  const queue = await open({ dir: tmpDir() });
  await queue.close();
  await queue.close();
  await assert.rejects(queue.enqueue({ type: "t", queue: "q", payload: 1 }), (err: Error) => err.name === "ConnectionError" && /closed/.test(err.message));
  // clientClosed tells a Worker this is for good, not a server that may come back.
  await assert.rejects(queue.take(), (err) => err instanceof ConnectionError && err.clientClosed);
});

test("calls that close() overtakes either finish or reject with ConnectionError, never a storage error", async () => {
  const queue = await open({ dir: tmpDir() });
  // Started in the same turn as close(): their writes meet a store that is closing.
  const calls = Array.from({ length: 200 }, (_, i) => queue.enqueue({ type: "t", queue: "q", payload: i }).then(() => "ok", (err: Error) => err.name));
  await queue.close();
  const outcomes = new Set(await Promise.all(calls));
  for (const outcome of outcomes) assert.ok(outcome === "ok" || outcome === "ConnectionError", `an overtaken call rejected with ${outcome}`);
});


// The audit's finding: close() before the Worker was stopped left it retrying its acks for
// ever (ConnectionError "… is closed", every backoff step logged), and its run() and stop()
// never settled, shutdownTimeout or not. A closed queue is for good: the Worker stops.
test("close() under a running Worker stops it: run() resolves without stop(), one error line, no retries", async () => {
  const dir = tmpDir();
  const queue = await open({ dir });
  const [acked, failed] = await queue.enqueueBulk([
    { type: "ok", queue: "w", payload: 1 },
    { type: "throws", queue: "w", payload: 2 },
  ]);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  let started = 0;
  const errors: string[] = [];
  const worker = new Worker({
    client: queue, queues: ["w"], concurrency: 2, requestRetry: { initialDelay: 10, maxDelay: 50 },
    logger: { info() {}, error: (...args: unknown[]) => errors.push(args.map(String).join(" ")) },
    handler: async (job) => {
      started++;
      await gate;
      if (job.type === "throws") throw new Error("after the close");
    },
  });
  const running = worker.run();
  try {
    await eventually(() => started === 2, 20_000, "both handlers running");
    await queue.close();
    release(); // an ack and a failure report, both to a closed queue
    assert.ok(await settlesWithin(running, 10_000), `run() did not resolve after close(); errors: ${errors.slice(-3).join(" | ")}`);
    assert.equal(errors.length, 1, errors.join("\n"));
    assert.match(errors[0], /^\[zizq\] the embedded queue at .+ is closed: stopping the worker \(stop it before closing its client\)/);
    worker.stop(); // the app's own stop(), after the fact: nothing left to do
    await running;
  } finally {
    worker.kill();
  }
  // Neither result reached the store: both jobs were in flight, and a reopen makes them
  // ready as after any restart (taking writes nothing), the failure not counted.
  const reopened = await open({ dir });
  try {
    for (const id of [acked.id, failed.id]) {
      const job = await reopened.getJob(id);
      assert.deepEqual([job.status, job.attempts], ["ready", 0]);
    }
    assert.deepEqual((await reopened.listErrors(failed.id)).errors, []);
  } finally {
    await reopened.close();
  }
});

test("an idle Worker on a queue that is closed stops too, and stop() after close() settles, no shutdownTimeout needed", async () => {
  for (const order of ["close only", "close, then stop"] as const) {
    const queue = await open({ dir: tmpDir() });
    const lines: string[] = [];
    const logger = { info: (...a: unknown[]) => lines.push(a.map(String).join(" ")), error: (...a: unknown[]) => lines.push(a.map(String).join(" ")) };
    const worker = new Worker({ client: queue, logger, requestRetry: { initialDelay: 10, maxDelay: 50 }, handler: () => {} });
    const running = worker.run();
    try {
      await eventually(() => lines.some((l) => l.includes("connected to")), 20_000, "connected");
      await queue.close();
      if (order === "close, then stop") worker.stop();
      assert.ok(await settlesWithin(running, 10_000), `${order}: run() did not resolve; log: ${lines.slice(-3).join(" | ")}`);
      assert.deepEqual(lines.filter((l) => /disconnected|ack\/nack failed/.test(l)), [], order);
    } finally {
      worker.kill();
    }
  }
});

test("an aborted signal rejects the take iteration with an AbortError and requeues held jobs", async () => {
  const queue = await open({ dir: tmpDir() });
  try {
    const job = await queue.enqueue({ type: "t", queue: "q", payload: 1 });
    const controller = new AbortController();
    const stream = await queue.take({ signal: controller.signal });
    assert.equal((await stream.next()).value.id, job.id);
    const pending = stream.next();
    controller.abort();
    await assert.rejects(pending, { name: "AbortError" });
    assert.equal((await queue.getJob(job.id)).status, "ready");
    await assert.rejects(queue.take({ signal: controller.signal }), { name: "AbortError" });
  } finally {
    await queue.close();
  }
});

test("errors are the client's own classes; a Worker takes the embedded queue as its client", async () => {
  const queue = await open({ dir: tmpDir() });
  try {
    await assert.rejects(queue.getJob("0000000000000000000000000"), NotFoundError);
    await assert.rejects(queue.enqueue({ type: "t", queue: "a,b", payload: 1 }), (err) => err instanceof ClientError && err.status === 400);
    const job = await queue.enqueue({ type: "t", queue: "w", payload: { n: 1 } });
    const logs: string[] = [];
    const worker = new Worker({ client: queue, handler: () => {}, logger: { info: (m: string) => logs.push(m), error: () => {} } });
    const done = worker.run();
    await eventually(async () => (await queue.countJobs({ id: job.id })) === 0, 20_000, "the job acked");
    worker.stop();
    await done;
    assert.ok(logs.some((l) => l.includes(`connected to embedded:`)), logs.join("\n"));
  } finally {
    await queue.close();
  }
  await assert.rejects(queue.health(), ConnectionError);
});

test("open() without a dir is a TypeError", async () => {
  await assert.rejects(open({} as never), TypeError);
});
