// The dashboard shell: routes by location hash (#/, #/jobs?…, #/job/<id>, #/crons), the
// header with live totals and the connection state, the theme switch, global keys
// (o overview, l jobs, c crons, t theme, ? help) and the one confirmation dialog.

import { render } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { Ctx } from "./context.ts";
import { Crons } from "./crons.ts";
import { JobDetail } from "./job.ts";
import { Jobs } from "./jobs.ts";
import { Live } from "./live.ts";
import { Overview } from "./overview.ts";
import { token } from "./api.ts";
import { ConfirmDialog, type ConfirmRequest, count, html } from "./ui.ts";

const live = new Live();

function route(hash: string): { page: string; params: URLSearchParams; id?: string } {
  const [path, q] = hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(q ?? "");
  if (path.startsWith("/job/")) return { page: "job", params, id: decodeURIComponent(path.slice(5)) };
  if (path === "/jobs") return { page: "jobs", params };
  if (path === "/crons") return { page: "crons", params };
  return { page: "overview", params };
}

function applyTheme(theme: string | null): void {
  if (theme) document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
}

function App() {
  const [hash, setHash] = useState(location.hash);
  const [dialog, setDialog] = useState<ConfirmRequest | undefined>(undefined);
  const [message, setMessage] = useState<{ text: string; kind: string } | undefined>(undefined);
  const [help, setHelp] = useState(false);
  const [needToken, setNeedToken] = useState(false);
  token.onMissing = () => setNeedToken(true);
  const [, setTick] = useState(0);
  const dialogRef = useRef(false);
  dialogRef.current = dialog !== undefined;
  const ctx = useMemo<Ctx>(() => ({
    live,
    confirm: (req) => setDialog(req),
    notify: (text, kind = "ok") => setMessage({ text, kind }),
    navigate: (h) => { location.hash = h; },
    dialogOpen: () => dialogRef.current,
  }), []);
  useEffect(() => {
    const onHash = () => setHash(location.hash);
    window.addEventListener("hashchange", onHash);
    const off = live.on((kind) => { if (kind === "status") setTick((t) => t + 1); });
    return () => { window.removeEventListener("hashchange", onHash); off(); };
  }, []);
  useEffect(() => {
    if (!message) return;
    const timer = setTimeout(() => setMessage(undefined), 5000);
    return () => clearTimeout(timer);
  }, [message]);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (dialogRef.current || e.ctrlKey || e.metaKey || e.altKey) return;
      const t = e.target as HTMLElement | null;
      if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA")) {
        if (e.key === "Escape") t.blur();
        return;
      }
      const go: Record<string, string> = { o: "#/", l: "#/jobs", c: "#/crons" };
      if (go[e.key]) location.hash = go[e.key];
      else if (e.key === "t") {
        const dark = document.documentElement.dataset.theme === "dark"
          || (!document.documentElement.dataset.theme && matchMedia("(prefers-color-scheme: dark)").matches);
        const next = dark ? "light" : "dark";
        localStorage.setItem("zizq-theme", next);
        applyTheme(next);
      } else if (e.key === "?") setHelp((h) => !h);
      else return;
      e.preventDefault();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  const r = route(hash);
  const s = live.server;
  const nav = (page: string, href: string, label: string, key: string) =>
    html`<a href=${href} class=${r.page === page || (page === "jobs" && r.page === "job") ? "active" : ""}>${label} <kbd>${key}</kbd></a>`;
  return html`
    <header class="top">
      <strong class="brand">Zizq</strong>
      <nav>${nav("overview", "#/", "Overview", "o")} ${nav("jobs", "#/jobs", "Jobs", "l")} ${nav("crons", "#/crons", "Crons", "c")}</nav>
      <span class="spacer"></span>
      <span class="totals muted">${s ? `${count(s.total_in_flight)} in flight · ${count(s.total_ready)} ready · ${count(s.total_scheduled)} scheduled` : ""}</span>
      <span class=${live.connected ? "conn ok" : "conn down"} data-live=${live.connected ? "connected" : "disconnected"}>${live.connected ? "live" : "reconnecting…"}</span>
      <button type="button" class="small" onClick=${() => setHelp((h) => !h)} aria-label="keyboard help">?</button>
    </header>
    ${message ? html`<div class=${`toast ${message.kind}`} role="status" data-toast>${message.text}</div>` : null}
    ${help ? html`<div class="panel help"><h2>Keys</h2><p>o overview · l jobs · c crons · t light/dark · ? this help</p>
      <p>Overview: j/k select a queue · Enter its jobs · p pause/resume. Jobs: 1–6 or Tab lists · j/k · Enter open · d delete · r retry · n/N page · / jq. Job: d · r · Esc. Dialogs: y confirm · n/Esc cancel.</p></div>` : null}
    ${needToken ? html`<form class="panel token" data-token-form onSubmit=${(e: Event) => {
      e.preventDefault();
      const value = String(new FormData(e.target as HTMLFormElement).get("token") ?? "").trim();
      if (value) token.set(value);
      else token.clear();
      location.reload();
    }}>
      <h2>Access token</h2>
      <p>This server checks access tokens (<code>--auth-tokens</code>). Enter an <strong>admin</strong> token; it is kept in this tab only.</p>
      <input type="password" name="token" autocomplete="off" aria-label="access token" autofocus />
      <button type="submit" class="primary">Use token</button>
    </form>` : null}
    <main>
      ${r.page === "overview" ? html`<${Overview} ctx=${ctx} />` : null}
      ${r.page === "jobs" ? html`<${Jobs} ctx=${ctx} params=${r.params} />` : null}
      ${r.page === "job" ? html`<${JobDetail} ctx=${ctx} id=${r.id} key=${r.id} />` : null}
      ${r.page === "crons" ? html`<${Crons} ctx=${ctx} />` : null}
    </main>
    ${dialog ? html`<${ConfirmDialog} req=${dialog} onDone=${(error?: string) => { setDialog(undefined); if (error) setMessage({ text: error, kind: "error" }); }} />` : null}
  `;
}

applyTheme(localStorage.getItem("zizq-theme"));
// Connect before the first render: the handshake overlaps it.
live.start();
render(html`<${App} />`, document.getElementById("app")!);
document.documentElement.dataset.ready = "1";
