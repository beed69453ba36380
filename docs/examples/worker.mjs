#!/usr/bin/env zx
// A tiny Zizq worker in zx on the Node client: stream jobs from one queue and run a shell
// command for each. A zero exit acks the job; a non-zero exit throws, which reports a
// failure (the server retries it with backoff). Ctrl-C or SIGTERM stops it gracefully.
// Run: npx zx docs/examples/worker.mjs [queue]   (server on $ZIZQ_URL or 127.0.0.1:7890)
import { $ } from "zx";
import { Client, Worker } from "zizq/client";

const client = new Client({ url: process.env.ZIZQ_URL ?? "http://127.0.0.1:7890" });
const queue = process.argv[3] ?? "emails";

const worker = new Worker({
  client,
  queues: [queue],
  concurrency: 4,
  handler: async (job) => {
    // Stand-in for real work: any shell command.
    const out = await $`echo processing ${job.type} ${JSON.stringify(job.payload)}`;
    console.log(`${job.id}: ${out.stdout.trim()} -> acked`);
  },
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => worker.stop());
await worker.run();
await client.close();
