// A recording HTTP server for wire-shape tests of the client: h2c and HTTP/1.1 on one
// port, every request kept (method, path, HTTP version, headers, body), canned answers.

import http from "node:http";
import http2 from "node:http2";
import net, { type AddressInfo } from "node:net";

export interface Seen { method: string; path: string; version: string; headers: http.IncomingHttpHeaders; body: string }

/** What the recorder answers: a status and a JSON body (undefined → no body). */
export type Responder = (seen: Seen) => { status: number; body?: unknown } | undefined;

/**
 * A recording server: HTTP/2 (h2c) and HTTP/1.1 on one port. By default it answers like
 * Zizq would for the calls the transport test makes; `respond` overrides that per call.
 */
export async function recorder(respond?: Responder): Promise<{ url: string; seen: Seen[]; sessions: () => number; maxInFlight: () => number; close: () => Promise<void> }> {
  const seen: Seen[] = [];
  let sessions = 0;
  const h2 = http2.createServer();
  const h1 = http.createServer();
  h2.on("session", () => { sessions++; });
  // Plain-TCP h2c and HTTP/1.1 on one port: the HTTP/2 preface starts with "PRI ".
  const server = net.createServer((socket) => {
    socket.once("readable", () => {
      const head = socket.read(4) as Buffer | null;
      if (head) socket.unshift(head);
      (head?.toString() === "PRI " ? h2 : h1).emit("connection", socket);
    });
  });
  let inFlight = 0;
  let maxInFlight = 0;
  const onRequest = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => {
    let body = "";
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    req.on("data", (d) => { body += d; });
    // Health answers wait a little, so concurrent calls overlap if the client lets them.
    req.on("end", () => setTimeout(() => {
      inFlight--;
      seen.push({ method: req.method!, path: req.url!, version: req.httpVersion, headers: req.headers, body });
      const custom = respond?.(seen[seen.length - 1]);
      if (custom) {
        const r = res as http.ServerResponse;
        if (custom.body === undefined) r.writeHead(custom.status).end();
        else r.writeHead(custom.status, { "content-type": "application/json" }).end(JSON.stringify(custom.body));
      } else if (req.url!.startsWith("/jobs/take")) {
        (res as http.ServerResponse).writeHead(200, { "content-type": "application/x-ndjson" });
        res.end(`\n${JSON.stringify({ id: "j1", type: "t", queue: "q", priority: 1, status: "in_flight", ready_at: 1, attempts: 0, payload: 1 })}\n\n`);
      } else if (req.url === "/jobs/success") {
        (res as http.ServerResponse).writeHead(204).end();
      } else {
        (res as http.ServerResponse).writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}');
      }
    }, req.url === "/health" ? 30 : 0));
  };
  h2.on("request", onRequest);
  h1.on("request", onRequest);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`, seen, sessions: () => sessions, maxInFlight: () => maxInFlight,
    close: () => new Promise<void>((r) => {
      h1.closeAllConnections();
      server.close(() => r());
    }),
  };
}

