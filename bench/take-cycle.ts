// The ack round trip at prefetch 64 (docs/benchmarks.md, "Client W3 at the default prefetch"):
// a near-zero-cost client on raw sockets takes with prefetch 64 and acks like the official
// Worker (everything pending in one POST /jobs/success, one ack in flight), and prints how
// long the server takes to answer an ack and to send the next job after one. With prefetch
// equal to concurrency the server sends nothing new until an ack lands, so this cycle, not
// either side's throughput, sets the rate.
//
//   npm run build && node --import tsx bench/take-cycle.ts

import net from "node:net";
import { percentile, preload, startZizq } from "./_lib.ts";

const TOTAL = 50_000;
const PREFETCH = 64;

const zizq = await startZizq("take-cycle", { quick: false, h2Client: "node" });
await preload(zizq.url, "cycle", TOTAL);
const { hostname, port } = new URL(zizq.url);
const take = net.connect(Number(port), hostname).setNoDelay(true);
const ack = net.connect(Number(port), hostname).setNoDelay(true);
take.write(`GET /jobs/take?prefetch=${PREFETCH} HTTP/1.1\r\nhost: x\r\naccept: application/x-ndjson\r\n\r\n`);

const ackRttMs: number[] = [];
const nextJobMs: number[] = [];
const readsPerCycle: number[] = [];
let pending: string[] = [];
let acked = 0;
let inFlight = false;
let ackSentAt = 0;
let sawJobSinceAck = true;
let reads = 0;
let text = "";
const started = performance.now();
let finish!: () => void;
const finished = new Promise<void>((resolve) => { finish = resolve; });

function flush(): void {
  if (inFlight || pending.length === 0) return;
  const body = JSON.stringify({ ids: pending });
  acked += pending.length;
  pending = [];
  inFlight = true;
  readsPerCycle.push(reads);
  reads = 0;
  sawJobSinceAck = false;
  ackSentAt = performance.now();
  ack.write(`POST /jobs/success HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

ack.on("data", (chunk: Buffer) => {
  if (!chunk.toString("latin1").startsWith("HTTP/1.1 204")) throw new Error(`ack answered: ${chunk.toString("latin1").slice(0, 80)}`);
  ackRttMs.push(performance.now() - ackSentAt);
  inFlight = false;
  if (acked >= TOTAL) finish();
  else setImmediate(flush);
});

take.on("data", (chunk: Buffer) => {
  if (!sawJobSinceAck) {
    nextJobMs.push(performance.now() - ackSentAt);
    sawJobSinceAck = true;
  }
  reads++;
  text += chunk.toString("utf8");
  for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n")) {
    const id = /"id":"([0-9a-z]{25})"/.exec(text.slice(0, nl))?.[1];
    if (id) pending.push(id);
    text = text.slice(nl + 1);
  }
  setImmediate(flush); // as the official Worker: the flush is scheduled, not sent inline
});

await finished;
const seconds = (performance.now() - started) / 1000;
const ms = (xs: number[], p: number) => percentile(xs, p).toFixed(2);
console.log(`${Math.round(TOTAL / seconds)} jobs/s at prefetch ${PREFETCH}, ${ackRttMs.length} acks (${(TOTAL / ackRttMs.length).toFixed(1)} jobs each)`);
console.log(`ack answered after p50 ${ms(ackRttMs, 50)} ms, p90 ${ms(ackRttMs, 90)} ms`);
console.log(`first job after an ack was sent: p50 ${ms(nextJobMs, 50)} ms, p90 ${ms(nextJobMs, 90)} ms`);
console.log(`take-stream reads per cycle: p50 ${percentile(readsPerCycle, 50)}, p90 ${percentile(readsPerCycle, 90)}`);
take.destroy();
ack.destroy();
await zizq.stop();
