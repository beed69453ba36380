#!/usr/bin/env zx
// Enqueue a few jobs with the Node client, one of them scheduled a minute from now, and
// show what the queue holds. (enqueue.sh does the same with curl.)
// Run: npx zx docs/examples/enqueue.mjs   (server on $ZIZQ_URL or 127.0.0.1:7890)
import { Client } from "zizq/client";

const client = new Client({ url: process.env.ZIZQ_URL ?? "http://127.0.0.1:7890" });
const jobs = await client.enqueueBulk([1, 2, 3].map((user) => ({ queue: "emails", type: "send_welcome", payload: { user } })));
const digest = await client.enqueue({ queue: "emails", type: "digest", payload: null, readyAt: Date.now() + 60_000 });
for (const job of [...jobs, digest]) console.log(`${job.id} ${job.type} ${job.status}`);
console.log(`ready in emails: ${await client.countJobs({ queue: "emails", status: "ready" })}`);
await client.close();
