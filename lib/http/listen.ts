// The network listener: binds one TCP port and serves HTTP/1.1 and HTTP/2 on it (API.md §1.1).
// Plain TCP: each socket's first bytes are sniffed for the h2 preface and handed to an
// HTTP/2 (h2c) or HTTP/1.1 server. TLS: ALPN picks h2 or http/1.1, optional mTLS.
// close() drains in-flight requests, GOAWAYs h2 sessions and destroys leftovers after a grace.
// h2 sessions whose peer is gone, and h2 streams the peer closed mid-response, are destroyed.
//
// Why not listhen (measured, see docs/protocols.md): `port: 0` binds 3000, it builds only
// http/https servers (no h2 ALPN), and its close() waits forever on a live take stream.

import http from "node:http";
import http2 from "node:http2";
import type { AddressInfo, Server, Socket } from "node:net";
import { MAX_HEADER_BYTES, answerClientError, answerConnect, answerExpectation, answeredMissingHost } from "./_client-errors.ts";

/** A Node request listener for both protocol versions, e.g. `toNodeHandler(app)` from `h3/node`. */
export type NodeHandler =
  | ((req: http.IncomingMessage, res: http.ServerResponse) => unknown)
  | ((req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => unknown);

export interface TlsOptions {
  /** Server certificate chain, PEM contents. */
  cert: string | Buffer;
  /** Server private key, PEM contents. */
  key: string | Buffer;
  /** When set: mTLS. Clients must present a certificate issued by this CA (PEM contents). */
  clientCa?: string | Buffer;
}

export interface ListenOptions {
  host: string;
  /** 0 = an ephemeral port chosen by the OS. */
  port: number;
  /** Serve TLS (ALPN h2 + http/1.1) instead of plain TCP. */
  tls?: TlsOptions;
  /** Label used in error messages, e.g. "primary" or "admin". @default "http" */
  name?: string;
  /**
   * An HTTP/2 connection silent this long gets a PING; no ACK within the same time and
   * it is destroyed. Why: after a protocol error (garbage frames) nghttp2 sends GOAWAY
   * and stops reading, but Node never closes the socket. Healthy peers ACK automatically.
   * @default 10000
   */
  h2IdlePingMs?: number;
}

export interface Listener {
  /** The real bound URL, e.g. `http://127.0.0.1:54321`. */
  url: string;
  port: number;
  scheme: "http" | "https";
  /** The listening server (http.Server for plain TCP, Http2SecureServer for TLS). */
  server: Server;
  /**
   * Stop accepting, let in-flight requests finish, close idle keep-alive sockets and h2
   * sessions, and destroy whatever is left after `graceMs`. Idempotent.
   * @default graceMs 3000
   */
  close(graceMs?: number): Promise<void>;
}

const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
/** A socket that sends nothing decisive within this time is dropped. */
const SNIFF_TIMEOUT_MS = 10_000;

type AnyRequest = http.IncomingMessage | http2.Http2ServerRequest;
type AnyResponse = http.ServerResponse | http2.Http2ServerResponse;

export async function listen(handler: NodeHandler, opts: ListenOptions): Promise<Listener> {
  const name = opts.name ?? "http";
  const call = handler as (req: AnyRequest, res: AnyResponse) => unknown;

  // Connection bookkeeping for close(). Invariant: every accepted TCP socket is in
  // `rawSockets` (and, once its handshake is done, its TLSSocket in `tlsSockets`) until it
  // closes; every HTTP/1 socket maps to its in-flight request count in `h1Active`.
  const rawSockets = new Set<Socket>();
  const tlsSockets = new Set<Socket>();
  const h1Active = new Map<Socket, number>();
  const sessions = new Set<http2.Http2Session>();
  /** Plain sockets whose protocol is known (handed to the h1 or h2c server). */
  const sniffed = new WeakSet<Socket>();
  let closing = false;

  const onRequest = (req: AnyRequest, res: AnyResponse): void => {
    if (req.httpVersionMajor === 1) {
      if (answeredMissingHost(req as http.IncomingMessage, res as http.ServerResponse)) return;
      const socket = req.socket;
      h1Active.set(socket, (h1Active.get(socket) ?? 0) + 1);
      // During shutdown, ask Node to end the keep-alive connection after this response.
      if (closing) (res as http.ServerResponse).setHeader("connection", "close");
      res.once("close", () => {
        const left = (h1Active.get(socket) ?? 1) - 1;
        if (h1Active.has(socket)) h1Active.set(socket, left);
        if (closing && left === 0) socket.end();
      });
    } else {
      // Two listeners and a shared function: no closure or timer per request.
      (res as http2.Http2ServerResponse).stream.on("aborted", destroyIfPeerClosed).on("end", destroyIfPeerClosed);
    }
    call(req, res);
  };
  // The socket of the session being created: 'session' fires synchronously inside the
  // h2 server's connection listener, and the session itself only exposes a proxy.
  let sessionSocket: Socket | undefined;
  const idlePingMs = opts.h2IdlePingMs ?? 10_000;
  const trackSession = (session: http2.Http2Session): void => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    if (closing) session.close();
    const socket = sessionSocket;
    if (socket) watchLiveness(session, socket, idlePingMs);
  };
  const trackH1 = (socket: Socket): void => {
    h1Active.set(socket, 0);
    socket.once("close", () => h1Active.delete(socket));
  };

  let server: Server;
  if (opts.tls) {
    const secure = http2.createSecureServer(
      {
        cert: opts.tls.cert,
        key: opts.tls.key,
        allowHTTP1: true,
        ...(opts.tls.clientCa
          ? { ca: opts.tls.clientCa, requestCert: true, rejectUnauthorized: true }
          : {}),
      },
      onRequest,
    );
    secure.on("session", trackSession);
    // Runs before (prepend) and after the h2 server's own listener, which makes the session.
    secure.prependListener("secureConnection", (tlsSocket) => {
      sessionSocket = tlsSocket;
    });
    secure.on("secureConnection", (tlsSocket) => {
      sessionSocket = undefined;
      tlsSockets.add(tlsSocket);
      tlsSocket.once("close", () => tlsSockets.delete(tlsSocket));
      if (tlsSocket.alpnProtocol !== "h2") trackH1(tlsSocket);
    });
    server = secure;
  } else {
    // requireHostHeader off: onRequest answers the missing Host itself, with a JSON body.
    const h1 = http.createServer({ maxHeaderSize: MAX_HEADER_BYTES, requireHostHeader: false }, onRequest);
    h1.on("clientError", answerClientError).on("checkExpectation", answerExpectation).on("connect", answerConnect);
    // Not listening itself: it only receives sockets whose first bytes are the h2 preface.
    const h2c = http2.createServer(onRequest);
    h2c.on("session", trackSession);
    // http.Server must be the listening server (its header/request timeout timers start on
    // 'listening'), so we swap its own connection listener for the sniffer before listen().
    const [h1Connection] = h1.listeners("connection") as ((s: Socket) => void)[];
    h1.removeListener("connection", h1Connection);
    h1.prependListener("connection", (socket: Socket) =>
      sniff(
        socket,
        (s) => {
          sniffed.add(s);
          trackH1(s);
          h1Connection.call(h1, s);
        },
        (s) => {
          sniffed.add(s);
          sessionSocket = s;
          h2c.emit("connection", s);
          sessionSocket = undefined;
        },
      ),
    );
    server = h1;
  }
  server.on("connection", (socket: Socket) => {
    rawSockets.add(socket);
    socket.once("close", () => rawSockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) =>
      reject(new Error(`${name} listener: cannot bind ${opts.host}:${opts.port}: ${err.message}`, { cause: err }));
    server.once("error", onError);
    server.listen(opts.port, opts.host, () => {
      server.off("error", onError);
      resolve();
    });
  });

  const address = server.address() as AddressInfo;
  const scheme = opts.tls ? "https" : "http";
  const hostPart = address.family === "IPv6" ? `[${address.address}]` : address.address;
  let closed: Promise<void> | undefined;

  const close = (graceMs = 3000): Promise<void> => {
    closed ??= new Promise<void>((resolve) => {
      closing = true;
      const deadline = setTimeout(() => {
        for (const session of sessions) session.destroy();
        for (const socket of [...tlsSockets, ...rawSockets]) socket.destroy();
      }, graceMs);
      server.close(() => {
        clearTimeout(deadline);
        resolve();
      });
      // GOAWAY: no new streams; open ones may finish until the deadline.
      for (const session of sessions) session.close();
      for (const [socket, active] of h1Active) if (active === 0) socket.destroy();
      // Plain sockets still being sniffed have not sent a request yet. (TLS sockets still
      // handshaking are left to the deadline: Node exposes no public raw→TLS socket link.)
      for (const socket of rawSockets) if (!opts.tls && !sniffed.has(socket)) socket.destroy();
    });
    return closed;
  };

  return { url: `${scheme}://${hostPart}:${address.port}`, port: address.port, scheme, server, close };
}

/**
 * Listener for a server h2 stream's 'aborted' and 'end': once the peer has closed the
 * stream (`closed`) while our response is unfinished, destroys it on the next tick, so the
 * response closes and its body's source is cancelled (a backup releases its snapshot).
 *
 * Why: on RST_STREAM(NO_ERROR) Node 20 does not destroy a stream whose request side is
 * still readable (lib/internal/http2/core.js `onStreamClose`): it waits for 'end', then
 * (`kMaybeDestroy`) for the writable side to finish, and the queued writes of a stream the
 * peer closed never complete. Nothing ends it but the session's end, which a live client
 * never brings; any other code, or a request side already read, is destroyed by Node.
 * 'aborted' comes when the response was still being written, 'end' (after `closed`) when
 * it was ended with bytes still queued. Destroying sends nothing: the stream is closed.
 * The next tick lets Node's own close handling finish first.
 * Requires: nothing calls close(NO_ERROR) on a server stream to flush it gracefully
 * (`closed` is set at once then, and this would cut the flush short).
 */
function destroyIfPeerClosed(this: http2.ServerHttp2Stream): void {
  if (this.closed && !this.writableFinished) process.nextTick(destroyHeldStream, this);
}

function destroyHeldStream(stream: http2.ServerHttp2Stream): void {
  if (!stream.destroyed) stream.destroy();
}

/**
 * PINGs `session` after `idleMs` without frames and destroys `socket` unless the ACK comes
 * within `idleMs`; re-armed after each ACK. (Http2Session.destroy() alone left such a
 * socket open in our probe, so the socket itself is destroyed.)
 *
 * Why the verdict waits two loop turns after the guard fires: timers run before I/O is
 * polled, so after a stall of our own loop (GC, a long sync task, the process descheduled
 * on a busy machine) the guard fires while the ACK sits unread in the kernel. An in-process
 * peer (tests, an app that embeds the server and its client) may not even have read the
 * PING yet. One turn lets the peer read the PING and write its ACK, the next lets us read
 * it: a stalled loop must not convict a healthy peer. A dead peer costs two turns more.
 */
function watchLiveness(session: http2.Http2Session, socket: Socket, idleMs: number): void {
  const onIdle = (): void => {
    // A closed session (GOAWAY received, or close() called) still waits for its streams:
    // it is judged like any other, or one whose peer is gone stays for good.
    if (session.destroyed) return;
    let acked = false;
    const judge = (): void => {
      if (!acked) socket.destroy();
    };
    const guard = setTimeout(() => setImmediate(() => setImmediate(judge)), idleMs);
    try {
      session.ping((err) => {
        acked = true;
        clearTimeout(guard);
        if (err) socket.destroy();
        else if (!session.closed && !session.destroyed) session.setTimeout(idleMs); // re-arm
      });
    } catch {
      clearTimeout(guard);
      socket.destroy();
    }
  };
  session.on("timeout", onIdle);
  session.setTimeout(idleMs);
}

/**
 * Reads a plain socket's first bytes and hands it to `h2` if they are the HTTP/2 preface,
 * else to `h1`. The bytes are unshifted back so the chosen server parses them itself.
 * Requires: called from the listening server's 'connection' event, before any read.
 */
function sniff(socket: Socket, h1: (s: Socket) => void, h2: (s: Socket) => void): void {
  let buffered: Buffer = Buffer.alloc(0);
  const kill = (): void => {
    socket.destroy();
  };
  const onReadable = (): void => {
    for (let chunk: Buffer | null; (chunk = socket.read() as Buffer | null) !== null; ) {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    }
    const n = Math.min(buffered.length, H2_PREFACE.length);
    if (n === 0) return;
    const isPreface = buffered.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
    if (isPreface && n < H2_PREFACE.length) return; // partial preface: wait for more
    socket.off("readable", onReadable).off("error", kill).off("end", kill).setTimeout(0);
    socket.unshift(buffered);
    if (isPreface) {
      // Without this a client FIN never ends the h2 session (http.Server sockets are half-open).
      socket.allowHalfOpen = false;
      h2(socket);
    } else {
      h1(socket);
    }
  };
  socket.on("readable", onReadable).on("error", kill).on("end", kill).setTimeout(SNIFF_TIMEOUT_MS, kill);
}
