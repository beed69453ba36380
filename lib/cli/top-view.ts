// `zizq top`'s pure half: the state built from /events frames (API.md §5.1), the key
// reducer (returning the client frames to send) and render() to plain lines. Kept free
// of sockets and the terminal so tests can drive it directly; top.ts does the I/O.

import type { AdminJob, ListName } from "../queue/admin-view.ts";

export interface ServerStatus {
  version: string;
  uptime_ms: number;
  tier: string;
  total_ready: number;
  total_in_flight: number;
  total_scheduled: number;
}

interface ListState {
  items: AdminJob[];
  first_position: number;
  total: number;
}

export interface TopState {
  connected: boolean;
  server?: ServerStatus;
  tab: ListName;
  lists: Record<ListName, ListState>;
  /** Selected row, an index into the tab's items. */
  selected: Record<ListName, number>;
  detail: boolean;
  mode: "normal" | "search" | "confirm";
  input: string;
  query?: { queues: string[]; types: string[] };
  message?: string;
  /** Paused queue names (admin GET /queues, polled by top.ts; an extension). */
  paused: string[];
  quit: boolean;
}

/**
 * Not a WebSocket frame: top.ts turns it into admin `POST /queues/{queue}/pause|resume`
 * (an extension the /events protocol of API.md §5.1 does not have).
 */
export interface PauseAction {
  type: "pause_queue" | "resume_queue";
  queue: string;
}

export const TABS: readonly ListName[] = ["in_flight", "ready", "scheduled"];
const TITLES: Record<ListName, string> = { in_flight: "In-Flight", ready: "Ready", scheduled: "Scheduled" };
export const WINDOW = 200;

const emptyList = (): ListState => ({ items: [], first_position: 0, total: 0 });

export function initialState(): TopState {
  return {
    connected: false, tab: "in_flight", lists: { ready: emptyList(), in_flight: emptyList(), scheduled: emptyList() },
    selected: { ready: 0, in_flight: 0, scheduled: 0 }, detail: false, mode: "normal", input: "", paused: [], quit: false,
  };
}

const orderKey: Record<ListName, (j: AdminJob) => number> = {
  ready: (j) => j.priority, in_flight: (j) => j.dequeued_at ?? 0, scheduled: (j) => j.ready_at,
};
// Ids are fixed-width base32, so string order is id order.
const byListOrder = (list: ListName) => (a: AdminJob, b: AdminJob) =>
  orderKey[list](a) - orderKey[list](b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Fold one server frame into the state (a new object; lists are replaced, not mutated). */
export function applyFrame(state: TopState, frame: Record<string, any>): TopState {
  const next: TopState = { ...state, lists: { ...state.lists }, selected: { ...state.selected } };
  if (frame.server) next.server = frame.server as ServerStatus;
  if (frame.event === "job_snapshot") {
    for (const list of TABS) if (frame[list]) next.lists[list] = frame[list] as ListState;
  } else if (frame.event === "job_changed") {
    const status = String(frame.status);
    const list = status.replace(/_removed$/, "") as ListName;
    if (!TABS.includes(list)) return next;
    const cur = next.lists[list];
    const items = cur.items.filter((j) => j.id !== frame.id);
    if (!status.endsWith("_removed") && frame.job) items.push(frame.job as AdminJob);
    items.sort(byListOrder(list));
    next.lists[list] = { ...cur, items };
  } else if (frame.event === "find_result") {
    const list = frame.list as ListName;
    if (frame.matched_position === null || !TABS.includes(list)) {
      next.message = "no match";
    } else {
      next.lists[list] = frame.window as ListState;
      next.selected[list] = frame.matched_position - frame.window.first_position;
      next.message = undefined;
    }
  }
  for (const list of TABS) next.selected[list] = clamp(next.selected[list], next.lists[list].items.length);
  return next;
}

/** Fold the admin `GET /queues` answer in: which queues are paused. */
export function applyQueues(state: TopState, queues: { name: string; paused: boolean }[]): TopState {
  return { ...state, paused: queues.filter((q) => q.paused).map((q) => q.name) };
}

const clamp = (i: number, n: number) => Math.max(0, Math.min(i, n - 1));

export function selectedJob(state: TopState): AdminJob | undefined {
  return state.lists[state.tab].items[state.selected[state.tab]];
}

/** `queue:x`/`q:x` and `type:x`/`t:x` tokens; a bare word matches the job type. */
export function parseQuery(text: string): { queues: string[]; types: string[] } {
  const queues: string[] = [];
  const types: string[] = [];
  for (const token of text.split(/\s+/).filter(Boolean)) {
    const m = /^(queue|q|type|t):(.*)$/.exec(token);
    if (m && (m[1] === "queue" || m[1] === "q")) queues.push(m[2]);
    else types.push(m ? m[2] : token);
  }
  return { queues, types };
}

/** One key press: the new state and the client frames to send. */
export function handleKey(state: TopState, key: string): { state: TopState; send: Record<string, unknown>[] } {
  const s: TopState = { ...state, selected: { ...state.selected }, message: undefined };
  const send: Record<string, unknown>[] = [];
  if (key === "\x03") return { state: { ...s, quit: true }, send };
  if (s.mode === "search") {
    if (key === "\r" || key === "\n") {
      s.mode = "normal";
      s.query = parseQuery(s.input);
      send.push(findFrame(s, "forward", { kind: "start" }));
    } else if (key === "\x1b") s.mode = "normal";
    else if (key === "\x7f" || key === "\b") s.input = s.input.slice(0, -1);
    else if (key.length === 1 && key >= " ") s.input += key;
    return { state: s, send };
  }
  if (s.mode === "confirm") {
    const job = selectedJob(s);
    s.mode = "normal";
    if (key === "y" && job) {
      send.push({ type: "delete_job", id: job.id });
      s.message = `deleted ${job.id}`;
    }
    return { state: s, send };
  }
  const list = s.lists[s.tab];
  const move = (delta: number) => {
    const want = s.selected[s.tab] + delta;
    s.selected[s.tab] = clamp(want, list.items.length);
    // Past the edge of the window: ask for the neighbouring one, half a window along.
    const end = list.first_position + list.items.length;
    if (want >= list.items.length && end < list.total) {
      send.push({ type: "subscribe", list: s.tab, anchor: { kind: "offset", offset: list.first_position + WINDOW / 2 }, limit: WINDOW });
      s.selected[s.tab] = Math.max(0, s.selected[s.tab] - WINDOW / 2 + 1);
    } else if (want < 0 && list.first_position > 0) {
      const offset = Math.max(0, list.first_position - WINDOW / 2);
      send.push({ type: "subscribe", list: s.tab, anchor: { kind: "offset", offset }, limit: WINDOW });
      s.selected[s.tab] = list.first_position - offset - 1;
    }
  };
  switch (key) {
    case "q":
      s.quit = true;
      break;
    case "\t":
      s.tab = TABS[(TABS.indexOf(s.tab) + 1) % TABS.length];
      break;
    case "1": case "2": case "3":
      s.tab = TABS[Number(key) - 1];
      break;
    case "j": case "\x1b[B":
      move(1);
      break;
    case "k": case "\x1b[A":
      move(-1);
      break;
    case "i":
      s.detail = !s.detail;
      send.push({ type: "set_detail_level", detail: s.detail });
      break;
    case "/":
      s.mode = "search";
      s.input = "";
      break;
    case "n": case "N": {
      const job = selectedJob(s);
      if (!s.query) s.message = "no search yet (press /)";
      else send.push(findFrame(s, key === "n" ? "forward" : "backward", job ? { kind: "job_id", id: job.id } : { kind: key === "n" ? "start" : "end" }));
      break;
    }
    case "d":
      if (selectedJob(s)) s.mode = "confirm";
      break;
    case "p": {
      // Pause or resume the selected job's queue (top.ts sends it over HTTP).
      const job = selectedJob(s);
      if (!job) {
        s.message = "select a job to pause or resume its queue";
        break;
      }
      const paused = s.paused.includes(job.queue);
      send.push({ type: paused ? "resume_queue" : "pause_queue", queue: job.queue } satisfies PauseAction);
      s.paused = paused ? s.paused.filter((q) => q !== job.queue) : [...s.paused, job.queue].sort();
      s.message = `${paused ? "resumed" : "paused"} queue ${job.queue}`;
      break;
    }
  }
  return { state: s, send };
}

function findFrame(s: TopState, direction: string, anchor: Record<string, unknown>): Record<string, unknown> {
  return { type: "find", list: s.tab, anchor, direction, query: s.query, limit: WINDOW };
}

/** "in 5s", "3m ago": the largest unit or two. */
export function relative(atMs: number, nowMs: number): string {
  const d = Math.round((atMs - nowMs) / 1000);
  const text = duration(Math.abs(d) * 1000);
  return d > 0 ? `in ${text}` : d === 0 ? "now" : `${text} ago`;
}

export function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  const units: [number, string][] = [[86400, "d"], [3600, "h"], [60, "m"], [1, "s"]];
  const parts: string[] = [];
  let rest = s;
  for (const [size, u] of units) {
    if (rest >= size || (u === "s" && parts.length === 0)) {
      parts.push(`${Math.floor(rest / size)}${u}`);
      rest %= size;
    }
    if (parts.length === 2) break;
  }
  return parts.join("");
}

const pad = (text: string, width: number) => (text.length > width ? `${text.slice(0, width - 1)}…` : text.padEnd(width));

/** The screen as `height` lines of at most `width` columns (ANSI only for the selection). */
export function render(state: TopState, width: number, height: number, nowMs: number): string[] {
  const lines: string[] = [];
  const sv = state.server;
  lines.push(sv
    ? `Zizq ${sv.version} (${sv.tier})  up ${duration(sv.uptime_ms)}  ready ${sv.total_ready}  in-flight ${sv.total_in_flight}  scheduled ${sv.total_scheduled}${state.paused.length ? `  paused: ${state.paused.join(", ")}` : ""}${state.connected ? "" : "  [reconnecting…]"}`
    : state.connected ? "Zizq: waiting for the server…" : "Zizq: connecting…");
  const totals: Record<ListName, number> = { in_flight: sv?.total_in_flight ?? 0, ready: sv?.total_ready ?? 0, scheduled: sv?.total_scheduled ?? 0 };
  lines.push(TABS.map((t, i) => (t === state.tab ? `\x1b[7m ${i + 1} ${TITLES[t]} (${totals[t]}) \x1b[0m` : ` ${i + 1} ${TITLES[t]} (${totals[t]}) `)).join(" "));
  const timeHeader = state.tab === "in_flight" ? "DEQUEUED" : "READY AT";
  lines.push(`${pad("ID", 27)}${pad("QUEUE", 16)}${pad("TYPE", 20)}${pad("PRI", 7)}${pad(timeHeader, 12)}ATTEMPTS`);
  const job = selectedJob(state);
  const panel = state.detail && job ? detailLines(job, nowMs) : [];
  const rows = Math.max(1, height - lines.length - panel.length - 1);
  const list = state.lists[state.tab];
  const sel = state.selected[state.tab];
  const top = Math.max(0, Math.min(sel - Math.floor(rows / 2), list.items.length - rows));
  for (let i = top; i < Math.min(list.items.length, top + rows); i++) {
    const j = list.items[i];
    const at = state.tab === "in_flight" ? j.dequeued_at ?? j.ready_at : j.ready_at;
    const queueName = state.paused.includes(j.queue) ? `${j.queue} ⏸` : j.queue;
    const row = `${pad(j.id, 27)}${pad(queueName, 16)}${pad(j.job_type, 20)}${pad(String(j.priority), 7)}${pad(relative(at, nowMs), 12)}${j.attempts}`;
    lines.push(i === sel ? `\x1b[7m${row.slice(0, width)}\x1b[0m` : row.slice(0, width));
  }
  while (lines.length < height - panel.length - 1) lines.push("");
  lines.push(...panel);
  lines.push(footer(state, list));
  return lines.slice(0, height).map((l) => (l.includes("\x1b") ? l : l.slice(0, width)));
}

function detailLines(job: AdminJob, nowMs: number): string[] {
  const out = ["── detail ──", `id ${job.id}  queue ${job.queue}  type ${job.job_type}  priority ${job.priority}  attempts ${job.attempts}`];
  if (job.failed_at !== undefined) out.push(`failed ${relative(job.failed_at, nowMs)}`);
  const extra: Record<string, unknown> = {};
  for (const k of ["retry_limit", "backoff", "retention", "unique_key", "unique_while"] as const) if (job[k] !== undefined) extra[k] = job[k];
  if (Object.keys(extra).length > 0) out.push(JSON.stringify(extra));
  if ("payload" in job) out.push(`payload ${JSON.stringify(job.payload)}`);
  return out;
}

function footer(state: TopState, list: ListState): string {
  if (state.mode === "search") return `/${state.input}  (queue:x type:x or a type; Enter search, Esc cancel)`;
  if (state.mode === "confirm") return `delete ${selectedJob(state)?.id}? y to confirm, any other key cancels`;
  const where = list.items.length ? `${list.first_position + state.selected[state.tab] + 1}/${list.total}` : "0/0";
  return `${where}  ${state.message ?? "Tab/1-3 lists  j/k move  i detail  / search  n/N next/prev  d delete  p pause/resume queue  q quit"}`;
}
