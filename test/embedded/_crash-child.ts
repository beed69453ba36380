// Child of crash.test.ts: an app with an embedded queue that enqueues jobs one after
// another and prints each id once its enqueue resolved (= acknowledged), until killed.
// It also holds one job in flight on a take stream, printed as `taken <id>`.

import { open } from "../../lib/embedded/open.ts";

const queue = await open({ dir: process.argv[2] });
const first = await queue.enqueue({ type: "t", queue: "held", payload: { held: true } });
const stream = await queue.take({ queues: ["held"] });
const { value } = await stream.next();
process.stdout.write(`taken ${value!.id} ${first.id}\n`);
for (let n = 0; ; n++) {
  const job = await queue.enqueue({ type: "t", queue: "q", payload: { n } });
  process.stdout.write(`acked ${job.id}\n`);
}
