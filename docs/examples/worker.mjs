#!/usr/bin/env zx
// A tiny Zizq worker in zx: stream jobs from one queue, "process" each, ack or nack.
// Run: npx zx docs/examples/worker.mjs   (server on 127.0.0.1:7890, queue "emails")
import { $ } from "zx";

const base = process.env.ZIZQ_URL ?? "http://127.0.0.1:7890";
const queue = process.argv[3] ?? "emails";

const res = await fetch(`${base}/jobs/take?queue=${encodeURIComponent(queue)}&prefetch=4`, {
  headers: { accept: "application/x-ndjson" },
});
let buffered = "";
for await (const chunk of res.body) {
  buffered += Buffer.from(chunk).toString("utf8");
  let nl;
  while ((nl = buffered.indexOf("\n")) >= 0) {
    const line = buffered.slice(0, nl);
    buffered = buffered.slice(nl + 1);
    if (line === "") continue; // heartbeat
    const job = JSON.parse(line);
    try {
      // Stand-in for real work: any shell command; a non-zero exit becomes a nack.
      const out = await $`echo processing ${job.type} ${JSON.stringify(job.payload)}`;
      await fetch(`${base}/jobs/${job.id}/success`, { method: "POST" });
      console.log(`${job.id}: ${out.stdout.trim()} -> acked`);
    } catch (err) {
      await fetch(`${base}/jobs/${job.id}/failure`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ message: String(err), error_type: err?.name }),
      });
    }
  }
}
