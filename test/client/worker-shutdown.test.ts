// How a Worker's shutdown ends whatever its ack path does (an audit of 2026-12-07 found
// stop() could not settle): with a shutdownTimeout, stop() settles within it plus
// SHUTDOWN_GRACE_MS even when acks hang or fail for good; without one, acks to a server
// that is down are retried as the official Worker does; a stop() during a reconnect
// backoff takes effect at once with a shutdownTimeout (at the backoff's end without one,
// as §6.5 says); nothing is left retrying after run() resolves. A stand-in client (the Worker's four members) makes each ack path exact; the closed embedded queue
// and a real server gone for good are in test/embedded (open.test.ts, _contract.ts).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConnectionError, Worker, type Job } from "../../lib/client/index.ts";
import { TIMER_MAX_MS } from "../../lib/client/_options.ts";
import { _internals, type WorkerClient } from "../../lib/client/worker.ts";
import { eventually, settlesWithin } from "../helpers/server.ts";
import { memoryLogger } from "./_setup.ts";

const { SHUTDOWN_GRACE_MS } = _internals;
/** Slack for a loaded machine (the other core busy); the old code never settled at all. */
const SLACK_MS = 4000;

interface Fake extends WorkerClient {
  acks: string[][];
  failures: string[];
}

/**
 * A client whose take stream delivers `jobs` and then stays open until aborted (as an HTTP
 * stream does), and whose ack and failure report are the given functions.
 */
function fakeClient(
  jobs: { id: string; type: string }[],
  ack: (ids: string[]) => Promise<void>,
  fail: (id: string) => Promise<never> = () => Promise.reject(new ConnectionError("connect ECONNREFUSED (fake:)")),
): Fake {
  const fake: Fake = {
    url: "fake:",
    acks: [],
    failures: [],
    async take(options = {}) {
      const signal = options.signal!;
      async function* stream(): AsyncGenerator<Job> {
        for (const job of jobs) yield job as unknown as Job;
        await new Promise((_, reject) => {
          if (signal.aborted) reject(signal.reason);
          signal.addEventListener("abort", () => reject(signal.reason), { once: true });
        });
      }
      return stream();
    },
    reportSuccessBulk(ids) {
      fake.acks.push([...ids]);
      return ack(ids);
    },
    reportFailure(id) {
      fake.failures.push(id);
      return fail(id);
    },
  };
  return fake;
}

const refused = () => Promise.reject(new ConnectionError("connect ECONNREFUSED 127.0.0.1:9 (http://127.0.0.1:9)"));


const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;

describe("Worker shutdown, whatever the ack path does", () => {
  for (const [name, ack] of [
    ["an ack that never gets an answer (a server that hangs)", () => new Promise<void>(() => {})],
    ["an ack that fails every time (a server gone for good)", refused],
  ] as const) {
    it(`shutdownTimeout bounds stop(): ${name}`, async () => {
      const fake = fakeClient([{ id: "a", type: "t" }], ack);
      const logger = memoryLogger();
      let handled = false;
      const shutdownTimeout = 100;
      const worker = new Worker({
        client: fake, logger, shutdownTimeout, requestRetry: { initialDelay: 10, maxDelay: 100 },
        handler: () => { handled = true; },
      });
      const running = worker.run();
      try {
        await eventually(() => handled && fake.acks.length > 0, 20_000, "the ack sent");
        const stoppedAt = performance.now();
        worker.stop();
        assert.ok(await settlesWithin(running, shutdownTimeout + SHUTDOWN_GRACE_MS + SLACK_MS), `stop() did not settle; ${logger.lines.slice(-2).join(" | ")}`);
        // Not before the grace: the ack had that long to get through.
        assert.ok(performance.now() - stoppedAt >= shutdownTimeout + SHUTDOWN_GRACE_MS - 5);
        const gaveUp = logger.lines.filter((l) => l.includes("giving them up"));
        assert.equal(gaveUp.length, 1, logger.lines.join("\n"));
        assert.match(gaveUp[0], /1 ack\(s\) and 0 failure report\(s\) still not sent 1100ms after stop\(\)/);
      } finally {
        worker.kill();
      }
    });
  }

  it("nothing is left retrying after run() resolves: a failure report abandoned at the deadline stops too", async () => {
    const fake = fakeClient([{ id: "a", type: "t" }], () => Promise.resolve());
    const logger = memoryLogger();
    const before = timers();
    const worker = new Worker({
      client: fake, logger, shutdownTimeout: 50, requestRetry: { initialDelay: 60_000, maxDelay: 60_000 },
      handler: () => { throw new Error("boom"); },
    });
    const running = worker.run();
    try {
      await eventually(() => logger.lines.some((l) => l.includes("ack/nack failed (attempt 1")), 20_000, "the report failing");
      worker.stop();
      assert.ok(await settlesWithin(running, 50 + SHUTDOWN_GRACE_MS + SLACK_MS), "stop() settled");
      // The report's retry sleep (60 s) held a timer after run() resolved, and the next
      // attempt another: an app whose worker had stopped still could not exit.
      await eventually(() => timers() <= before, 2000, `the worker's timers gone (${timers()} left, ${before} before)`);
      assert.equal(fake.failures.length, 1);
    } finally {
      worker.kill();
    }
  });

  it("without a shutdownTimeout, acks to a server that is down are retried until kill(), as the official Worker does", async () => {
    const fake = fakeClient([{ id: "a", type: "t" }], refused);
    const logger = memoryLogger();
    const worker = new Worker({ client: fake, logger, requestRetry: { initialDelay: 5, maxDelay: 5 }, handler: () => {} });
    const running = worker.run();
    let settled = false;
    void running.then(() => { settled = true; });
    try {
      await eventually(() => fake.acks.length > 0, 20_000, "the ack sent");
      worker.stop();
      const sentAtStop = fake.acks.length;
      // The server may come back (a ConnectionError, not a closed client): still retrying.
      await eventually(() => fake.acks.length >= sentAtStop + 3, 20_000, "three more attempts after stop()");
      assert.equal(settled, false);
      assert.ok(!logger.lines.some((l) => l.includes("giving them up") || l.includes("stopping the worker")), logger.lines.join("\n"));
    } finally {
      worker.kill();
    }
    assert.ok(await settlesWithin(running, SLACK_MS), "kill() ends it");
  });

  for (const shutdownTimeout of [undefined, 0]) {
    const when = shutdownTimeout === undefined ? "ends when the backoff does (§6.5), without shutdownTimeout" : "takes effect at once with a shutdownTimeout";
    it(`stop() during a reconnect backoff ${when}`, async () => {
      const fake = fakeClient([], () => Promise.resolve());
      fake.take = () => Promise.reject(new ConnectionError("connect ECONNREFUSED 127.0.0.1:9 (http://127.0.0.1:9)"));
      const logger = memoryLogger();
      const worker = new Worker({
        client: fake, logger, shutdownTimeout, requestRetry: { initialDelay: 60_000, maxDelay: 60_000 }, handler: () => {},
      });
      const running = worker.run();
      try {
        await eventually(() => logger.lines.some((l) => l.includes("reconnecting in 60000ms")), 20_000, "the backoff begun");
        worker.stop();
        if (shutdownTimeout === undefined) assert.equal(await settlesWithin(running, 500), false, "run() ended before the 60 s backoff");
        else assert.ok(await settlesWithin(running, SLACK_MS), "run() waited for the 60 s backoff");
      } finally {
        worker.kill();
      }
      assert.ok(await settlesWithin(running, SLACK_MS), "kill() ends it");
    });
  }

  it("the longest shutdownTimeout works: acks are sent, no timer overflows to 1 ms", async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on("warning", onWarning);
    const fake = fakeClient([{ id: "a", type: "t" }], () => Promise.resolve());
    let release!: () => void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    let started = false;
    const worker = new Worker({
      client: fake, logger: memoryLogger(), shutdownTimeout: TIMER_MAX_MS,
      handler: async () => { started = true; await gate; },
    });
    const running = worker.run();
    try {
      await eventually(() => started, 20_000, "the handler running");
      worker.stop();
      // A deadline timer past 2^31 - 1 ms fires after 1 ms: Node warns on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
      release();
      assert.ok(await settlesWithin(running, SLACK_MS), "stop() settled");
      assert.deepEqual(fake.acks, [["a"]]);
      assert.deepEqual(warnings.filter((w) => w.name === "TimeoutOverflowWarning").map((w) => w.message), []);
    } finally {
      process.off("warning", onWarning);
      worker.kill();
    }
  });
});
