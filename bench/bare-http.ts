// The W1 baseline: a bare node:http (or, with --h2, h2c node:http2) POST handler that
// reads the body, parses it, and answers 201 with a small JSON object, the least any
// enqueue endpoint must do. Started by bench/w1.ts as a child; prints `PORT <n>`.
// Run alone: node --import tsx bench/bare-http.ts [--h2]

import http from "node:http";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";

let seq = 0;
function handle(req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { queue?: string };
    const out = JSON.stringify({ id: `bare${++seq}`, queue: body.queue, status: "ready" });
    res.writeHead(201, { "content-type": "application/json", "content-length": Buffer.byteLength(out) });
    res.end(out);
  });
}

const server = process.argv.includes("--h2")
  ? http2.createServer(handle as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void)
  : http.createServer(handle as (req: http.IncomingMessage, res: http.ServerResponse) => void);
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`PORT ${(server.address() as AddressInfo).port}\n`);
});
process.on("SIGTERM", () => process.exit(0));
