// JSON bodies for the errors Node's HTTP/1.1 parser answers itself, before any handler
// runs: 431 (request line + headers too large), 400 (unparseable request, or HTTP/1.1
// without a Host header), 408 (headers too slow), 417 (an Expect other than
// 100-continue) and 405 for CONNECT (Node closed the socket without an answer). Node's own
// answers have empty bodies; clients parse every error body (docs/api.md, Errors).

import type http from "node:http";
import type { Duplex } from "node:stream";

/**
 * Largest request line + headers we accept on HTTP/1.1. Why 64 KiB (Node's default is
 * 16 KiB): an `id=` filter of 2,000 ids (the page limit) is ~52 KB, and got a 431.
 */
export const MAX_HEADER_BYTES = 64 * 1024;

const json = (status: number, reason: string, error: string): string => {
  const body = JSON.stringify({ error });
  return `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
};

/** http.Server 'clientError': a JSON error where the socket can still take one, then close. */
export function answerClientError(err: NodeJS.ErrnoException & { bytesParsed?: number }, socket: Duplex): void {
  // Node's contract: a reset peer, or a response already begun, gets no answer.
  const started = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
  if (err.code === "ECONNRESET" || !socket.writable || started) {
    socket.destroy();
    return;
  }
  let answer: string;
  if (err.code === "HPE_HEADER_OVERFLOW") {
    answer = json(431, "Request Header Fields Too Large", `request line and headers too large (limit ${MAX_HEADER_BYTES} bytes)`);
  } else if (err.code === "ERR_HTTP_REQUEST_TIMEOUT") {
    answer = json(408, "Request Timeout", "request timeout");
  } else {
    answer = json(400, "Bad Request", "bad request: the HTTP request could not be parsed");
  }
  socket.end(answer);
}

/** http.Server 'checkExpectation': an Expect header other than 100-continue. */
export function answerExpectation(_req: http.IncomingMessage, res: http.ServerResponse): void {
  const body = JSON.stringify({ error: "expectation failed: only `Expect: 100-continue` is supported" });
  res.writeHead(417, { "content-type": "application/json", "content-length": Buffer.byteLength(body), connection: "close" });
  res.end(body);
}

/**
 * An HTTP/1.1 request without a Host header (RFC 9112 §3.2): 400, as Node answers it with
 * `requireHostHeader`, but with a JSON body. Returns whether it answered.
 */
export function answeredMissingHost(req: http.IncomingMessage, res: http.ServerResponse): boolean {
  if (req.httpVersionMajor !== 1 || req.httpVersionMinor !== 1 || req.headers.host !== undefined) return false;
  const body = JSON.stringify({ error: "bad request: an HTTP/1.1 request needs a Host header" });
  res.writeHead(400, { "content-type": "application/json", "content-length": Buffer.byteLength(body), connection: "close" });
  res.end(body);
  return true;
}

/** http.Server 'connect': this server is no proxy. Without a listener Node drops the socket. */
export function answerConnect(_req: http.IncomingMessage, socket: Duplex): void {
  socket.end(json(405, "Method Not Allowed", "method not allowed"));
}
