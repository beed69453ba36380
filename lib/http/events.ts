// The admin WebSocket `/events` (API.md §5.1) behind `zizq top`: one session per
// connection keeps its three subscribed windows and the last items sent, and on queue
// changes (debounced) sends `job_changed` diffs, removals first, or a fresh snapshot.

import type { EventEmitter } from "node:events";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { WebSocket, WebSocketServer } from "ws";
import { randomBytes } from "node:crypto";
import {
  type AdminJob, type Anchor, type FindAnchor, type FindDirection, type JobWindow, LIST_NAMES, type ListName, PayloadJson,
} from "../queue/admin-view.ts";
import type { ChangeEvent, Queue } from "../queue/queue.ts";
import { crossSiteReason } from "./_same-origin.ts";
import { SERVER_VERSION } from "./routes/health.ts";

export interface EventsOptions {
  /** Heartbeat frame interval. @default 2000 (fixed in the reference; tests shorten it) */
  heartbeatMs?: number;
  /** Quiet time before a change is turned into diffs. @default 100 */
  debounceMs?: number;
  /** Summary mode (extension): least time between two flushes, so between `changed` frames. @default 250 */
  summaryGapMs?: number;
  /**
   * Bytes a session may have waiting in its socket before change frames are dropped and
   * the session owes its reader a fresh snapshot (see Session.behind). @default 1 MiB
   */
  highWaterBytes?: number;
  /** For uptime_ms. @default the time attachEvents was called */
  startedAt?: number;
  logError?: (err: unknown) => void;
  /** Access tokens (auth.ts): a raw HTTP refusal for an upgrade, or undefined to accept it. */
  refuseUpgrade?: (req: IncomingMessage) => string | undefined;
  /**
   * Access tokens: hold an accepted session against its token; `close` ends it if a
   * reload revokes the token. Returns the release, called when the session ends.
   */
  holdSession?: (req: IncomingMessage, close: () => void) => () => void;
}

const DEFAULT_LIMIT = 200;
/** Past this many changed items a diff costs more than a snapshot; resend the windows. */
const MAX_DIFF = 400;
const MAX_LIMIT = 10_000;
const HIGH_WATER_BYTES = 1024 * 1024;
/**
 * Replies (snapshots for subscribe, find results) are sent whatever the backlog: a client
 * waits for them. A client that asks and never reads is ended past this many times the
 * high-water mark, so it cannot grow the server's memory without bound.
 */
const REPLY_BACKLOG_FACTOR = 32;

/** Marks a payload's place in a frame; the nonce keeps any client string from forging one. */
const PAYLOAD_MARK = `\u0000payload-${randomBytes(6).toString("hex")}-`;
const PAYLOAD_MARK_JSON = new RegExp(`"${JSON.stringify(PAYLOAD_MARK).slice(1, -1).replaceAll("\\", "\\\\")}(\\d+)"`, "g");

/** JSON text of a frame or job, with each PayloadJson spliced in as its stored text. */
export function toFrameJson(value: unknown): string {
  const payloads: string[] = [];
  const text = JSON.stringify(value, (_key, v: unknown) =>
    v instanceof PayloadJson ? `${PAYLOAD_MARK}${payloads.push(v.json) - 1}` : v);
  return payloads.length === 0 ? text : text.replace(PAYLOAD_MARK_JSON, (_, n: string) => payloads[Number(n)]!);
}

interface Subscription {
  anchor: Anchor;
  limit: number;
}

/** Largest message a client may send; a bigger one closes its session (1009). */
export const MAX_CLIENT_FRAME_BYTES = 64 * 1024;

/** Serve `/events` upgrades on `server`; returns close(), which ends every session. */
export function attachEvents(server: EventEmitter, queue: Queue, options: EventsOptions = {}): { close(): void } {
  // A client offering subprotocols (the dashboard: "zizq" plus its token, auth.ts) gets
  // "zizq" chosen; one offering none (zizq top) gets none, as before.
  // ws is loaded at the first upgrade: a server nobody watches never pays its memory.
  // Waiting is safe: after 'upgrade' Node leaves the socket paused (readableFlowing null).
  let wss: WebSocketServer | undefined;
  let loading: Promise<WebSocketServer> | undefined;
  let closed = false;
  const wsServer = (): Promise<WebSocketServer> => loading ??= import("ws").then(({ WebSocketServer }) =>
    wss = new WebSocketServer({
      noServer: true,
      handleProtocols: (offered) => (offered.has("zizq") ? "zizq" : false),
      // Client frames are small commands (subscribe, find, delete_job); ws accepts 100 MiB
      // by default, and parsing a 100 MiB message would hold the loop for seconds.
      maxPayload: MAX_CLIENT_FRAME_BYTES,
    }));
  const startedAt = options.startedAt ?? Date.now();
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (req.url ?? "").split("?")[0];
    if (path !== "/events") {
      socket.end("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
      return;
    }
    const refusal = options.refuseUpgrade?.(req);
    if (refusal) {
      socket.end(refusal);
      return;
    }
    // A page on another site could otherwise open the stream and send delete_job.
    if (crossSiteReason((name) => header(req, name))) {
      socket.end("HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n");
      return;
    }
    // `?mode=summary` (extension): start in summary mode with no windows, so the first
    // snapshot carries only totals; without it the session starts as §5.1 says.
    const summary = new URLSearchParams((req.url ?? "").split("?")[1] ?? "").get("mode") === "summary";
    wsServer().then((w) => {
      if (closed) socket.destroy();
      else w.handleUpgrade(req, socket, head, (ws) => {
        new Session(ws, queue, startedAt, options, summary);
        // 1008 (policy violation): the token it was opened with is no longer valid.
        const release = options.holdSession?.(req, () => ws.close(1008, "access token revoked"));
        if (release) ws.once("close", release);
      });
    }, (err: unknown) => {
      socket.destroy();
      (options.logError ?? console.error)(err);
    });
  };
  server.on("upgrade", onUpgrade);
  return {
    close: () => {
      closed = true;
      server.off("upgrade", onUpgrade);
      if (!wss) return;
      for (const ws of wss.clients) ws.terminate();
      wss.close();
    },
  };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

class Session {
  private readonly ws: WebSocket;
  private readonly queue: Queue;
  private readonly startedAt: number;
  private readonly debounceMs: number;
  private readonly logError: (err: unknown) => void;
  private detail = false;
  private readonly subs: Record<ListName, Subscription> = {
    ready: { anchor: { kind: "head" }, limit: DEFAULT_LIMIT },
    in_flight: { anchor: { kind: "head" }, limit: DEFAULT_LIMIT },
    scheduled: { anchor: { kind: "head" }, limit: DEFAULT_LIMIT },
  };
  /** What the client holds: the last window sent per list, items by id as JSON. */
  private readonly sent: Record<ListName, { firstPosition: number; items: Map<string, string> }> = {
    ready: { firstPosition: 0, items: new Map() },
    in_flight: { firstPosition: 0, items: new Map() },
    scheduled: { firstPosition: 0, items: new Map() },
  };
  private pending: NodeJS.Timeout | undefined;
  private needSnapshot = false;
  private lastFlushMs = 0;
  private lastFlushAt = -Infinity;
  private readonly summaryGapMs: number;
  /** Completed and dead jobs since the last flush (§5.1 mode): one `job_changed` frame each. */
  private terminal: { id: string; status: "completed" | "dead" }[] = [];
  /**
   * Summary mode (extension; `set_change_mode`, or the handshake's `?mode=summary`):
   * no per-job `completed`/`dead` frames, and one `changed` frame per debounced batch
   * of changes, whether or not a window moved, with how many jobs completed and died
   * meanwhile.
   */
  private summary = false;
  private completedSince = 0;
  private deadSince = 0;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly unsubscribe: () => void;
  private readonly highWaterBytes: number;
  /**
   * The reader is slower than the changes (a `zizq top` suspended with Ctrl-Z, a stalled
   * link): its socket holds more than highWaterBytes. Change frames and heartbeats are
   * then not queued (they would pile up in memory for as long as the reader stalls); the
   * session waits for its socket to drain and sends one fresh snapshot, which is all the
   * dropped diffs could have told it. Summary counts keep adding up meanwhile.
   */
  private behind = false;

  constructor(ws: WebSocket, queue: Queue, startedAt: number, options: EventsOptions, summary: boolean) {
    this.ws = ws;
    if (summary) {
      // The dashboard's handshake: it would otherwise get 3 × 200 jobs it never shows
      // (sorting every in-flight job for them), then drop them with three subscribes,
      // each answered by a snapshot of all three lists.
      this.summary = true;
      for (const list of LIST_NAMES) this.subs[list] = { anchor: { kind: "head" }, limit: 0 };
    }
    this.queue = queue;
    this.startedAt = startedAt;
    this.debounceMs = options.debounceMs ?? 100;
    this.summaryGapMs = options.summaryGapMs ?? 250;
    this.highWaterBytes = options.highWaterBytes ?? HIGH_WATER_BYTES;
    this.logError = options.logError ?? ((err) => console.error(err));
    this.unsubscribe = queue.onChange((event) => this.onChange(event));
    this.heartbeat = setInterval(() => {
      if (!this.congested()) this.send("heartbeat", {});
    }, options.heartbeatMs ?? 2000);
    ws.on("message", (data, isBinary) => {
      if (isBinary) return;
      this.guard(() => this.onMessage(data.toString()));
    });
    ws.on("close", () => this.stop());
    ws.on("error", () => this.stop());
    this.guard(() => this.snapshot());
  }

  private stop(): void {
    clearInterval(this.heartbeat);
    if (this.pending) clearTimeout(this.pending);
    this.unsubscribe();
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.logError(err);
    }
  }

  private status() {
    const s = this.queue.stats();
    return {
      version: SERVER_VERSION, uptime_ms: Date.now() - this.startedAt, tier: "pro",
      total_ready: s.ready, total_in_flight: s.inFlight, total_scheduled: s.scheduled,
    };
  }

  /** Every frame: `server` first, then `event`, then the kind's fields (§5.1). */
  private send(event: string, fields: Record<string, unknown>): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    if (this.ws.bufferedAmount > this.highWaterBytes * REPLY_BACKLOG_FACTOR) {
      this.ws.terminate(); // a close frame would wait behind the backlog it is ending
      return;
    }
    this.ws.send(toFrameJson({ server: this.status(), event, ...fields }));
  }

  /** More than highWaterBytes wait in the socket (ws counts what the kernel has not taken). */
  private congested(): boolean {
    return this.ws.bufferedAmount > this.highWaterBytes;
  }

  /**
   * Stop queueing change frames until the socket drains. A ping is queued behind the
   * backlog; its write callback runs once everything before it reached the kernel, and
   * the session then catches up with one snapshot (every client answers pings itself).
   */
  private fallBehind(): void {
    this.behind = true;
    this.terminal = [];
    this.needSnapshot = true;
    this.ws.ping(undefined, undefined, (err) => {
      if (err) return; // the session ended; stop() has cleaned up
      this.behind = false;
      this.onChange({ kind: "patched" });
    });
  }

  private onChange(event: ChangeEvent): void {
    if (event.kind === "patched") this.needSnapshot = true;
    else if (event.kind === "completed" || event.kind === "dead") {
      const status = event.kind;
      if (!this.summary) {
        if (!this.behind) for (const id of event.ids) this.terminal.push({ id, status });
      } else if (status === "completed") this.completedSince += event.ids.length;
      else this.deadSince += event.ids.length;
    }
    if (this.behind) return; // the catch-up snapshot will show it
    this.pending ??= setTimeout(() => {
      this.pending = undefined;
      const started = performance.now();
      this.lastFlushAt = started;
      this.guard(() => this.flush());
      this.lastFlushMs = performance.now() - started;
    }, this.waitMs());
  }

  /**
   * How long a change waits before it becomes frames. Debounce: a burst of enqueues
   * becomes one recomputation, not one per job. Windows away from the head cost O(list)
   * to recompute (~70 ms at 1M ready jobs), so the wait grows with the last
   * recomputation: the stream takes at most ~1/5 of the loop. In summary mode flushes
   * also stay `summaryGapMs` apart: under steady load the dashboard gets a few `changed`
   * frames a second, not one per debounce, while a change after a quiet spell still goes
   * out after `debounceMs`.
   */
  private waitMs(): number {
    const wait = Math.max(this.debounceMs, this.lastFlushMs * 4);
    return this.summary ? Math.max(wait, this.lastFlushAt + this.summaryGapMs - performance.now()) : wait;
  }

  private windowOf(list: ListName): JobWindow {
    const sub = this.subs[list];
    // An empty subscription (summary mode only): the total, and no list walk.
    if (sub.limit === 0) return { items: [], first_position: 0, total: this.queue.admin.total(list) };
    return this.queue.admin.window(list, sub.anchor, sub.limit, this.detail);
  }

  private remember(list: ListName, w: JobWindow): void {
    this.sent[list] = { firstPosition: w.first_position, items: new Map(w.items.map((j) => [j.id, toFrameJson(j)])) };
  }

  private snapshot(): void {
    const windows: Partial<Record<ListName, JobWindow>> = {};
    for (const list of LIST_NAMES) {
      windows[list] = this.windowOf(list);
      this.remember(list, windows[list]);
    }
    this.send("job_snapshot", windows);
  }

  private flush(): void {
    if (this.congested()) {
      this.fallBehind();
      return;
    }
    this.flushWindows();
    if (!this.summary || this.behind) return;
    this.send("changed", { completed: this.completedSince, dead: this.deadSince });
    this.completedSince = 0;
    this.deadSince = 0;
  }

  private flushWindows(): void {
    // One frame per finished job (§5.1): a burst can outgrow the reader within one flush.
    for (const e of this.terminal.splice(0)) {
      if (this.congested()) {
        this.fallBehind();
        return;
      }
      this.send("job_changed", { id: e.id, status: e.status });
    }
    if (this.needSnapshot) {
      this.needSnapshot = false;
      this.snapshot();
      return;
    }
    const removals: [string, string][] = [];
    const additions: [string, AdminJob, string][] = [];
    const fresh: [ListName, JobWindow][] = [];
    for (const list of LIST_NAMES) {
      const w = this.windowOf(list);
      const before = this.sent[list];
      // A shifted window start cannot be expressed as diffs of items.
      if (w.first_position !== before.firstPosition) {
        this.needSnapshot = true;
        break;
      }
      const now = new Map<string, string>();
      for (const job of w.items) {
        const json = toFrameJson(job);
        now.set(job.id, json);
        if (before.items.get(job.id) !== json) additions.push([list, job, json]);
      }
      for (const id of before.items.keys()) if (!now.has(id)) removals.push([`${list}_removed`, id]);
      fresh.push([list, w]);
    }
    if (this.needSnapshot || removals.length + additions.length > MAX_DIFF) {
      this.needSnapshot = false;
      this.snapshot();
      return;
    }
    for (const [list, w] of fresh) this.remember(list, w);
    for (const [status, id] of removals) this.send("job_changed", { id, status });
    for (const [status, job] of additions) this.send("job_changed", { id: job.id, status, job });
  }

  private onMessage(text: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return; // §5.1: unparseable frames are ignored
    }
    if (typeof msg !== "object" || msg === null) return;
    const list = LIST_NAMES.includes(msg.list as ListName) ? (msg.list as ListName) : undefined;
    // limit 0 (summary mode only, an extension): follow the list's total without a window.
    const limit = typeof msg.limit === "number" && msg.limit > 0 ? Math.min(Math.floor(msg.limit), MAX_LIMIT)
      : msg.limit === 0 && this.summary ? 0 : DEFAULT_LIMIT;
    switch (msg.type) {
      case "subscribe": {
        const anchor = parseAnchor(msg.anchor);
        if (!list || !anchor) return;
        this.subs[list] = { anchor, limit };
        this.snapshot();
        return;
      }
      case "set_change_mode":
        // Extension (docs/api.md): "summary" for clients that only need to know that
        // something changed (the dashboard); "jobs" is the §5.1 behaviour.
        if (msg.mode !== "summary" && msg.mode !== "jobs") return;
        this.summary = msg.mode === "summary";
        this.terminal = [];
        return;
      case "set_detail_level":
        if (typeof msg.detail !== "boolean") return;
        this.detail = msg.detail;
        this.snapshot();
        return;
      case "delete_job":
        if (typeof msg.id !== "string") return;
        // No reply: the deletion shows up as diffs through onChange.
        this.queue.deleteOne(msg.id).catch(() => {});
        return;
      case "find": {
        const anchor = parseFindAnchor(msg.anchor);
        const direction = msg.direction as FindDirection;
        if (!list || !anchor || !["forward", "backward", "locate"].includes(direction)) return;
        const q = (msg.query ?? {}) as { queues?: unknown; types?: unknown };
        const strings = (v: unknown) => (Array.isArray(v) ? v.filter((s): s is string => typeof s === "string") : []);
        const result = this.queue.admin.find(list, anchor, direction, { queues: strings(q.queues), types: strings(q.types) }, limit);
        this.send("find_result", { list, matched_position: result.matched_position, window: result.window });
        return;
      }
    }
  }
}

function parseAnchor(raw: unknown): Anchor | undefined {
  const a = raw as Record<string, unknown> | null | undefined;
  if (!a || typeof a !== "object") return undefined;
  if (a.kind === "head" || a.kind === "tail") return { kind: a.kind };
  if (a.kind === "offset" && typeof a.offset === "number") return { kind: "offset", offset: a.offset };
  if (a.kind === "around" && typeof a.id === "string") {
    const fallback = a.fallback === "head" || a.fallback === "tail" ? a.fallback : "nowhere";
    return { kind: "around", id: a.id, fallback };
  }
  return undefined;
}

function parseFindAnchor(raw: unknown): FindAnchor | undefined {
  const a = raw as Record<string, unknown> | null | undefined;
  if (!a || typeof a !== "object") return undefined;
  if (a.kind === "start" || a.kind === "end") return { kind: a.kind };
  if (a.kind === "job_id" && typeof a.id === "string") return { kind: "job_id", id: a.id };
  return undefined;
}
