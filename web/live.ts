// The admin /events WebSocket (the stream behind `zizq top`): server status on every
// frame, the three ordered lists as windows, and change notices. Reconnects every 2 s
// like `zizq top`. Pages subscribe to `changes` to refresh what they show.

export type ListName = "in_flight" | "ready" | "scheduled";
export const LIVE_LISTS: readonly ListName[] = ["in_flight", "ready", "scheduled"];

export interface AdminJob {
  id: string;
  queue: string;
  job_type: string;
  priority: number;
  ready_at: number;
  attempts: number;
  dequeued_at?: number;
  failed_at?: number;
}

export interface JobWindow {
  items: AdminJob[];
  first_position: number;
  total: number;
}

export interface ServerStatus {
  version: string;
  uptime_ms: number;
  total_ready: number;
  total_in_flight: number;
  total_scheduled: number;
}

type Listener = (kind: "status" | "windows" | "change", id?: string) => void;

export class Live {
  connected = false;
  server: ServerStatus | undefined;
  readonly windows: Record<ListName, JobWindow> = {
    in_flight: { items: [], first_position: 0, total: 0 },
    ready: { items: [], first_position: 0, total: 0 },
    scheduled: { items: [], first_position: 0, total: 0 },
  };
  /**
   * The window each list is subscribed to. None (limit 0, summary mode) until a page
   * shows the list: the server recomputes and diffs every window after each batch of
   * changes, and the overview needs only the totals every frame carries.
   */
  private readonly subs: Record<ListName, { offset: number; limit: number }> = {
    in_flight: { offset: 0, limit: 0 }, ready: { offset: 0, limit: 0 }, scheduled: { offset: 0, limit: 0 },
  };
  private ws: WebSocket | undefined;
  private readonly listeners = new Set<Listener>();

  start(): void {
    // Summary mode with no windows from the handshake on (docs/api.md, Extensions): one
    // "changed" frame per batch of changes, and no job lists until a page shows one.
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/events?mode=summary`;
    const bearer = sessionStorage.getItem("zizq-token");
    // The token rides as a subprotocol: a browser cannot set Authorization here.
    const ws = bearer ? new WebSocket(url, ["zizq", `zizq.bearer.${base64url(bearer)}`]) : new WebSocket(url);
    this.ws = ws;
    ws.onopen = () => {
      this.connected = true;
      // After a reconnect: the windows the page showed.
      for (const list of LIVE_LISTS) if (this.subs[list].limit > 0) this.sendSubscribe(list);
      this.emit("status");
    };
    ws.onmessage = (e) => this.onFrame(String(e.data));
    ws.onclose = () => {
      this.connected = false;
      this.ws = undefined;
      this.emit("status");
      setTimeout(() => this.start(), 2000);
    };
  }

  on(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Show `limit` jobs of `list` from position `offset` (clamped by the server). */
  subscribe(list: ListName, offset: number, limit = 50): void {
    this.subs[list] = { offset: Math.max(0, offset), limit };
    this.sendSubscribe(list);
  }

  subscription(list: ListName): { offset: number; limit: number } {
    return this.subs[list];
  }

  private sendSubscribe(list: ListName): void {
    const sub = this.subs[list];
    if (this.ws?.readyState !== WebSocket.OPEN) return;
    this.ws.send(JSON.stringify({ type: "subscribe", list, anchor: { kind: "offset", offset: sub.offset }, limit: sub.limit }));
  }

  private emit(kind: "status" | "windows" | "change", id?: string): void {
    for (const l of this.listeners) l(kind, id);
  }

  private onFrame(text: string): void {
    let frame: Record<string, unknown>;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    this.server = frame.server as ServerStatus;
    this.emit("status");
    switch (frame.event) {
      case "job_snapshot":
        for (const list of LIVE_LISTS) if (frame[list]) this.windows[list] = frame[list] as JobWindow;
        this.emit("windows");
        this.emit("change");
        return;
      case "job_changed":
        this.applyChange(frame as unknown as { id: string; status: string; job?: AdminJob });
        return;
      case "changed":
        this.emit("change");
        return;
    }
  }

  /** Apply one diff to the windows (removals and additions), then tell the pages. */
  private applyChange(c: { id: string; status: string; job?: AdminJob }): void {
    const removed = c.status.endsWith("_removed") ? (c.status.slice(0, -"_removed".length) as ListName) : undefined;
    if (removed && this.windows[removed]) {
      const w = this.windows[removed];
      w.items = w.items.filter((j) => j.id !== c.id);
    } else if (c.job && (LIVE_LISTS as readonly string[]).includes(c.status)) {
      const w = this.windows[c.status as ListName];
      const at = w.items.findIndex((j) => j.id === c.id);
      if (at >= 0) w.items[at] = c.job;
      else w.items = insertSorted(c.status as ListName, w.items, c.job);
    }
    const s = this.server;
    if (s) {
      this.windows.ready.total = s.total_ready;
      this.windows.in_flight.total = s.total_in_flight;
      this.windows.scheduled.total = s.total_scheduled;
    }
    this.emit("windows");
    this.emit("change", c.id);
  }
}

/** The list orders of API.md §5.1: ready (priority, id), in_flight (dequeued_at, id), scheduled (ready_at, id). */
function insertSorted(list: ListName, items: AdminJob[], job: AdminJob): AdminJob[] {
  const key = (j: AdminJob): [number, string] =>
    list === "ready" ? [j.priority, j.id] : list === "in_flight" ? [j.dequeued_at ?? 0, j.id] : [j.ready_at, j.id];
  const [a, b] = key(job);
  let i = 0;
  while (i < items.length) {
    const [x, y] = key(items[i]);
    if (x > a || (x === a && y > b)) break;
    i++;
  }
  return [...items.slice(0, i), job, ...items.slice(i)];
}

function base64url(text: string): string {
  let binary = "";
  for (const b of new TextEncoder().encode(text)) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
