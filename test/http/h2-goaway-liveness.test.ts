// The h2 liveness check (lib/http/listen.ts `watchLiveness`) judges a session the peer
// closed with GOAWAY, too. Such a session waits for its open streams; when the peer then
// goes silent (never reads, never ACKs a PING), a stream stalled on flow control never
// ends, and the connection, its descriptor and the unsent body stayed for good while the
// check skipped closed sessions. A raw-socket client makes that peer exactly.

import assert from "node:assert/strict";
import type http2 from "node:http2";
import net from "node:net";
import { describe, it } from "node:test";
import { listen } from "../../lib/http/listen.ts";
import { within } from "../helpers/server.ts";

/** Short, so the verdict (about 2 × this after the GOAWAY) comes quickly. */
const IDLE_PING_MS = 200;
/** The peer's initial stream and connection windows (RFC 9113 §6.9.2; we send no SETTINGS). */
const DEFAULT_WINDOW_BYTES = 65_535;

const DATA = 0x0, HEADERS = 0x1, SETTINGS = 0x4, PING = 0x6, GOAWAY = 0x7;
const ACK = 0x1, END_STREAM = 0x1, END_HEADERS = 0x4;

/** One frame: 24-bit length, type, flags, 31-bit stream id, payload (RFC 9113 §4.1). */
function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header.writeUInt8(type, 3);
  header.writeUInt8(flags, 4);
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

/**
 * An h2c client on a bare socket: GET / on stream 1, acks SETTINGS and PINGs while alive.
 * Once a full window of DATA has come (the server is now stalled on flow control) it sends
 * GOAWAY(NO_ERROR), no reset, and stops reading its socket: it never ACKs a PING again.
 * Why not node:http2: its session socket refuses pause(), and its PING ACKs are automatic.
 */
function connectThenFallSilent(port: number): { socket: net.Socket; silent: Promise<void> } {
  const socket = net.connect(port, "127.0.0.1");
  socket.on("error", () => {});
  // HPACK (RFC 7541): :method GET, :scheme http, :path / from the static table (2, 6, 4),
  // then :authority (name 1) as a literal; nghttp2 resets a request without it.
  const authority = Buffer.from("127.0.0.1");
  const block = Buffer.concat([Buffer.from([0x82, 0x86, 0x84, 0x01, authority.length]), authority]);
  const request = frame(HEADERS, END_STREAM | END_HEADERS, 1, block);
  socket.write(Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), frame(SETTINGS, 0, 0), request]));
  const silent = new Promise<void>((resolve) => {
    let buffered = Buffer.alloc(0);
    let dataBytes = 0;
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 9 && buffered.length >= 9 + buffered.readUIntBE(0, 3)) {
        const length = buffered.readUIntBE(0, 3);
        const [type, flags] = [buffered[3], buffered[4]];
        const payload = buffered.subarray(9, 9 + length);
        buffered = buffered.subarray(9 + length);
        if (type === SETTINGS && !(flags & ACK)) socket.write(frame(SETTINGS, ACK, 0));
        if (type === PING && !(flags & ACK)) socket.write(frame(PING, ACK, 0, payload));
        if (type === DATA && (dataBytes += length) >= DEFAULT_WINDOW_BYTES) {
          // Last stream id 0 (we accept no pushes), NO_ERROR: a graceful GOAWAY.
          socket.write(frame(GOAWAY, 0, 0, Buffer.alloc(8)));
          socket.off("data", onData).pause();
          return resolve();
        }
      }
    };
    socket.on("data", onData);
  });
  return { socket, silent };
}

interface Served {
  session: http2.ServerHttp2Session;
  response: http2.Http2ServerResponse;
  /** The response is waiting for 'drain': its write is blocked. */
  stalled: () => boolean;
  goaway: Promise<number>;
  responseClosed: Promise<void>;
  /** Idle timeouts of the session before the GOAWAY came (each may send a PING). */
  timeoutsBeforeGoaway: () => number;
}

describe("h2 liveness: a session the peer closed with GOAWAY, then went silent", () => {
  it("is destroyed when its PING goes unanswered, with the stalled response", { timeout: 30_000 }, async () => {
    let served!: (s: Served) => void;
    const servedOnce = new Promise<Served>((resolve) => (served = resolve));
    const chunk = Buffer.alloc(16 * 1024, "x");
    const handler = (_req: http2.Http2ServerRequest, response: http2.Http2ServerResponse): void => {
      const session = response.stream.session as http2.ServerHttp2Session;
      let waiting = false;
      let goawayCame = false;
      let timeouts = 0;
      session.on("timeout", () => {
        if (!goawayCame) timeouts++;
      });
      served({
        session,
        response,
        stalled: () => waiting,
        goaway: new Promise((resolve) =>
          session.once("goaway", () => {
            goawayCame = true;
            resolve(Date.now());
          }),
        ),
        responseClosed: new Promise((resolve) => response.once("close", resolve)),
        timeoutsBeforeGoaway: () => timeouts,
      });
      response.writeHead(200, { "content-type": "application/octet-stream" });
      let left = 256; // 4 MiB, far more than the client's window
      const pump = (): void => {
        waiting = false;
        while (left-- > 0) {
          if (!response.write(chunk)) {
            waiting = true;
            return void response.once("drain", pump);
          }
        }
        response.end();
      };
      pump();
    };
    const listener = await listen(handler, { host: "127.0.0.1", port: 0, h2IdlePingMs: IDLE_PING_MS });
    const serverSocket = new Promise<net.Socket>((resolve) => listener.server.once("connection", resolve));
    const client = connectThenFallSilent(listener.port);
    try {
      const s = await within(servedOnce, 10_000, "the request at the server");
      await within(client.silent, 10_000, "a full window of DATA at the client");
      const goawayAt = await within(s.goaway, 10_000, "the client's GOAWAY at the server");
      // Node closes the session right after emitting 'goaway'; one turn later it must be
      // closed but alive, its response stalled: the state the check has to judge.
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(s.session.closed, true, "the GOAWAY closed the server's session");
      assert.equal(s.session.destroyed, false, "the session waits for its stream");
      assert.equal(s.stalled(), true, "the response is blocked on a write (flow control)");
      assert.equal(s.response.writableFinished, false);
      // No idle PING went out before the GOAWAY (one unanswered then would convict the
      // session on its own, whatever the check does with closed ones).
      assert.equal(s.timeoutsBeforeGoaway(), 0, "no idle timeout before the GOAWAY");
      const socket = await serverSocket;
      assert.equal(socket.destroyed, false, "the server's socket is still open");

      const socketClosed = new Promise<number>((resolve) => socket.once("close", () => resolve(Date.now())));
      const closedAt = await within(socketClosed, 25 * IDLE_PING_MS, "the server to destroy the silent peer's socket");
      await within(s.responseClosed, 5_000, "the stalled response to close");
      assert.equal(s.response.writableFinished, false, "the response never completed: the socket was cut");
      // The verdict waited for the closed session to be idle: a PING, then its deadline.
      assert.ok(closedAt - goawayAt >= IDLE_PING_MS, `socket closed ${closedAt - goawayAt} ms after the GOAWAY`);
    } finally {
      client.socket.destroy();
      await listener.close(100);
    }
  });
});

