// `zizq top` without a terminal: render() over folded /events frames, and the key
// handling as a pure reducer (state in, state and client frames out).

import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { it } from "node:test";
import { splitKeys } from "../../lib/cli/top.ts";
import { runCli } from "./_run-cli.ts";
import { type TopState, applyFrame, applyQueues, handleKey, initialState, parseQuery, relative, render } from "../../lib/cli/top-view.ts";

const server = { version: "0.6.1", uptime_ms: 3_723_000, tier: "pro", total_ready: 2, total_in_flight: 1, total_scheduled: 0 };
const job = (id: string, extra: Record<string, unknown> = {}) =>
  ({ id, queue: "emails", job_type: "welcome", priority: 10, ready_at: 1_000, attempts: 0, ...extra });
const A = "0000000000000000000000000A";
const B = "0000000000000000000000000B";
const C = "0000000000000000000000000C";

function loaded(): TopState {
  return applyFrame({ ...initialState(), connected: true }, {
    server, event: "job_snapshot",
    ready: { items: [job(A), job(B, { priority: 20 })], first_position: 0, total: 2 },
    in_flight: { items: [job(C, { dequeued_at: 500 })], first_position: 0, total: 1 },
    scheduled: { items: [], first_position: 0, total: 0 },
  });
}

const keys = (state: TopState, ...pressed: string[]) => {
  const sent: Record<string, unknown>[] = [];
  for (const k of pressed) {
    const r = handleKey(state, k);
    state = r.state;
    sent.push(...r.send);
  }
  return { state, sent };
};

it("renders a snapshot: header counts and uptime, tabs, rows with ids and relative times", () => {
  const state = keys(loaded(), "2").state;
  const lines = render(state, 120, 20, 61_000);
  assert.equal(lines.length, 20);
  assert.match(lines[0], /Zizq 0\.6\.1 \(pro\)\s+up 1h2m\s+ready 2\s+in-flight 1\s+scheduled 0/);
  assert.match(lines[1], /Ready \(2\)/);
  const text = lines.join("\n");
  assert.ok(text.includes(A) && text.includes(B));
  assert.ok(!text.includes(C));
  assert.match(text, /1m ago/);
  assert.match(render(loaded(), 120, 20, 61_000).join("\n"), new RegExp(C));
});

it("applies job_changed diffs and keeps the list order", () => {
  let s = keys(loaded(), "2").state;
  s = applyFrame(s, { server, event: "job_changed", id: A, status: "ready_removed" });
  s = applyFrame(s, { server, event: "job_changed", id: C, status: "ready", job: job(C, { priority: 1 }) });
  assert.deepEqual(s.lists.ready.items.map((j) => j.id), [C, B]);
});

it("keys: tabs, movement, detail, delete with confirmation, quit", () => {
  let { state, sent } = keys(loaded(), "\t", "\t");
  assert.equal(state.tab, "scheduled");
  ({ state } = keys(state, "2", "j", "j"));
  assert.deepEqual([state.tab, state.selected.ready], ["ready", 1]);
  ({ state } = keys(state, "\x1b[A"));
  assert.equal(state.selected.ready, 0);
  ({ state, sent } = keys(state, "i"));
  assert.deepEqual(sent, [{ type: "set_detail_level", detail: true }]);
  ({ state, sent } = keys(state, "d", "n"));
  assert.deepEqual(sent, []);
  ({ state, sent } = keys(state, "d", "y"));
  assert.deepEqual(sent, [{ type: "delete_job", id: A }]);
  assert.equal(keys(state, "q").state.quit, true);
  assert.equal(keys(state, "\x03").state.quit, true);
});

it("search: / builds a find from the start, n/N walk from the selection, a result selects the match", () => {
  let { state, sent } = keys(loaded(), "2", "/", "q", ":", "m", "a", "i", "l", " ", "w", "e", "l", "\r");
  assert.deepEqual(sent, [{
    type: "find", list: "ready", anchor: { kind: "start" }, direction: "forward",
    query: { queues: ["mail"], types: ["wel"] }, limit: 200,
  }]);
  ({ sent } = keys(state, "N"));
  assert.deepEqual(sent[0].anchor, { kind: "job_id", id: A });
  assert.equal(sent[0].direction, "backward");
  state = applyFrame(state, {
    server, event: "find_result", list: "ready", matched_position: 1,
    window: { items: [job(A), job(B)], first_position: 0, total: 2 },
  });
  assert.equal(state.selected.ready, 1);
  state = applyFrame(state, { server, event: "find_result", list: "ready", matched_position: null, window: { items: [], first_position: 0, total: 2 } });
  assert.equal(state.message, "no match");
  assert.deepEqual(parseQuery("digest"), { queues: [], types: ["digest"] });
});

it("helpers: relative times and key splitting", () => {
  assert.equal(relative(10_000, 0), "in 10s");
  assert.equal(relative(0, 90_000), "1m30s ago");
  assert.deepEqual(splitKeys("j\x1b[Bq"), ["j", "\x1b[B", "q"]);
});

it("paused queues: shown in the header and on rows; p pauses or resumes the selected job's queue", () => {
  let state = applyQueues(keys(loaded(), "2").state, [{ name: "emails", paused: true }, { name: "other", paused: false }]);
  assert.deepEqual(state.paused, ["emails"]);
  let text = render(state, 160, 20, 61_000).join("\n");
  assert.match(text, /paused: emails/);
  assert.match(text, /emails ⏸/);
  let sent;
  ({ state, sent } = keys(state, "p"));
  assert.deepEqual(sent, [{ type: "resume_queue", queue: "emails" }]);
  assert.deepEqual(state.paused, []);
  assert.equal(state.message, "resumed queue emails");
  ({ state, sent } = keys(state, "p"));
  assert.deepEqual(sent, [{ type: "pause_queue", queue: "emails" }]);
  text = render(state, 160, 20, 61_000).join("\n");
  assert.match(text, /paused: emails/);
  // Nothing selected: nothing sent.
  ({ sent } = keys(applyQueues(initialState(), []), "p"));
  assert.deepEqual(sent, []);
});

it("the detail panel shows a job's budgets (key ×cost)", () => {
  const state = applyFrame({ ...initialState(), connected: true, detail: true }, {
    server, event: "job_snapshot",
    ready: { items: [job(A, { budgets: [{ key: "mail", cost: 1 }, { key: "reports", cost: 3 }] })], first_position: 0, total: 1 },
    in_flight: { items: [], first_position: 0, total: 0 },
    scheduled: { items: [], first_position: 0, total: 0 },
  });
  assert.match(render(keys(state, "2").state, 120, 20, 0).join("\n"), /budgets mail ×1, reports ×3/);
});

it("a first connection that fails ends top with the reason and exit 1 (no server; a port some other program answers)", async () => {
  const closed = http.createServer();
  await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
  const free = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  const none = await runCli(["top", "--url", `http://127.0.0.1:${free}`], {}, { timeoutMs: 30_000 });
  assert.equal(none.code, 1, none.stderr);
  assert.match(none.stderr, new RegExp(`zizq: cannot reach ws://127\\.0\\.0\\.1:${free}/events: connect ECONNREFUSED`));

  const other = http.createServer((_req, res) => res.writeHead(404).end("no"));
  await new Promise<void>((resolve) => other.listen(0, "127.0.0.1", resolve));
  try {
    const url = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
    const r = await runCli(["top", "--url", url], {}, { timeoutMs: 30_000 });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /HTTP 404 instead of a WebSocket \(is .* a zizq admin listener\?\)/);
  } finally {
    other.closeAllConnections();
    await new Promise((resolve) => other.close(resolve));
  }
});
