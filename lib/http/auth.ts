// Access tokens (an extension, docs/api.md "Extensions"): `--auth-tokens FILE` holds one
// `scope token` a line (read < write < admin). Every request on both listeners must send
// `Authorization: Bearer <token>`: 401 (with `WWW-Authenticate: Bearer`) when it is missing
// or unknown, 403 when its scope is short. Applied in front of the h3 apps and on the
// admin WebSocket upgrade; TLS and mTLS run before it and are unaffected.
//
// Tokens never leave this module: parse errors name the line, never its text, and the
// set keeps only SHA-256 digests. Lookups compare the presented token's digest with every
// stored digest in constant time (crypto.timingSafeEqual, no early exit), so neither a
// token's bytes nor its position in the file shows in the response time.

import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { routedPath } from "./_path-guard.ts";
import { HttpError, toErrorResponse } from "./errors.ts";
import type { NodeHandler } from "./listen.ts";
import { responseFormat } from "./negotiate.ts";

export const SCOPES = ["read", "write", "admin"] as const;
export type Scope = (typeof SCOPES)[number];
export type ListenerName = "primary" | "admin";

/** A token file that cannot be used; the message names the line, never the token. */
export class TokenFileError extends Error {}

interface Entry {
  scope: Scope;
  digest: Buffer;
}

const digestOf = (token: string): Buffer => createHash("sha256").update(token, "utf8").digest();
/** Visible ASCII without spaces: what an HTTP Authorization header can carry as is. */
const TOKEN_TEXT = /^[\x21-\x7e]+$/;

/**
 * Parse a token file: `scope token` per line; blank lines and `#` comments are skipped.
 * @throws TokenFileError naming the first bad line, or when there is no token at all.
 */
export function parseTokenFile(text: string, file = "token file"): Entry[] {
  const entries: Entry[] = [];
  const seen = new Map<string, number>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const where = `${file} line ${i + 1}`;
    const fields = line.split(/\s+/);
    if (fields.length !== 2) throw new TokenFileError(`${where}: expected "<scope> <token>" (${fields.length} fields)`);
    const [scope, token] = fields as [string, string];
    if (!(SCOPES as readonly string[]).includes(scope)) {
      throw new TokenFileError(`${where}: unknown scope (expected ${SCOPES.join(", ")})`);
    }
    if (!TOKEN_TEXT.test(token)) throw new TokenFileError(`${where}: the token must be printable ASCII without spaces`);
    if (token.length < 16) throw new TokenFileError(`${where}: the token is shorter than 16 characters`);
    const digest = digestOf(token);
    const key = digest.toString("hex");
    if (seen.has(key)) throw new TokenFileError(`${where}: the same token as line ${seen.get(key)}`);
    seen.set(key, i + 1);
    entries.push({ scope: scope as Scope, digest });
  });
  if (entries.length === 0) throw new TokenFileError(`${file}: no tokens (one "<scope> <token>" per line)`);
  return entries;
}

/** A long-lived request (a take stream, an /events session) and what its token must grant. */
interface Hold {
  digest: Buffer;
  needed: Scope;
  close: () => void;
}

/** Where withTokens leaves, on an accepted request, how to hold it open (see TokenAuth.hold). */
export const HOLD_WHILE_VALID = Symbol("zizq.holdWhileValid");
export type HoldWhileValid = (close: () => void) => () => void;

/**
 * The current token set; replaced whole by reload (SIGHUP), so a request sees one or the
 * other. Long-lived requests are held against it: a reload that revokes their token, or
 * lowers its scope below what they needed, closes them.
 */
export class TokenAuth {
  private entries: Entry[];
  private readonly holds = new Set<Hold>();

  constructor(text: string, file?: string) {
    this.entries = parseTokenFile(text, file);
  }

  get size(): number {
    return this.entries.length;
  }

  /**
   * Replace the tokens; on a bad file the old ones stay and the error is thrown. Held
   * requests whose token no longer grants what they needed are closed. Why: a take stream
   * or an /events session opened with a leaked token went on receiving jobs (and deleting
   * them) after the token was removed and the file reloaded.
   */
  reload(text: string, file?: string): void {
    this.entries = parseTokenFile(text, file);
    for (const h of [...this.holds]) {
      if (this.grants(this.scopeOfDigest(h.digest), h.needed)) continue;
      this.holds.delete(h);
      h.close();
    }
  }

  /**
   * Registers a long-lived request made with `token`, which needed `needed`: `close` is
   * called if a reload takes that away. Returns the release to call when it ends.
   */
  hold(token: string, needed: Scope, close: () => void): () => void {
    const h: Hold = { digest: digestOf(token), needed, close };
    this.holds.add(h);
    return () => this.holds.delete(h);
  }

  private grants(scope: Scope | undefined, needed: Scope): boolean {
    return scope !== undefined && SCOPES.indexOf(scope) >= SCOPES.indexOf(needed);
  }

  /** The scope of a presented token, or undefined. Constant time in the token and its position. */
  scopeOf(token: string): Scope | undefined {
    return this.scopeOfDigest(digestOf(token));
  }

  private scopeOfDigest(digest: Buffer): Scope | undefined {
    let found = -1;
    for (const e of this.entries) {
      const match = timingSafeEqual(e.digest, digest);
      // No branch on the secret's position: pick the highest matching rank arithmetically.
      found = Math.max(found, match ? SCOPES.indexOf(e.scope) : -1);
    }
    return found === -1 ? undefined : SCOPES[found];
  }

  /** The error a request gets, or undefined when it may go on. */
  check(headers: IncomingHttpHeaders, method: string, path: string, listener: ListenerName): HttpError | undefined {
    const needed = requiredScope(method, path, listener);
    if (needed === undefined) return undefined;
    const header = headers.authorization;
    const token = bearerOf(header);
    const scope = token === undefined ? undefined : this.scopeOf(token);
    if (scope === undefined) {
      return new HttpError(401, header === undefined ? "missing access token" : "invalid access token", undefined, {
        "www-authenticate": header === undefined ? 'Bearer realm="zizq"' : 'Bearer realm="zizq", error="invalid_token"',
      });
    }
    if (SCOPES.indexOf(scope) < SCOPES.indexOf(needed)) {
      return new HttpError(403, `this token's scope is ${scope}; ${method} ${path} needs ${needed}`);
    }
    return undefined;
  }
}

/** The token of an `Authorization: Bearer <token>` header (scheme in any case), or undefined. */
function bearerOf(header: string | undefined): string | undefined {
  const m = header === undefined ? null : /^Bearer +(\S+) *$/i.exec(header);
  return m ? m[1]! : undefined;
}

/**
 * What a request needs. Primary: `GET /health` is open (load balancers probe it);
 * other reads need `read`; taking jobs and every write need `write`; pausing and resuming
 * queues and `POST /reset` need `admin`. Everything on the admin listener needs `admin`.
 */
export function requiredScope(method: string, path: string, listener: ListenerName): Scope | undefined {
  if (path === MALFORMED) return "admin";
  const read = method === "GET" || method === "HEAD";
  // The dashboard's page and hashed assets carry no data (its data calls need the token).
  if (listener === "admin") return read && (path === "/" || path.startsWith("/assets/")) ? undefined : "admin";
  if (read) {
    if (path === "/health") return undefined;
    return path === "/jobs/take" ? "write" : "read";
  }
  if (path === "/reset" || /^\/queues\/[^/]+\/(pause|resume)$/.test(path)) return "admin";
  return "write";
}

/**
 * The path the router will reach (routedPath), which is what a request's scope is judged
 * on. A malformed target (the routers answer it 404) is judged as needing every scope, so
 * no spelling can pass the check as a lesser route.
 */
function checkedPath(rawUrl: string | undefined): string {
  return routedPath(rawUrl ?? "/") ?? MALFORMED;
}

/** Not a path any route has: requiredScope gives it "admin" on either listener. */
const MALFORMED = "\0malformed";

/** `handler` behind the token check; refused requests get the JSON (or MessagePack) error. */
export function withTokens(handler: NodeHandler, auth: TokenAuth, listener: ListenerName): NodeHandler {
  const call = handler as (req: IncomingMessage, res: ServerResponse) => unknown;
  return (req: IncomingMessage, res: ServerResponse) => {
    const path = checkedPath(req.url);
    const method = req.method ?? "GET";
    const denied = auth.check(req.headers, method, path, listener);
    if (!denied) {
      // The route that keeps the request open (the take stream) holds it against the
      // token; only there, since every other request (an ack at W3's rate) ends anyway.
      const token = path === "/jobs/take" ? bearerOf(req.headers.authorization) : undefined;
      if (token !== undefined) {
        const needed = requiredScope(method, path, listener)!; // "write": check() let it through
        (req as unknown as Record<symbol, HoldWhileValid>)[HOLD_WHILE_VALID] = (close) => auth.hold(token, needed, close);
      }
      return call(req, res);
    }
    const format = listener === "admin" ? "json" : responseFormat(req.headers.accept) ?? "json";
    const { status, headers, body } = toErrorResponse(denied, format, () => {});
    res.writeHead(status, headers);
    res.end(body);
    return undefined;
  };
}

/** The token an /events handshake presents (header, or the dashboard's subprotocol). */
function upgradeHeaders(req: IncomingMessage): IncomingHttpHeaders {
  const fromProtocol = req.headers.authorization === undefined ? bearerFromProtocols(req.headers["sec-websocket-protocol"]) : undefined;
  return fromProtocol === undefined ? req.headers : { ...req.headers, authorization: `Bearer ${fromProtocol}` };
}

/** For an accepted /events session: hold it against its token (closed if a reload revokes it). */
export function holdUpgrade(auth: TokenAuth, req: IncomingMessage, close: () => void): () => void {
  const token = bearerOf(upgradeHeaders(req).authorization);
  return token === undefined ? () => {} : auth.hold(token, "admin", close);
}

/** For the admin WebSocket upgrade: a raw HTTP/1.1 refusal, or undefined to go on. */
export function upgradeRefusal(auth: TokenAuth, req: IncomingMessage): string | undefined {
  const path = checkedPath(req.url);
  const denied = auth.check(upgradeHeaders(req), "GET", path, "admin");
  if (!denied) return undefined;
  const body = JSON.stringify({ error: denied.message });
  const extra = Object.entries(denied.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join("");
  return `HTTP/1.1 ${denied.status} ${denied.status === 401 ? "Unauthorized" : "Forbidden"}\r\n${extra}content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}

/** The subprotocol that carries a token, `WS_BEARER_PREFIX` + base64url(token). */
export const WS_BEARER_PREFIX = "zizq.bearer.";

/**
 * A browser cannot set Authorization on a WebSocket handshake; the dashboard offers the
 * token as a subprotocol instead (`["zizq", "zizq.bearer.<base64url>"]`; the server picks
 * "zizq"). Not a query parameter: URLs end up in proxy logs and browser history.
 */
export function bearerFromProtocols(header: string | undefined): string | undefined {
  for (const p of (header ?? "").split(",")) {
    const v = p.trim();
    if (v.startsWith(WS_BEARER_PREFIX)) return Buffer.from(v.slice(WS_BEARER_PREFIX.length), "base64url").toString("utf8");
  }
  return undefined;
}
