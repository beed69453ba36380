// The client's error classes (CLIENT-API.md §8) and the one status-to-class mapping.
// Every class sets `name` to its own class name; `ResponseError` carries the HTTP status
// and the decoded body, and its message is the server's `error` text when there is one.

/** Base class of every error the client raises about the server or the network. */
export class ZizqError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/**
 * The request never got a response (refused, reset, DNS, connect or header timeout).
 * `clientClosed` (our addition to the official class) is true when the call failed because
 * the client itself had been closed by the app: the embedded queue after `close()`, a
 * Client after `close()` or `destroy()`. Unlike
 * a server that is down, that does not heal, so a Worker stops instead of retrying.
 */
export class ConnectionError extends ZizqError {
  readonly #clientClosed: boolean;

  constructor(message: string, options?: { clientClosed?: boolean }) {
    super(message);
    this.#clientClosed = options?.clientClosed === true;
  }

  /**
   * A getter, not a field: an own field would print as `{ clientClosed: false }` beside
   * every connection error the app logs.
   */
  get clientClosed(): boolean {
    return this.#clientClosed;
  }
}

/** The server answered with a status the method does not accept. */
export class ResponseError extends ZizqError {
  constructor(message: string, readonly status: number, readonly body?: unknown) {
    super(message);
  }
}

/** 4xx: the request is wrong; retrying it unchanged will not help. */
export class ClientError extends ResponseError {}

export class NotFoundError extends ClientError {
  constructor(message: string, body?: unknown) {
    super(message, 404, body);
  }
}

/** 409. The official entry does not export it (CLIENT-API.md §1.3); ours does (a superset). */
export class ConflictError extends ClientError {
  constructor(message: string, body?: unknown) {
    super(message, 409, body);
  }
}

/** 5xx. */
export class ServerError extends ResponseError {}

/** A `TestClient` method that has no in-memory equivalent. */
export class NotSupportedError extends ZizqError {
  constructor(method: string) {
    super(`TestClient.${method} is not supported. Use a real Client against a server for this call.`);
  }
}

/** A `Router` got a job whose type has no route and no fallback. Not a ZizqError. */
export class UnknownJobTypeError extends Error {
  constructor(readonly type: string) {
    super(`No handler registered for job type "${type}"`);
    this.name = "UnknownJobTypeError";
  }
}

/** The error for `status`, with the body's `error` as message when present (§8.2). */
export function buildResponseError(status: number, body: unknown): ResponseError {
  const text = (body as { error?: unknown } | null | undefined)?.error;
  const message = text !== undefined && text !== null ? String(text) : `HTTP ${status}`;
  if (status === 404) return new NotFoundError(message, body);
  if (status === 409) return new ConflictError(message, body);
  if (status >= 400 && status < 500) return new ClientError(message, status, body);
  if (status >= 500) return new ServerError(message, status, body);
  return new ResponseError(message, status, body);
}
