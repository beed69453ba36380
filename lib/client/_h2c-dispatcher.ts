// The RPC dispatcher for http:// servers: ONE node:http2 session with prior knowledge
// (h2c), shaped as an undici Dispatcher so the Client and subclasses see what the official
// client has. Why not undici's own h2 client: it completes one response per event-loop
// turn, so 16 concurrent calls each leave in their own TCP write and the server answers
// each alone (measured: one write per request, 4x the CPU per call on both sides, see
// bench/client-w1.ts). node:http2 batches whatever is written in the same turn.

import http2 from "node:http2";
import { Dispatcher, errors } from "undici";

export interface H2cOptions {
  connectTimeout: number;
  headersTimeout: number;
  bodyTimeout: number;
  maxConcurrentStreams: number;
}

type Handler = Dispatcher.DispatchHandler;
const { HTTP2_HEADER_METHOD, HTTP2_HEADER_PATH, HTTP2_HEADER_STATUS } = http2.constants;

/** Whether a connect was refused (the code sits on the error or, for h2 streams, its cause). */
function refused(err: Error): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if ((e as NodeJS.ErrnoException).code === "ECONNREFUSED") return true;
  }
  return false;
}

export class H2cDispatcher extends Dispatcher {
  #session: http2.ClientHttp2Session | undefined;
  /** Why each session failed (a connect error), to name it on its streams. */
  #sessionErrors = new WeakMap<http2.ClientHttp2Session, Error>();
  /** Sessions that completed their connect: their streams may have reached the server. */
  #connected = new WeakSet<http2.ClientHttp2Session>();
  #active = 0;
  #closed = false;

  constructor(readonly origin: string, readonly options: H2cOptions) {
    super();
  }

  #connect(): http2.ClientHttp2Session {
    if (this.#session && !this.#session.closed && !this.#session.destroyed) return this.#session;
    const session = this.openSession();
    const timer = setTimeout(() => {
      const err = new errors.ConnectTimeoutError(`Connect Timeout Error (attempted address: ${new URL(this.origin).host}, timeout: ${this.options.connectTimeout}ms)`);
      session.destroy(err);
    }, this.options.connectTimeout);
    session.once("connect", () => { clearTimeout(timer); this.#connected.add(session); });
    session.on("error", (err) => { if (!this.#sessionErrors.has(session)) this.#sessionErrors.set(session, err); });
    session.once("close", () => {
      clearTimeout(timer);
      if (this.#session === session) this.#session = undefined;
    });
    session.once("goaway", () => { if (this.#session === session) this.#session = undefined; });
    session.unref();
    this.#session = session;
    return session;
  }

  override dispatch(opts: Dispatcher.DispatchOptions, handler: Handler): boolean {
    if (this.#closed) throw new errors.ClientDestroyedError();
    const headers: http2.OutgoingHttpHeaders = { [HTTP2_HEADER_METHOD]: opts.method, [HTTP2_HEADER_PATH]: opts.path };
    for (const [name, value] of Object.entries((opts.headers ?? {}) as Record<string, string>)) headers[name.toLowerCase()] = value;
    const body = opts.body as string | Buffer | undefined | null;
    let current: http2.ClientHttp2Stream | undefined;
    let settled = false;
    const send = (retried: boolean): void => {
      const session = this.#connect();
      const stream = session.request(headers, { endStream: body == null });
      current = stream;
      // The session only holds the process open while a call is running (as undici does).
      if (this.#active++ === 0) session.ref();
      let done = false;
      const finish = () => {
        if (done) return false;
        done = true;
        if (--this.#active === 0 && !session.destroyed) session.unref();
        return true;
      };
      const fail = (err: Error) => {
        // nghttp2 says the session is over its memory limits (bodies now go out in pieces,
        // see writeBody, so this should not happen): it then refuses every later stream on
        // it too, so new calls get a new session instead of the same error for ever.
        if (stream.rstCode === http2.constants.NGHTTP2_ENHANCE_YOUR_CALM && this.#session === session) {
          this.#session = undefined;
          session.close();
        }
        if (!finish() || settled) return;
        // A session that never connected sent nothing: its streams can go again, once, on a
        // fresh session. Without this, a call made just after a server came back could ride
        // a connect attempt begun while it was down (say, a Worker's reconnect) and fail
        // with that attempt's ECONNREFUSED. Only a refusal is retried: it costs a round trip,
        // where a second connect timeout would double the wait.
        if (!retried && !this.#closed && !this.#connected.has(session) && refused(err)) {
          if (this.#session === session) this.#session = undefined;
          send(true);
          return;
        }
        settled = true;
        handler.onError?.(err);
      };
      // undici's own error classes throughout (BodyTimeoutError, …), so `instanceof` and
      // `err.name` checks written for the official client hold on http:// too.
      // One timeout listener for both phases: setTimeout(ms, cb) adds a listener each
      // time, and the headers one used to fire during a stalled body too.
      let responded = false;
      stream.setTimeout(this.options.headersTimeout);
      stream.on("timeout", () => {
        stream.destroy(responded
          ? new errors.BodyTimeoutError()
          : new errors.HeadersTimeoutError());
      });
      stream.once("response", (responseHeaders) => {
        responded = true;
        stream.setTimeout(this.options.bodyTimeout);
        const raw: string[] = [];
        for (const [name, value] of Object.entries(responseHeaders)) {
          if (!name.startsWith(":") && value !== undefined) raw.push(name, String(value));
        }
        handler.onHeaders?.(Number(responseHeaders[HTTP2_HEADER_STATUS]), raw as unknown as Buffer[], () => {}, "");
      });
      stream.on("data", (chunk: Buffer) => { handler.onData?.(chunk); });
      // Complete only on a clean close after a response: an 'end' also comes when the
      // connection drops before any answer (read as an empty 200-less body: a SyntaxError)
      // or is reset mid-body (half a body decoded as whole). No trailers: an empty list,
      // which undici's own request() reads as raw headers.
      let ended = false;
      stream.once("end", () => { ended = true; });
      stream.once("error", (err) => fail(this.#errorOf(session) ?? err));
      stream.once("close", () => {
        if (responded && ended && (stream.rstCode ?? 0) === http2.constants.NGHTTP2_NO_ERROR) {
          if (finish()) { settled = true; handler.onComplete?.([]); }
          return;
        }
        // Closed without a response, or reset: the session went away under it.
        fail(this.#errorOf(session) ?? new errors.SocketError(
          responded ? `the response was cut off (stream reset, code ${stream.rstCode})` : "the connection closed before a response",
        ));
      });
      if (body != null) writeBody(stream, body);
    };
    send(false);
    handler.onConnect?.((err?: Error) => current?.destroy(err));
    return true;
  }

  /** Starts a session to the origin (a seam: a test points the first one elsewhere). */
  protected openSession(): http2.ClientHttp2Session {
    return http2.connect(this.origin, { peerMaxConcurrentStreams: this.options.maxConcurrentStreams, settings: { enablePush: false } });
  }

  #errorOf(session: http2.ClientHttp2Session): Error | undefined {
    return this.#sessionErrors.get(session);
  }

  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    this.#closed = true;
    const session = this.#session;
    // ref() first: an idle session is unref'd, and a close awaited at the top level of a
    // script must keep the process alive until it is done.
    session?.ref();
    const done = session && !session.destroyed ? new Promise<void>((resolve) => session.close(() => resolve())) : Promise.resolve();
    if (callback) void done.then(callback);
    else return done;
  }

  override destroy(): Promise<void>;
  override destroy(err: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(err: Error | null, callback: () => void): void;
  override destroy(a?: Error | null | (() => void), b?: () => void): Promise<void> | void {
    this.#closed = true;
    const err = typeof a === "function" ? undefined : a ?? undefined;
    const callback = typeof a === "function" ? a : b;
    this.#session?.destroy(err);
    this.#session = undefined;
    if (callback) queueMicrotask(callback);
    else return Promise.resolve();
  }
}

/** Bodies longer than this go out a piece at a time (bytes; UTF-16 units for text). */
export const BODY_PIECE = 1024 * 1024;

/**
 * Sends a request body, waiting for 'drain' between pieces of a long one. Why: a body
 * written at once is queued whole in the session, and nghttp2 counts it against the
 * session's memory limit (10 MB by default); a 40 MB enqueue was then refused with
 * ENHANCE_YOUR_CALM, a ConnectionError callers retry, where the server answers 413. Once
 * the stream is closed (the server answered early, say) the rest is not sent.
 */
function writeBody(stream: http2.ClientHttp2Stream, body: string | Buffer): void {
  if (body.length <= BODY_PIECE) {
    stream.end(body);
    return;
  }
  const bytes = typeof body === "string" ? Buffer.from(body) : body;
  let at = 0;
  const pump = (): void => {
    while (at < bytes.length) {
      if (stream.destroyed || stream.closed) return;
      const end = Math.min(bytes.length, at + BODY_PIECE);
      const room = stream.write(bytes.subarray(at, end));
      at = end;
      if (!room) {
        stream.once("drain", pump);
        return;
      }
    }
    stream.end();
  };
  pump();
}
