// `zizq top`: a terminal UI over the admin WebSocket `<url>/events` (API.md §5.1, §6.2).
// The I/O half: socket (reconnecting every 2 s), raw-mode keys, and a throttled redraw
// with plain ANSI escapes on the alternate screen, and paused queues polled from the admin
// listener's GET /queues (key `p` pauses/resumes). State and drawing live in top-view.ts.

import { readFile } from "node:fs/promises";
import WebSocket from "ws";
import { adminJson } from "./_admin-request.ts";
import type { TopConfig } from "./config.ts";
import { type PauseAction, type TopState, applyFrame, applyQueues, handleKey, initialState, render } from "./top-view.ts";

const RECONNECT_MS = 2000;

/** Split one stdin chunk into keys: arrow keys arrive as 3-byte escape sequences. */
export function splitKeys(chunk: string): string[] {
  const keys: string[] = [];
  for (let i = 0; i < chunk.length;) {
    const n = chunk.startsWith("\x1b[", i) && i + 2 < chunk.length ? 3 : 1;
    keys.push(chunk.slice(i, i + n));
    i += n;
  }
  return keys;
}

export async function runTop(config: TopConfig): Promise<number> {
  const tls = config.url.startsWith("https:") ? {
    ca: config.caCertPath ? await readFile(config.caCertPath) : undefined,
    cert: config.clientCertPath ? await readFile(config.clientCertPath) : undefined,
    key: config.clientKeyPath ? await readFile(config.clientKeyPath) : undefined,
  } : {};
  const url = `${config.url.replace(/^http/, "ws")}/events`;
  const out = process.stdout;
  const stdin = process.stdin;
  let state: TopState = initialState();
  let ws: WebSocket | undefined;
  let reconnect: NodeJS.Timeout | undefined;
  let drawTimer: NodeJS.Timeout | undefined;
  let lastDraw = 0;

  const draw = () => {
    lastDraw = Date.now();
    const lines = render(state, out.columns || 100, out.rows || 30, Date.now());
    out.write(`\x1b[H${lines.map((l) => `${l}\x1b[K`).join("\r\n")}\x1b[J`);
  };
  // At most one redraw per --refresh-rate: a busy queue sends many diffs a second.
  const scheduleDraw = (now = false) => {
    if (now) {
      if (drawTimer) clearTimeout(drawTimer);
      drawTimer = undefined;
      draw();
      return;
    }
    if (drawTimer) return;
    drawTimer = setTimeout(() => {
      drawTimer = undefined;
      draw();
    }, Math.max(0, config.refreshRateMs - (Date.now() - lastDraw)));
  };

  let finish: (code: number) => void = () => {};
  let fail: (error: Error) => void = () => {};
  const done = new Promise<number>((resolve, reject) => { finish = resolve; fail = reject; });
  // Until a first connection opens, a failure ends `top` with the reason: a wrong URL, a
  // server that is not running or a port some other program answers used to show
  // "connecting…" forever. After one, a drop reconnects every 2 s (the server restarts).
  let everOpen = false;
  let lastProblem = "";

  const connect = () => {
    reconnect = undefined;
    lastProblem = "";
    const socket = new WebSocket(url, { ...tls, ...(config.token === undefined ? {} : { headers: { authorization: `Bearer ${config.token}` } }) });
    ws = socket;
    socket.on("open", () => {
      everOpen = true;
      state = { ...state, connected: true };
      // A new connection starts with detail off (§5.1); keep what the user chose.
      if (state.detail) socket.send(JSON.stringify({ type: "set_detail_level", detail: true }));
      scheduleDraw(true);
    });
    socket.on("message", (data) => {
      try {
        state = applyFrame(state, JSON.parse(data.toString()));
      } catch {
        return;
      }
      scheduleDraw();
    });
    socket.on("error", (error) => { lastProblem ||= error.message; }); // the first reason, not terminate()'s
    socket.on("unexpected-response", (_request, response) => {
      lastProblem = `HTTP ${response.statusCode} instead of a WebSocket (is ${config.url} a zizq admin listener?)`;
      response.resume();
      socket.terminate();
    });
    socket.on("close", () => {
      if (ws !== socket || state.quit) return;
      if (!everOpen) {
        quit(new Error(`cannot reach ${url}: ${lastProblem || "the connection closed"}`));
        return;
      }
      state = { ...state, connected: false };
      scheduleDraw(true);
      reconnect = setTimeout(connect, RECONNECT_MS);
    });
  };

  // Paused queues are not in the /events protocol: poll the admin listener's GET /queues.
  let pollTimer: NodeJS.Timeout | undefined;
  const pollQueues = async () => {
    try {
      const body = (await adminJson(config, "GET", "/queues")) as { queues: { name: string; paused: boolean }[] };
      state = applyQueues(state, body.queues);
      scheduleDraw();
    } catch {
      // An older server without the extension, or one that is restarting: show none.
    }
  };
  const setPaused = async (action: PauseAction) => {
    try {
      await adminJson(config, "POST", `/queues/${encodeURIComponent(action.queue)}/${action.type === "pause_queue" ? "pause" : "resume"}`);
    } catch (err) {
      state = { ...state, message: (err as Error).message };
    }
    await pollQueues();
  };
  const startPolling = () => {
    void pollQueues();
    pollTimer = setInterval(() => void pollQueues(), RECONNECT_MS);
    pollTimer.unref();
  };

  const restore = () => {
    if (stdin.isTTY) stdin.setRawMode(false);
    out.write("\x1b[?25h\x1b[?1049l");
  };
  /** Ends `top`: with an error (a first connection that failed) or, from a key or signal, code 0. */
  const quit = (error?: unknown) => {
    state = { ...state, quit: true };
    if (reconnect) clearTimeout(reconnect);
    if (drawTimer) clearTimeout(drawTimer);
    if (pollTimer) clearInterval(pollTimer);
    ws?.close();
    stdin.off("data", onData);
    stdin.pause();
    process.off("SIGTERM", quit);
    process.off("SIGINT", quit);
    process.off("exit", restore);
    out.off("resize", onResize);
    restore();
    if (error instanceof Error) fail(error);
    else finish(0);
  };
  const onData = (chunk: Buffer) => {
    for (const key of splitKeys(chunk.toString("utf8"))) {
      const result = handleKey(state, key);
      state = result.state;
      for (const frame of result.send) {
        if (frame.type === "pause_queue" || frame.type === "resume_queue") void setPaused(frame as unknown as PauseAction);
        else if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
      }
      if (state.quit) return quit();
    }
    scheduleDraw(true);
  };
  const onResize = () => scheduleDraw(true);

  out.write("\x1b[?1049h\x1b[?25l");
  // Whatever ends the process, the terminal comes back usable.
  process.on("exit", restore);
  process.on("SIGTERM", quit);
  // A SIGINT from outside (kill -INT; Ctrl-C in raw mode is a key) left the screen alternate.
  process.on("SIGINT", quit);
  if (stdin.isTTY) stdin.setRawMode(true);
  stdin.on("data", onData);
  stdin.resume();
  out.on("resize", onResize);
  connect();
  startPolling();
  scheduleDraw(true);
  return done;
}
